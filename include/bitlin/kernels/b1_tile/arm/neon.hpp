// AArch64 NEON path of the b1 tile (no dot product): the i2 tile's NEON kernel read as eight 1-bit
// planes instead of four 2-bit fields. A 128-bit register holds 4 rows x 4 k of a tile (16 bytes);
// shift s + mask 1 gives k = 4s..4s+3 of the block as {0, 1} bytes, smull/smlal multiply them by
// the activations broadcast per 4-byte group into int16, the eight planes are summed in int16,
// and sadalp folds adjacent pairs into int32; a final pairwise add joins each row's halves.
// Overflow: one int16 lane sums 8 products bit*x (x in [-128, 127]), |.| <= 1024; sadalp adds two
// of them (<= 2048) per k block into an int32 lane holding half a row's acc = sum_{bit=1} x,
// |acc| <= 128 * K; the output 2*acc - xsum stays within 256 * K < 2^31 (max_cols = 2^23 - 1).
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/arm/neon.hpp"

namespace bitlin {
namespace kernels {
namespace b1_neon_impl {

using detail::kernel_args;

template <int S>
inline int8x16_t plane(uint8x16_t raw) {
  const uint8x16_t one = vdupq_n_u8(1);
  if constexpr (S == 0) return vreinterpretq_s8_u8(vandq_u8(raw, one));
  if constexpr (S == 7) return vreinterpretq_s8_u8(vshrq_n_u8(raw, 7));
  if constexpr (S > 0 && S < 7) return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw, S), one));
}

// Rows 0-1 (lo) and 2-3 (hi) of one register for plane S, added into int16 sums.
template <int S>
inline void mla(int16x8_t& lo, int16x8_t& hi, uint8x16_t raw, const std::int8_t* xb) {
  const int8x16_t w = plane<S>(raw), x = neon_impl::broadcast4(xb + 4 * S);
  if constexpr (S == 0) {
    lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    hi = vmull_high_s8(w, x);
  } else {
    lo = vmlal_s8(lo, vget_low_s8(w), vget_low_s8(x));
    hi = vmlal_high_s8(hi, w, x);
  }
}

inline void store_unit(const kernel_args& a, int32x4_t lo, int32x4_t hi, index_t n0, index_t t) {
  // lo = [r0 k01, r0 k23, r1 k01, r1 k23], hi likewise for r2, r3.
  const int32x4_t acc = vpaddq_s32(lo, hi);
  neon_impl::store4(a, vsubq_s32(vaddq_s32(acc, acc), vdupq_n_s32(a.xsum[t])), n0, t);
}

// One row group (4 registers) x NT tokens.
template <int NT>
inline void block(const kernel_args& a, index_t g, index_t t) {
  int32x4_t lo[4][NT], hi[4][NT];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NT; ++j) lo[i][j] = hi[i][j] = vdupq_n_s32(0);
  const std::uint8_t* w = a.w + g * a.k_blocks * 64;
  for (index_t b = 0; b < a.k_blocks; ++b) {
    const std::uint8_t* tile = w + b * 64;
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const uint8x16_t raw = vld1q_u8(tile + 16 * i);
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        const std::int8_t* xb = a.x + (t + j) * a.ldxp + b * 32;
        int16x8_t l, h;
        mla<0>(l, h, raw, xb);
        mla<1>(l, h, raw, xb);
        mla<2>(l, h, raw, xb);
        mla<3>(l, h, raw, xb);
        mla<4>(l, h, raw, xb);
        mla<5>(l, h, raw, xb);
        mla<6>(l, h, raw, xb);
        mla<7>(l, h, raw, xb);
        lo[i][j] = vpadalq_s16(lo[i][j], l);
        hi[i][j] = vpadalq_s16(hi[i][j], h);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NT; ++j) store_unit(a, lo[i][j], hi[i][j], g * 16 + i * 4, t + j);
}

inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0, index_t t1) {
  static_assert(kernel_layout_traits<b1_tile>::row_block == 16 &&
                    kernel_layout_traits<b1_tile>::k_block == 32 &&
                    kernel_layout_traits<b1_tile>::tile_bytes == 64,
                "this kernel reads a 64-byte tile as 4 registers of 4 rows x 32 k");
  for (index_t g = g0; g < g1; ++g) {
    index_t t = t0;
    for (; t + 2 <= t1; t += 2) block<2>(a, g, t);
    if (t < t1) block<1>(a, g, t);
  }
}

}  // namespace b1_neon_impl

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::neon, b1_tile) {
  return make_kernel_entry<arch::neon>(&b1_neon_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
