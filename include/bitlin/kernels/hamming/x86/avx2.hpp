// AVX2 Hamming kernel: vpshufb nibble-table popcount on 32-byte chunks, the method FAISS and
// SimSIMD leave out on AVX2 (they use scalar popcnt there); hamming_kernel.inc.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_HX_NS hamming_avx2_impl
#define BITLIN_HX_TARGET __attribute__((target("avx2")))
#define BITLIN_HX_VEC __m256i
#define BITLIN_HX_W 32
#define BITLIN_HX_LOADU(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
#define BITLIN_HX_XOR(a, b) _mm256_xor_si256(a, b)
#define BITLIN_HX_AND(a, b) _mm256_and_si256(a, b)
#define BITLIN_HX_SRLI16_4(v) _mm256_srli_epi16(v, 4)
#define BITLIN_HX_SHUF(lut, idx) _mm256_shuffle_epi8(lut, idx)
#define BITLIN_HX_ADD8(a, b) _mm256_add_epi8(a, b)
#define BITLIN_HX_ADD64(a, b) _mm256_add_epi64(a, b)
#define BITLIN_HX_SAD(a, b) _mm256_sad_epu8(a, b)
#define BITLIN_HX_SUB8(a, b) _mm256_sub_epi8(a, b)
#define BITLIN_HX_SAD0(v) _mm256_sad_epu8(v, _mm256_setzero_si256())
#define BITLIN_HX_ZERO() _mm256_setzero_si256()
#define BITLIN_HX_SET1_8(v) _mm256_set1_epi8(static_cast<char>(v))
#define BITLIN_HX_LUT()                                                                          \
  _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, \
                   2, 3, 2, 3, 3, 4)
#define BITLIN_HX_FOLD128(v) \
  _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1))
#define BITLIN_HX_OR(a, b) _mm256_or_si256(a, b)
#define BITLIN_HX_SLLI64(v, n) _mm256_slli_epi64(v, n)
#define BITLIN_HX_UNPACKLO64(a, b) _mm256_unpacklo_epi64(a, b)
#define BITLIN_HX_UNPACKHI64(a, b) _mm256_unpackhi_epi64(a, b)
#include "bitlin/kernels/hamming/x86/hamming_kernel.inc"

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&hamming_avx2_impl::hamming);
}

}  // namespace kernels
}  // namespace bitlin
