// AArch64 NEON Hamming kernel: cnt (vcntq_u8) counts the bits of each byte of q XOR d in one
// instruction, so no nibble table is needed. Byte counts (<= 8 per 16-byte chunk) add up in uint8
// over runs of at most 31 chunks (<= 248, no byte wraps), then uaddlp/uadalp widen them into
// uint32 lanes. Four database rows run together against one query. A row's distance is < 2^31
// (rows of packed bits are shorter than 2^28 bytes: xnor_gemm's K < 2^31), so the uint32 lanes and
// their sum cannot wrap.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {
namespace kernels {
namespace hamming_neon_impl {

constexpr index_t max_run = 31;  // 16-byte chunks per byte accumulator

// R (1..4) database rows against one query; writes their distances to out[0..R).
template <int R>
inline void rows_vs_query(const std::uint8_t* q, const std::uint8_t* d, index_t ldd, index_t bytes,
                          std::int32_t* out) {
  uint32x4_t acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_u32(0);
  index_t c = 0;
  while (c < bytes) {
    const index_t end = std::min(bytes, c + max_run * 16);
    uint8x16_t bacc[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) bacc[r] = vdupq_n_u8(0);
    for (; c < end; c += 16) {
      const uint8x16_t qv = vld1q_u8(q + c);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        bacc[r] = vaddq_u8(bacc[r], vcntq_u8(veorq_u8(qv, vld1q_u8(d + r * ldd + c))));
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[r] = vpadalq_u16(acc[r], vpaddlq_u8(bacc[r]));
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = static_cast<std::int32_t>(vaddvq_u32(acc[r]));
}

// The query loop over database rows in fours, shared with the dotprod kernel.
template <template <int> class Rows>
inline void each_row(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                     index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo) {
  for (index_t i = 0; i < nq; ++i) {
    const std::uint8_t* qi = q + i * ldq;
    std::int32_t* oi = out + i * ldo;
    index_t j = 0;
    for (; j + 4 <= nd; j += 4) Rows<4>::run(qi, d + j * ldd, ldd, bytes, oi + j);
    switch (nd - j) {
      case 3:
        Rows<3>::run(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      case 2:
        Rows<2>::run(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      case 1:
        Rows<1>::run(qi, d + j * ldd, ldd, bytes, oi + j);
        break;
      default:
        break;
    }
  }
}

template <int R>
struct rows {
  static void run(const std::uint8_t* q, const std::uint8_t* d, index_t ldd, index_t bytes,
                  std::int32_t* out) {
    rows_vs_query<R>(q, d, ldd, bytes, out);
  }
};

inline void hamming(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                    index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo) {
  static_assert(hamming_row_align % 16 == 0, "rows are whole 16-byte chunks");
  each_row<rows>(q, nq, ldq, d, nd, ldd, bytes, out, ldo);
}

}  // namespace hamming_neon_impl

// The top-k filter: sixteen distances per test; the register with the hit is then found alone.
inline index_t first_below_neon(const std::int32_t* d, index_t n, std::int32_t bound) {
  const int32x4_t b = vdupq_n_s32(bound);
  index_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const uint32x4_t m = vorrq_u32(
        vorrq_u32(vcltq_s32(vld1q_s32(d + j), b), vcltq_s32(vld1q_s32(d + j + 4), b)),
        vorrq_u32(vcltq_s32(vld1q_s32(d + j + 8), b), vcltq_s32(vld1q_s32(d + j + 12), b)));
    if (vmaxvq_u32(m) != 0) break;
  }
  for (; j < n; ++j)
    if (d[j] < bound) return j;
  return n;
}

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::neon) {
  return make_kernel_entry<arch::neon>(&hamming_neon_impl::hamming);
}
inline kernel_entry<detail::first_below_fn> first_below_kernel(arch::neon) {
  return make_kernel_entry<arch::neon>(&first_below_neon);
}

}  // namespace kernels
}  // namespace bitlin
