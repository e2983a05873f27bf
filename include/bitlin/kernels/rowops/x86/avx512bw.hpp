// AVX-512 row ops (kernels/rowops/scalar.hpp defines them): the sixteen partial sums of squares are
// two registers of eight doubles, folded in the defined order; tails load and store with masks
// (masked-out lanes read +0.0, whose square adds nothing). Plain products, as defined.
#pragma once

#include <immintrin.h>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/rowops/scalar.hpp"

#define BITLIN_ROWOPS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace bitlin {
namespace kernels {
namespace rowops_avx512 {

BITLIN_ROWOPS_AVX512 inline __mmask16 first16(index_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
}

BITLIN_ROWOPS_AVX512 inline __m512d squares(__m256 v) {
  const __m512d d = _mm512_maskz_cvtps_pd(0xFF, v);  // (masked: GCC 12 false warning)
  return _mm512_mul_pd(d, d);
}

BITLIN_ROWOPS_AVX512 inline double sum_squares(const float* x, index_t k) {
  __m512d p0 = _mm512_setzero_pd(), p8 = _mm512_setzero_pd();  // partials 0-7 and 8-15
  index_t i = 0;
  for (; i + 16 <= k; i += 16) {
    p0 = _mm512_add_pd(p0, squares(_mm256_loadu_ps(x + i)));
    p8 = _mm512_add_pd(p8, squares(_mm256_loadu_ps(x + i + 8)));
  }
  if (i < k) {
    const __mmask16 m = first16(k - i);
    p0 = _mm512_add_pd(p0, squares(_mm256_maskz_loadu_ps(static_cast<__mmask8>(m), x + i)));
    p8 =
        _mm512_add_pd(p8, squares(_mm256_maskz_loadu_ps(static_cast<__mmask8>(m >> 8), x + i + 8)));
  }
  const __m512d q = _mm512_add_pd(p0, p8);  // q0..q7
  // (masked extract: GCC 12 warns falsely about the plain one's undefined operand)
  const __m256d t = _mm256_add_pd(_mm512_maskz_extractf64x4_pd(0xF, q, 0),
                                  _mm512_maskz_extractf64x4_pd(0xF, q, 1));
  const __m128d u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
  return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));
}

BITLIN_ROWOPS_AVX512 inline void rms_scale(const float* x, index_t k, float inv,
                                           const float* weight, float* y) {
  const __m512 s = _mm512_set1_ps(inv);
  for (index_t i = 0; i < k; i += 16) {
    const __mmask16 m = first16(k - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    if (weight) v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, weight + i), v);
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

BITLIN_ROWOPS_AVX512 inline void relu2_mul(const float* g, const float* u, index_t n, float* a) {
  for (index_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 r =
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(gv, _mm512_setzero_ps(), _CMP_GT_OQ), gv);
    _mm512_mask_storeu_ps(a + i, m,
                          _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

}  // namespace rowops_avx512

inline kernel_entry<sum_squares_fn> sum_squares_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&rowops_avx512::sum_squares);
}
inline kernel_entry<rms_scale_fn> rms_scale_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&rowops_avx512::rms_scale);
}
inline kernel_entry<relu2_mul_fn> relu2_mul_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&rowops_avx512::relu2_mul);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_ROWOPS_AVX512
