// AVX-512 activation quantizer, bit-identical to absmax_quantize_row(x, k, q, 8): the same float
// max (max is exact and order-free on the non-negative |x|), the same float product x * s and a
// round-to-nearest-even instruction give the same codes. Tails use masked loads and stores.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/act_quant/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/core/absmax.hpp"

namespace bitlin {
namespace kernels {

// The masked (maskz) forms with a full mask avoid GCC 12's false -Wuninitialized on the unmasked
// intrinsics' undefined operand.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline bool act_quant_avx512(
    const float* x, index_t k, std::int8_t* q, float* scale, std::int32_t* sum) {
  const auto all = static_cast<__mmask16>(0xFFFF);
  const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  __m512 mx = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (index_t i = 0; i < k; i += 16) {
    const auto m = static_cast<__mmask16>(k - i >= 16 ? 0xFFFFu : (1u << (k - i)) - 1u);
    const __m512 a = _mm512_castsi512_ps(_mm512_maskz_and_epi32(
        all, _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + i)), abs_bits));
    bad = static_cast<__mmask16>(bad | _mm512_mask_cmp_ps_mask(m, a, inf, _CMP_NLT_UQ));
    mx = _mm512_maskz_max_ps(all, mx, a);
  }
  if (bad) return false;
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, mx);
  float m = 0.0f;
  for (float v : lanes) m = std::max(m, v);
  const float s = 127.0f / std::max(m, activation_min_absmax);
  const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  __m512i acc = _mm512_setzero_si512();  // masked-off lanes load 0.0f and add code 0
  for (index_t i = 0; i < k; i += 16) {
    const auto msk = static_cast<__mmask16>(k - i >= 16 ? 0xFFFFu : (1u << (k - i)) - 1u);
    const __m512 v = _mm512_maskz_mul_ps(all, _mm512_maskz_loadu_ps(msk, x + i), vs);
    __m512 r = _mm512_maskz_roundscale_ps(all, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, r, lo), hi);
    const __m512i c = _mm512_maskz_cvtps_epi32(all, r);
    acc = _mm512_maskz_add_epi32(all, acc, c);
    _mm_mask_storeu_epi8(q + i, msk, _mm512_maskz_cvtepi32_epi8(all, c));
  }
  alignas(64) std::int32_t sums[16];
  _mm512_store_si512(sums, acc);
  std::int32_t total = 0;
  for (std::int32_t v : sums) total += v;
  *scale = s;
  *sum = total;
  return true;
}

inline kernel_entry<act_quant_fn> act_quant_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&act_quant_avx512);
}

}  // namespace kernels
}  // namespace bitlin
