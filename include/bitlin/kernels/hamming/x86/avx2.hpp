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

// The top-k filter: 32 distances per test; the register with the hit is then found alone.
__attribute__((target("avx2"), always_inline)) inline __m256i first_below_avx2_at(
    __m256i bound, const std::int32_t* p) {
  return _mm256_cmpgt_epi32(bound, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
__attribute__((target("avx2"))) inline index_t first_below_avx2(const std::int32_t* d, index_t n,
                                                                std::int32_t bound) {
  const __m256i b = _mm256_set1_epi32(bound);
  index_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m256i m = _mm256_or_si256(
        _mm256_or_si256(first_below_avx2_at(b, d + j), first_below_avx2_at(b, d + j + 8)),
        _mm256_or_si256(first_below_avx2_at(b, d + j + 16), first_below_avx2_at(b, d + j + 24)));
    if (!_mm256_testz_si256(m, m)) break;
  }
  for (; j + 8 <= n; j += 8) {
    const int m = _mm256_movemask_ps(_mm256_castsi256_ps(first_below_avx2_at(b, d + j)));
    if (m != 0) return j + __builtin_ctz(static_cast<unsigned>(m));
  }
  for (; j < n; ++j)
    if (d[j] < bound) return j;
  return n;
}

// Hamming tiles (kernels/hamming/args.hpp). Packing transposes 16 x 16-byte blocks with four
// rounds of byte interleaves (round: out[2j], out[2j + 1] = lo, hi interleave of in[j], in[j + 8]),
// rows r and r + 16 in the two 128-bit lanes, so each output register is one position's 32 bytes.
namespace hamming_avx2_tiles {

constexpr index_t T = hamming_tile_rows;

__attribute__((target("avx2"))) inline void pack(const std::uint8_t* d, index_t nd, index_t ldd,
                                                 index_t positions, std::uint8_t* tiles) {
  const index_t ntiles = (nd + T - 1) / T;
  for (index_t t = 0; t < ntiles; ++t) {
    std::uint8_t* tile = tiles + t * positions * T;
    for (index_t p0 = 0; p0 < positions; p0 += 16) {
      __m256i a[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) {
        const index_t r0 = t * T + r, r1 = r0 + 16;
        const __m128i lo =
            r0 < nd ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + r0 * ldd + p0))
                    : _mm_setzero_si128();
        const __m128i hi =
            r1 < nd ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + r1 * ldd + p0))
                    : _mm_setzero_si128();
        a[r] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
      }
#pragma GCC unroll 4
      for (int round = 0; round < 4; ++round) {
        __m256i b[16];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          b[2 * j] = _mm256_unpacklo_epi8(a[j], a[j + 8]);
          b[2 * j + 1] = _mm256_unpackhi_epi8(a[j], a[j + 8]);
        }
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) a[j] = b[j];
      }
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + (p0 + j) * T), a[j]);
    }
  }
}

// One position of NQ queries: the tile bytes split into nibbles once, each query adds its two
// table lookups to its byte counts (at most 8 per position).
template <int NQ>
__attribute__((target("avx2"), always_inline)) inline void position(const std::uint8_t* tables,
                                                                    index_t positions,
                                                                    const std::uint8_t* tile,
                                                                    index_t p, __m256i m4,
                                                                    __m256i* acc) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + p * T));
  const __m256i lo = _mm256_and_si256(v, m4);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
  for (int i = 0; i < NQ; ++i) {
    const std::uint8_t* tab = tables + (i * positions + p) * hamming_table_bytes;
    const __m256i a = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tab))), lo);
    const __m256i b = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tab + 16))),
        hi);
    acc[i] = _mm256_add_epi8(acc[i], _mm256_add_epi8(a, b));
  }
}

// Byte counts run over at most 31 positions (<= 248), then widen into 16-bit row sums (rows
// 0-7 | 16-23 and 8-15 | 24-31 after the unpacks), which leave as int32 in row order.
template <int NQ>
__attribute__((target("avx2"))) inline void scan(const std::uint8_t* tables, index_t positions,
                                                 const std::uint8_t* tiles, index_t ntiles,
                                                 std::int32_t* out, index_t ldo) {
  constexpr index_t run = 31;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i z = _mm256_setzero_si256();
  for (index_t t = 0; t < ntiles; ++t) {
    const std::uint8_t* tile = tiles + t * positions * T;
    __m256i w0[NQ], w1[NQ];
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) w0[i] = w1[i] = z;
    for (index_t p0 = 0; p0 < positions; p0 += run) {
      const index_t pe = std::min(positions, p0 + run);
      __m256i acc[NQ];
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) acc[i] = z;
      index_t p = p0;
      for (; p + 2 <= pe; p += 2) {
        position<NQ>(tables, positions, tile, p, m4, acc);
        position<NQ>(tables, positions, tile, p + 1, m4, acc);
      }
      if (p < pe) position<NQ>(tables, positions, tile, p, m4, acc);
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) {
        w0[i] = _mm256_add_epi16(w0[i], _mm256_unpacklo_epi8(acc[i], z));
        w1[i] = _mm256_add_epi16(w1[i], _mm256_unpackhi_epi8(acc[i], z));
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) {
      std::int32_t* o = out + i * ldo + t * T;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o),
                          _mm256_cvtepu16_epi32(_mm256_castsi256_si128(w0[i])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8),
                          _mm256_cvtepu16_epi32(_mm256_castsi256_si128(w1[i])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16),
                          _mm256_cvtepu16_epi32(_mm256_extracti128_si256(w0[i], 1)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 24),
                          _mm256_cvtepu16_epi32(_mm256_extracti128_si256(w1[i], 1)));
    }
  }
}

__attribute__((target("avx2"))) inline void scan_all(const std::uint8_t* tables, index_t nq,
                                                     index_t positions, const std::uint8_t* tiles,
                                                     index_t ntiles, std::int32_t* out,
                                                     index_t ldo) {
  const index_t step = positions * hamming_table_bytes;
  index_t i = 0;
  for (; i + 4 <= nq; i += 4)
    scan<4>(tables + i * step, positions, tiles, ntiles, out + i * ldo, ldo);
  for (; i < nq; ++i) scan<1>(tables + i * step, positions, tiles, ntiles, out + i * ldo, ldo);
}

}  // namespace hamming_avx2_tiles

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&hamming_avx2_impl::hamming);
}
inline kernel_entry<detail::first_below_fn> first_below_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&first_below_avx2);
}
inline kernel_entry<detail::hamming_tile_pack_fn> hamming_tile_pack_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&hamming_avx2_tiles::pack);
}
inline kernel_entry<detail::hamming_tiles_fn> hamming_tiles_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&hamming_avx2_tiles::scan_all);
}

}  // namespace kernels
}  // namespace bitlin
