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

BITLIN_ICL_TARGET inline __m512i count(__m512i q, const std::uint8_t* d) {
  return _mm512_popcnt_epi64(_mm512_xor_si512(q, _mm512_loadu_si512(d)));
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
  const __m512i p01 = _mm512_add_epi64(acc[0], _mm512_maskz_slli_epi64(0xFF, acc[1], 32));
  const __m512i p23 = _mm512_add_epi64(acc[2], _mm512_maskz_slli_epi64(0xFF, acc[3], 32));
  const __m128i s = hamming_avx512bw_fold(_mm512_add_epi64(
      _mm512_maskz_unpacklo_epi64(0xFF, p01, p23), _mm512_maskz_unpackhi_epi64(0xFF, p01, p23)));
  if constexpr (R == 4) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), s);
  } else {
    alignas(16) std::int32_t v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(v), s);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) out[r] = v[r];
  }
}

BITLIN_ICL_TARGET inline void hamming(const std::uint8_t* q, index_t nq, index_t ldq,
                                      const std::uint8_t* d, index_t nd, index_t ldd, index_t bytes,
                                      std::int32_t* out, index_t ldo) {
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
