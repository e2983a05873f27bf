// AVX-512 VPOPCNTDQ Hamming kernel (the avx512icl row): vpopcntq counts the bits of each 64-bit
// lane of q XOR d in one instruction, so a 64-byte chunk costs a load, an xor, a popcount and an
// add per database row, with no nibble table and no byte accumulators to flush. Rows end in 16-,
// 32- or 48-byte chunks (they are whole 16-byte chunks), read with a masked load (masked-out
// bytes are not touched). Four database rows run together against one query and leave in one
// register. Exact: a 64-bit lane sums at most 64 per chunk, and a row's distance is below 2^32
// (rows have fewer than 2^32 bits), so nothing wraps.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"
#include "bitlin/kernels/hamming/x86/avx512bw.hpp"

#define BITLIN_ICL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq")))

namespace bitlin {
namespace kernels {
namespace hamming_avx512icl_impl {

// (the pshufb kernels' prefetch, for the same reason)
using hamming_avx512bw_impl::prefetch_past;

BITLIN_ICL_TARGET inline __m512i count(__m512i q, const std::uint8_t* d) {
  return _mm512_popcnt_epi64(_mm512_xor_si512(q, _mm512_loadu_si512(d)));
}

BITLIN_ICL_TARGET inline __attribute__((always_inline)) __m128i four_rows(__m512i a0, __m512i a1,
                                                                          __m512i a2, __m512i a3) {
  const __m512i p01 = _mm512_add_epi64(a0, _mm512_maskz_slli_epi64(0xFF, a1, 32));
  const __m512i p23 = _mm512_add_epi64(a2, _mm512_maskz_slli_epi64(0xFF, a3, 32));
  return hamming_avx512bw_fold(_mm512_add_epi64(_mm512_maskz_unpacklo_epi64(0xFF, p01, p23),
                                                _mm512_maskz_unpackhi_epi64(0xFF, p01, p23)));
}

template <int R>
BITLIN_ICL_TARGET inline __attribute__((always_inline)) void rows_vs_query(
    const std::uint8_t* q, const std::uint8_t* d, index_t ldd, index_t bytes, std::int32_t* out) {
  __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
  index_t c = 0;
  for (; c + 64 <= bytes; c += 64) {
    const __m512i qv = _mm512_loadu_si512(q + c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = _mm512_add_epi64(acc[r], count(qv, d + r * ldd + c));
  }
  if (c < bytes) {
    const auto m = static_cast<__mmask8>((1u << ((bytes - c) / 8)) - 1u);
    const __m512i qv = _mm512_maskz_loadu_epi64(m, q + c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_add_epi64(acc[r], _mm512_popcnt_epi64(_mm512_xor_si512(
                                            qv, _mm512_maskz_loadu_epi64(m, d + r * ldd + c))));
  }
  // Two rows per 64-bit lane (a row's distance is below 2^32, so the low halves never carry), rows
  // 0|1 and 2|3 side by side per 128-bit lane, one fold: the four distances as four int32. (Masked
  // forms throughout: GCC 12 warns falsely about the unmasked builtins' undefined lanes.)
  const __m128i s = four_rows(acc[0], acc[1], acc[2], acc[3]);
  if constexpr (R == 4) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), s);
  } else {
    alignas(16) std::int32_t v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(v), s);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) out[r] = v[r];
  }
}

// 32-byte rows (B = 256 bits, the common embedding size): two rows per register against the query
// broadcast to both halves, eight rows per step. The eight distances come out of four registers
// of 64-bit lane sums (rows 2p, 2p+1 in the lower and upper four lanes of register p) as: two rows
// per 64-bit lane (below 2^32 each, so nothing carries), adjacent lanes added by an unpack pair,
// the 128-bit lanes of each half added by one lane swap, and one permute putting the eight int32
// in row order.
template <bool Adjacent>
BITLIN_ICL_TARGET inline __attribute__((always_inline)) __m512i pair32(__m512i q,
                                                                       const std::uint8_t* r,
                                                                       index_t ldd) {
  __m512i x;
  if constexpr (Adjacent) {
    x = _mm512_loadu_si512(r);
  } else {
    // (masked-out bytes are not read: r + ldd - 32 .. r + ldd is outside the rows)
    x = _mm512_mask_loadu_epi64(_mm512_maskz_loadu_epi64(0x0F, r), 0xF0, r + ldd - 32);
  }
  return _mm512_popcnt_epi64(_mm512_xor_si512(q, x));
}

