// AVX-512 VPOPCNTDQ Hamming kernel (the avx512icl row): vpopcntq counts the bits of each 64-bit
// lane of q XOR d in one instruction, so a 64-byte chunk costs a load, an xor, a popcount and an
// add per database row, with no nibble table and no byte accumulators to flush. Rows end in 16-,
// 32- or 48-byte chunks (they are whole 16-byte chunks), read with a masked load (masked-out
// bytes are not touched). Four database rows run together against one query. Exact: a 64-bit
// lane sums at most 64 per chunk, and a row's distance is below 2^32 (rows have fewer than 2^32
// bits), so nothing wraps.
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
BITLIN_ICL_TARGET inline void rows_vs_query(const std::uint8_t* q, const std::uint8_t* d,
                                            index_t ldd, index_t bytes, std::int32_t* out) {
  __m512i acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
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
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    // (the shared maskz fold: GCC 12 warns falsely about _mm512_reduce_add_epi64's undefined lanes)
    const __m128i s = hamming_avx512bw_fold(acc[r]);
    out[r] = static_cast<std::int32_t>(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
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
