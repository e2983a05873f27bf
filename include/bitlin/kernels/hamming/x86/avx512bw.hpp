// AVX-512BW Hamming kernel: vpshufb nibble-table popcount on 64-byte chunks
// (hamming_kernel.inc).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {
namespace kernels {

__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m128i hamming_avx512bw_fold(
    __m512i v) {
  const __m256i s = _mm256_add_epi64(_mm512_maskz_extracti64x4_epi64(0xFF, v, 0),
                                     _mm512_maskz_extracti64x4_epi64(0xFF, v, 1));
  return _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

#define BITLIN_HX_NS hamming_avx512bw_impl
#define BITLIN_HX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#define BITLIN_HX_VEC __m512i
#define BITLIN_HX_W 64
#define BITLIN_HX_LOADU(p) _mm512_loadu_si512(p)
#define BITLIN_HX_XOR(a, b) _mm512_xor_si512(a, b)
#define BITLIN_HX_AND(a, b) _mm512_and_si512(a, b)
#define BITLIN_HX_SRLI16_4(v) _mm512_srli_epi16(v, 4)
#define BITLIN_HX_SHUF(lut, idx) _mm512_shuffle_epi8(lut, idx)
#define BITLIN_HX_ADD8(a, b) _mm512_add_epi8(a, b)
#define BITLIN_HX_ADD64(a, b) _mm512_add_epi64(a, b)
#define BITLIN_HX_SAD(a, b) _mm512_sad_epu8(a, b)
#define BITLIN_HX_SUB8(a, b) _mm512_sub_epi8(a, b)
#define BITLIN_HX_SAD0(v) _mm512_sad_epu8(v, _mm512_setzero_si512())
#define BITLIN_HX_ZERO() _mm512_setzero_si512()
#define BITLIN_HX_SET1_8(v) _mm512_set1_epi8(static_cast<char>(v))
#define BITLIN_HX_LUT()                \
  _mm512_maskz_broadcast_i32x4(0xFFFF, \
                               _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4))
// (maskz forms: GCC 12 warns falsely about the undefined upper lanes of the plain ones)
#define BITLIN_HX_FOLD128(v) bitlin::kernels::hamming_avx512bw_fold(v)
#define BITLIN_HX_OR(a, b) _mm512_or_si512(a, b)
#define BITLIN_HX_SLLI64(v, n) _mm512_maskz_slli_epi64(0xFF, v, n)
#define BITLIN_HX_UNPACKLO64(a, b) _mm512_maskz_unpacklo_epi64(0xFF, a, b)
#define BITLIN_HX_UNPACKHI64(a, b) _mm512_maskz_unpackhi_epi64(0xFF, a, b)
#include "bitlin/kernels/hamming/x86/hamming_kernel.inc"

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&hamming_avx512bw_impl::hamming);
}

}  // namespace kernels
}  // namespace bitlin
