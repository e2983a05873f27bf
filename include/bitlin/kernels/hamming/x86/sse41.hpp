// SSSE3/SSE4.1 Hamming kernel: pshufb nibble-table popcount on 16-byte chunks
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

#define BITLIN_HX_NS hamming_sse41_impl
#define BITLIN_HX_TARGET __attribute__((target("sse4.1")))
#define BITLIN_HX_VEC __m128i
#define BITLIN_HX_W 16
#define BITLIN_HX_LOADU(p) _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
#define BITLIN_HX_XOR(a, b) _mm_xor_si128(a, b)
#define BITLIN_HX_AND(a, b) _mm_and_si128(a, b)
#define BITLIN_HX_SRLI16_4(v) _mm_srli_epi16(v, 4)
#define BITLIN_HX_SHUF(lut, idx) _mm_shuffle_epi8(lut, idx)
#define BITLIN_HX_ADD8(a, b) _mm_add_epi8(a, b)
#define BITLIN_HX_ADD64(a, b) _mm_add_epi64(a, b)
#define BITLIN_HX_SAD(a, b) _mm_sad_epu8(a, b)
#define BITLIN_HX_SUB8(a, b) _mm_sub_epi8(a, b)
#define BITLIN_HX_SAD0(v) _mm_sad_epu8(v, _mm_setzero_si128())
#define BITLIN_HX_ZERO() _mm_setzero_si128()
#define BITLIN_HX_SET1_8(v) _mm_set1_epi8(static_cast<char>(v))
#define BITLIN_HX_LUT() _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4)
#define BITLIN_HX_FOLD128(v) (v)
#define BITLIN_HX_OR(a, b) _mm_or_si128(a, b)
#define BITLIN_HX_SLLI64(v, n) _mm_slli_epi64(v, n)
#define BITLIN_HX_UNPACKLO64(a, b) _mm_unpacklo_epi64(a, b)
#define BITLIN_HX_UNPACKHI64(a, b) _mm_unpackhi_epi64(a, b)
#include "bitlin/kernels/hamming/x86/hamming_kernel.inc"

// The top-k filter: sixteen distances per test; the register with the hit is then found alone.
__attribute__((target("sse4.1"), always_inline)) inline __m128i first_below_sse41_at(
    __m128i bound, const std::int32_t* p) {
  return _mm_cmpgt_epi32(bound, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__attribute__((target("sse4.1"))) inline index_t first_below_sse41(const std::int32_t* d, index_t n,
                                                                   std::int32_t bound) {
  const __m128i b = _mm_set1_epi32(bound);
  index_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m128i m = _mm_or_si128(
        _mm_or_si128(first_below_sse41_at(b, d + j), first_below_sse41_at(b, d + j + 4)),
        _mm_or_si128(first_below_sse41_at(b, d + j + 8), first_below_sse41_at(b, d + j + 12)));
    if (!_mm_testz_si128(m, m)) break;
  }
  for (; j + 4 <= n; j += 4) {
    const int m = _mm_movemask_ps(_mm_castsi128_ps(first_below_sse41_at(b, d + j)));
    if (m != 0) return j + __builtin_ctz(static_cast<unsigned>(m));
  }
  for (; j < n; ++j)
    if (d[j] < bound) return j;
  return n;
}

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::sse41) {
  return make_kernel_entry<arch::sse41>(&hamming_sse41_impl::hamming);
}
inline kernel_entry<detail::first_below_fn> first_below_kernel(arch::sse41) {
  return make_kernel_entry<arch::sse41>(&first_below_sse41);
}

}  // namespace kernels
}  // namespace bitlin
