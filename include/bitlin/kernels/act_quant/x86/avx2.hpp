// AVX2 activation quantizer, bit-identical to absmax_quantize_row(x, k, q, 8) for the same reasons
// as the AVX-512 one: the float max over |x| is exact in any order, x * s is the same product and
// vroundps with _MM_FROUND_TO_NEAREST_INT rounds half to even as round_half_even does. Codes are
// made 32 at a time (four vectors packed to bytes); the last partial group is loaded with masks
// into a zero-filled group and only its k % 32 bytes are stored.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/act_quant/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/x86/lanes.hpp"
#include "bitlin/core/absmax.hpp"

#define BITLIN_TARGET_ACTQ_AVX2 __attribute__((target("avx2,fma")))

namespace bitlin {
namespace kernels {
namespace act_quant_avx2_detail {

BITLIN_TARGET_ACTQ_AVX2 inline __m256i code(__m256 x, __m256 s, __m256 lo, __m256 hi) {
  __m256 r = _mm256_round_ps(_mm256_mul_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  return _mm256_cvtps_epi32(r);
}

// 32 codes from x[0..32) (masked to the first n), as bytes in order; their int32 sum added to acc.
BITLIN_TARGET_ACTQ_AVX2 inline __m256i codes32(const float* x, index_t n, __m256 s, __m256 lo,
                                               __m256 hi, __m256i& acc) {
  __m256 v[4];
  if (n >= 32) {
    for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(x + 8 * j);
  } else {
    for (int j = 0; j < 4; ++j)
      v[j] =
          n > 8 * j ? _mm256_maskload_ps(x + 8 * j, lanes_below8(n - 8 * j)) : _mm256_setzero_ps();
  }
  const __m256i c0 = code(v[0], s, lo, hi), c1 = code(v[1], s, lo, hi);
  const __m256i c2 = code(v[2], s, lo, hi), c3 = code(v[3], s, lo, hi);
  acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)));
  // Packing works per 128-bit lane: the dwords come out as c0[0:4] c1[0:4] c2[0:4] c3[0:4]
  // c0[4:8] c1[4:8] c2[4:8] c3[4:8]; the permutation restores c0 c1 c2 c3. No saturation occurs:
  // the codes are already in [-128, 127].
  const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace act_quant_avx2_detail

BITLIN_TARGET_ACTQ_AVX2 inline bool act_quant_avx2(const float* x, index_t k, std::int8_t* q,
                                                   float* scale, std::int32_t* sum) {
  namespace d = act_quant_avx2_detail;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_set1_ps(__builtin_inff());
  __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  index_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));  // NaN (unordered) or Inf
    mx = _mm256_max_ps(mx, a);
  }
  if (i < k) {  // masked-off lanes load +0.0, which neither raises the max nor counts as bad
    const __m256 a = _mm256_and_ps(_mm256_maskload_ps(x + i, lanes_below8(k - i)), abs_mask);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));
    mx = _mm256_max_ps(mx, a);
  }
  if (_mm256_movemask_ps(bad) != 0) return false;
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mx);
  float m = 0.0f;
  for (float v : lanes) m = std::max(m, v);
  const float s = 127.0f / std::max(m, activation_min_absmax);
  const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  __m256i acc = _mm256_setzero_si256();
  i = 0;
  for (; i + 32 <= k; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), d::codes32(x + i, 32, vs, lo, hi, acc));
  if (i < k) {
    alignas(32) std::int8_t last[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(last), d::codes32(x + i, k - i, vs, lo, hi, acc));
    std::memcpy(q + i, last, static_cast<std::size_t>(k - i));
  }
  alignas(32) std::int32_t sums[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(sums), acc);
  std::int32_t total = 0;
  for (std::int32_t v : sums) total += v;
  *scale = s;
  *sum = total;
  return true;
}

inline kernel_entry<act_quant_fn> act_quant_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&act_quant_avx2);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_ACTQ_AVX2
