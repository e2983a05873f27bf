// AVX-512BW Hamming kernel: vpshufb nibble-table popcount on 64-byte chunks
// (hamming_kernel.inc).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"
#include "bitlin/kernels/hamming/x86/avx2.hpp"

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

// The top-k filter: 64 distances per test, the comparisons as masks (bit u: d[j + u] < bound).
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline index_t first_below_avx512bw(
    const std::int32_t* d, index_t n, std::int32_t bound) {
  const __m512i b = _mm512_set1_epi32(bound);
  index_t j = 0;
  for (; j + 64 <= n; j += 64) {
    const std::uint64_t m =
        static_cast<std::uint64_t>(_mm512_cmplt_epi32_mask(_mm512_loadu_si512(d + j), b)) |
        static_cast<std::uint64_t>(_mm512_cmplt_epi32_mask(_mm512_loadu_si512(d + j + 16), b))
            << 16 |
        static_cast<std::uint64_t>(_mm512_cmplt_epi32_mask(_mm512_loadu_si512(d + j + 32), b))
            << 32 |
        static_cast<std::uint64_t>(_mm512_cmplt_epi32_mask(_mm512_loadu_si512(d + j + 48), b))
            << 48;
    if (m != 0) return j + __builtin_ctzll(m);
  }
  for (; j < n; j += 16) {
    const __mmask16 live =
        n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - j)) - 1);
    const unsigned m = _mm512_mask_cmplt_epi32_mask(live, _mm512_maskz_loadu_epi32(live, d + j), b);
    if (m != 0) return j + __builtin_ctz(m);
  }
  return n;
}

// 32-byte rows (B = 256) are half a zmm register, which the zmm body takes through its generic
// loop; the avx2 body reads them whole in its unrolled scan (1M codes, one query, on a Zen 4, three
// interleaved rounds: 1.35-1.45 -> 1.28-1.30 ms on one thread, 0.81-0.96 -> 0.73-0.89 on two).
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void hamming_avx512bw(
    const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d, index_t nd, index_t ldd,
    index_t bytes, std::int32_t* out, index_t ldo) {
  if (bytes == 32) {
    hamming_avx2_impl::hamming(q, nq, ldq, d, nd, ldd, bytes, out, ldo);
  } else {
    hamming_avx512bw_impl::hamming(q, nq, ldq, d, nd, ldd, bytes, out, ldo);
  }
}

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&hamming_avx512bw);
}
inline kernel_entry<detail::first_below_fn> first_below_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&first_below_avx512bw);
}

}  // namespace kernels
}  // namespace bitlin
