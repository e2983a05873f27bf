// Per-token int8 activation quantization on the model's hot path. It computes exactly what
// bitlin::absmax_quantize_row (quant/activation.hpp, the oracle) computes -- s = 127 / max(max|x|,
// 1e-5), q = clamp(round_half_even(x * s), -128, 127) -- with AVX-512 where the CPU has it: the
// same float max, the same float product and a round-to-nearest-even instruction give the same
// bits. It exists because the scalar form costs as much as the ternary GEMMs themselves in a
// 512-token prefill. Non-finite input falls back to the oracle, which reports it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "bitlin/core/types.hpp"
#include "bitlin/quant/activation.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define BITLIN_ACTQ_X86 1
#include <immintrin.h>
#else
#define BITLIN_ACTQ_X86 0
#endif

namespace bitlin::model {

namespace detail {
#if BITLIN_ACTQ_X86
// Returns false (writing nothing) when x holds NaN or Inf.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline bool absmax_i8_row_avx512(
    const float* x, index_t k, std::int8_t* q, float* scale) {
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
  for (index_t i = 0; i < k; i += 16) {
    const auto msk = static_cast<__mmask16>(k - i >= 16 ? 0xFFFFu : (1u << (k - i)) - 1u);
    const __m512 v = _mm512_maskz_mul_ps(all, _mm512_maskz_loadu_ps(msk, x + i), vs);
    __m512 r = _mm512_maskz_roundscale_ps(all, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, r, lo), hi);
    const __m128i b = _mm512_maskz_cvtepi32_epi8(all, _mm512_maskz_cvtps_epi32(all, r));
    _mm_mask_storeu_epi8(q + i, msk, b);
  }
  *scale = s;
  return true;
}

inline bool actq_avx512_supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl");
  return ok;
}
#endif
}  // namespace detail

// One token: q[0..k) and the returned scale s, bit-identical to absmax_quantize_row(x, k, q, 8).
// `vectorized` false forces the oracle (for tests).
inline float absmax_i8_row(const float* x, index_t k, std::int8_t* q, bool vectorized = true) {
#if BITLIN_ACTQ_X86
  float s = 0.0f;
  if (vectorized && detail::actq_avx512_supported() && detail::absmax_i8_row_avx512(x, k, q, &s))
    return s;
#endif
  (void)vectorized;
  return absmax_quantize_row(x, k, q, 8);
}

}  // namespace bitlin::model