template <bool Adjacent>
BITLIN_ICL_TARGET inline void scan32(const std::uint8_t* q, const std::uint8_t* d, index_t nd,
                                     index_t ldd, std::int32_t* out, bool prefetch) {
  const __m512i qq =
      _mm512_maskz_broadcast_i64x4(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
  const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  index_t j = 0;
  for (; j + 8 <= nd; j += 8) {
    const std::uint8_t* r = d + j * ldd;
    if (prefetch) prefetch_past(r, 8 * ldd);
    const __m512i a = pair32<Adjacent>(qq, r, ldd), b = pair32<Adjacent>(qq, r + 2 * ldd, ldd),
                  c = pair32<Adjacent>(qq, r + 4 * ldd, ldd),
                  e = pair32<Adjacent>(qq, r + 6 * ldd, ldd);
    const __m512i p = _mm512_add_epi64(a, _mm512_maskz_slli_epi64(0xFF, b, 32));
    const __m512i s = _mm512_add_epi64(c, _mm512_maskz_slli_epi64(0xFF, e, 32));
    const __m512i u = _mm512_add_epi64(_mm512_maskz_unpacklo_epi64(0xFF, p, s),
                                       _mm512_maskz_unpackhi_epi64(0xFF, p, s));
    const __m512i v =
        _mm512_add_epi64(u, _mm512_maskz_shuffle_i64x2(0xFF, u, u, _MM_SHUFFLE(2, 3, 0, 1)));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(out + j),
        _mm512_maskz_extracti64x4_epi64(0xFF, _mm512_maskz_permutexvar_epi32(0xFFFF, order, v), 0));
  }
  for (; j < nd; ++j) {  // the last rows, one at a time
    const __m256i x = _mm256_popcnt_epi64(
        _mm256_xor_si256(_mm512_maskz_extracti64x4_epi64(0xFF, qq, 0),
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + j * ldd))));
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    out[j] =
        static_cast<std::int32_t>(_mm_cvtsi128_si64(_mm_add_epi64(h, _mm_unpackhi_epi64(h, h))));
  }
}

// Rows of NC whole 64-byte chunks (B = 512 to 2048 bits): the query stays in registers for the
// whole scan, four rows per step with no loop or tail logic, each row's chunks loaded before the
// next row's (hamming_in_order: scheduled freely, GCC loaded row 3 first and the scan read 11-12
// GB/s from DRAM on a Zen 4 where this order reads 22-24, the machine's stream rate).
template <int NC>
BITLIN_ICL_TARGET inline void scan_short(const std::uint8_t* q, const std::uint8_t* d, index_t nd,
                                         index_t ldd, std::int32_t* out, bool prefetch) {
  __m512i qv[NC];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) qv[c] = _mm512_loadu_si512(q + c * 64);
  index_t j = 0;
  for (; j + 4 <= nd; j += 4) {
    const std::uint8_t* r = d + j * ldd;
    if (prefetch) prefetch_past(r, 4 * ldd);
    __m512i a[4];
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      __m512i x[NC];
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) x[c] = _mm512_loadu_si512(r + u * ldd + c * 64);
      hamming_in_order();
      a[u] = _mm512_popcnt_epi64(_mm512_xor_si512(qv[0], x[0]));
#pragma GCC unroll 4
      for (int c = 1; c < NC; ++c)
        a[u] = _mm512_add_epi64(a[u], _mm512_popcnt_epi64(_mm512_xor_si512(qv[c], x[c])));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), four_rows(a[0], a[1], a[2], a[3]));
  }
  if (j < nd) {
    __m512i a[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
    for (index_t u = 0; j + u < nd; ++u) {
      const std::uint8_t* r = d + (j + u) * ldd;
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) a[u] = _mm512_add_epi64(a[u], count(qv[c], r + c * 64));
    }
    alignas(16) std::int32_t v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(v), four_rows(a[0], a[1], a[2], a[3]));
    for (index_t u = 0; j + u < nd; ++u) out[j + u] = v[u];
  }
}

BITLIN_ICL_TARGET inline void hamming(const std::uint8_t* q, index_t nq, index_t ldq,
                                      const std::uint8_t* d, index_t nd, index_t ldd, index_t bytes,
                                      std::int32_t* out, index_t ldo) {
  using scan_fn =
      void (*)(const std::uint8_t*, const std::uint8_t*, index_t, index_t, std::int32_t*, bool);
  constexpr scan_fn scans[] = {nullptr, &scan_short<1>, &scan_short<2>, &scan_short<3>,
                               &scan_short<4>};
  const scan_fn scan = bytes == 32 ? (ldd == 32 ? &scan32<true> : &scan32<false>)
                       : bytes % 64 == 0 && bytes <= 256 ? scans[bytes / 64]
                                                         : nullptr;
  if (scan) {
    const bool prefetch = software_prefetch_pays();
    for (index_t i = 0; i < nq; ++i)
      scan(q + i * ldq, d, nd, ldd, out + i * ldo, prefetch && i == 0);
    return;
  }
  for (index_t i = 0; i < nq; ++i) {
    const std::uint8_t* qi = q + i * ldq;
    std::int32_t* oi = out + i * ldo;
    index_t j = 0;
    for (; j + 4 <= nd; j += 4) rows_vs_query<4>(qi, d + j * ldd, ldd, bytes, oi + j);
    switch (nd - j) {
      case 3:
        rows_vs_query<3>(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      case 2:
        rows_vs_query<2>(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      case 1:
        rows_vs_query<1>(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      default:
        break;
    }
  }
}

}  // namespace hamming_avx512icl_impl

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::avx512icl) {
  return make_kernel_entry<arch::avx512icl>(&hamming_avx512icl_impl::hamming);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_ICL_TARGET
