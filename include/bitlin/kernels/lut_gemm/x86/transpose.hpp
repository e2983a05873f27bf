// The activation transpose of the x86 table kernels (BITLIN_LUT_TRANSPOSE16, lut_kernel.inc):
// 16 x 16 bytes by four rounds of unpacks, then sign extension. SSE2 only, so it is part of every
// x86 target and inlines into each ISA's kernel.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/core/types.hpp"
#include "bitlin/kernels/lut_gemm/recipe.hpp"

namespace bitlin {
namespace kernels {
namespace lut_x86 {

// dst[k * lut_tokens + i] = src[i * ld + k] for k, i < 16; rows i >= nrows are zero.
inline void transpose16(const std::int8_t* src, index_t ld, int nrows, std::int16_t* dst) {
  constexpr index_t T = detail::lut_tokens;
  __m128i r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = i < nrows ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * ld))
                     : _mm_setzero_si128();
  __m128i s1[16], s2[16], s3[16];
  for (int p = 0; p < 8; ++p) {  // s1[2p + h]: rows 2p, 2p+1 interleaved, k = 8h .. 8h+7
    s1[2 * p] = _mm_unpacklo_epi8(r[2 * p], r[2 * p + 1]);
    s1[2 * p + 1] = _mm_unpackhi_epi8(r[2 * p], r[2 * p + 1]);
  }
  for (int q = 0; q < 4; ++q)  // s2[4q + kq]: rows 4q .. 4q+3, k = 4kq .. 4kq+3
    for (int h = 0; h < 2; ++h) {
      s2[4 * q + 2 * h] = _mm_unpacklo_epi16(s1[4 * q + h], s1[4 * q + 2 + h]);
      s2[4 * q + 2 * h + 1] = _mm_unpackhi_epi16(s1[4 * q + h], s1[4 * q + 2 + h]);
    }
  for (int o = 0; o < 2; ++o)  // s3[8o + kp]: rows 8o .. 8o+7, k = 2kp, 2kp+1
    for (int kq = 0; kq < 4; ++kq) {
      s3[8 * o + 2 * kq] = _mm_unpacklo_epi32(s2[8 * o + kq], s2[8 * o + 4 + kq]);
      s3[8 * o + 2 * kq + 1] = _mm_unpackhi_epi32(s2[8 * o + kq], s2[8 * o + 4 + kq]);
    }
  for (int kp = 0; kp < 8; ++kp)
    for (int odd = 0; odd < 2; ++odd) {
      const __m128i c =
          odd ? _mm_unpackhi_epi64(s3[kp], s3[8 + kp]) : _mm_unpacklo_epi64(s3[kp], s3[8 + kp]);
      std::int16_t* d = dst + (2 * kp + odd) * T;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_srai_epi16(_mm_unpacklo_epi8(c, c), 8));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 8),
                       _mm_srai_epi16(_mm_unpackhi_epi8(c, c), 8));
    }
}

}  // namespace lut_x86
}  // namespace kernels
}  // namespace bitlin
