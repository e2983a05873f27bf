// AVX2 row ops (kernels/rowops/scalar.hpp defines them): the sixteen partial sums of squares are
// four registers of four doubles (partials 0-3, 4-7, 8-11, 12-15), folded in the defined order;
// tails load with masks (missing lanes read +0.0, whose square adds nothing) and store with masks.
// No fused multiply-add is enabled: the scaling and relu^2 * up are plain products, as defined.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/x86/lanes.hpp"
#include "bitlin/kernels/rowops/scalar.hpp"

#define BITLIN_ROWOPS_AVX2 __attribute__((target("avx2")))

namespace bitlin {
namespace kernels {
namespace rowops_avx2 {

BITLIN_ROWOPS_AVX2 inline void add_squares(__m256 v, __m256d& lo, __m256d& hi) {
  const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  const __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
  hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
}

BITLIN_ROWOPS_AVX2 inline double sum_squares(const float* x, index_t k) {
  __m256d p0 = _mm256_setzero_pd(), p4 = _mm256_setzero_pd(), p8 = _mm256_setzero_pd(),
          p12 = _mm256_setzero_pd();
  index_t i = 0;
  for (; i + 16 <= k; i += 16) {
    add_squares(_mm256_loadu_ps(x + i), p0, p4);
    add_squares(_mm256_loadu_ps(x + i + 8), p8, p12);
  }
  if (i < k) {
    add_squares(_mm256_maskload_ps(x + i, lanes_below8(k - i)), p0, p4);
    add_squares(_mm256_maskload_ps(x + i + 8, lanes_below8(k - i - 8)), p8, p12);
  }
  const __m256d q0 = _mm256_add_pd(p0, p8), q4 = _mm256_add_pd(p4, p12);  // q0..q3, q4..q7
  const __m256d t = _mm256_add_pd(q0, q4);  // q0+q4, q1+q5, q2+q6, q3+q7
  const __m128d u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
  return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));
}

BITLIN_ROWOPS_AVX2 inline void rms_scale(const float* x, index_t k, float inv, const float* weight,
                                         float* y) {
  const __m256 s = _mm256_set1_ps(inv);
  index_t i = 0;
  if (weight) {
    for (; i + 8 <= k; i += 8)
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(weight + i),
                                            _mm256_mul_ps(_mm256_loadu_ps(x + i), s)));
  } else {
    for (; i + 8 <= k; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), s));
  }
  if (i < k) {
    const __m256i m = lanes_below8(k - i);
    __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), s);
    if (weight) v = _mm256_mul_ps(_mm256_maskload_ps(weight + i, m), v);
    _mm256_maskstore_ps(y + i, m, v);
  }
}

BITLIN_ROWOPS_AVX2 inline __m256 relu2_mul8(__m256 g, __m256 u) {
  const __m256 r = _mm256_and_ps(g, _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_GT_OQ));
  return _mm256_mul_ps(_mm256_mul_ps(r, r), u);
}

BITLIN_ROWOPS_AVX2 inline void relu2_mul(const float* g, const float* u, index_t n, float* a) {
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(a + i, relu2_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  if (i < n) {
    const __m256i m = lanes_below8(n - i);
    _mm256_maskstore_ps(a + i, m,
                        relu2_mul8(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(u + i, m)));
  }
}

}  // namespace rowops_avx2

inline kernel_entry<sum_squares_fn> sum_squares_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&rowops_avx2::sum_squares);
}
inline kernel_entry<rms_scale_fn> rms_scale_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&rowops_avx2::rms_scale);
}
inline kernel_entry<relu2_mul_fn> relu2_mul_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&rowops_avx2::relu2_mul);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_ROWOPS_AVX2
