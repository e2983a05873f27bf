// AArch64 NEON path of the base3 tile (no dot product): 128-bit registers of 4 rows x 4 k (a
// quarter of a 64-byte sub-tile). The digits of a plane are decoded as their negation,
// m = (v > -43) + (v > 42) as signed masks = -c, and the next plane's bytes are 3 * v (vmul);
// GEMV multiplies m by the token's activations (smull/smlal), sums the five planes of a sub-tile in
// int16 and folds them into int32 with sadalp, so the accumulator holds -sum_k c*x. GEMM decodes
// each panel once to i2 tiles and runs the i2 tile's NEON kernel on them.
// Overflow: an int16 lane sums 5 products m*x (m in {-2,-1,0}, x in [-128,127]), |.| <= 1280;
// sadalp adds two of them per sub-tile into an int32 lane holding half a row's -sum_k c*x,
// |.| <= 256*K < 2^31 for K <= max_cols, and -acc - xsum = sum_k t*x is exact.
#pragma once

#include <arm_neon.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/arm/neon.hpp"

namespace bitlin {
namespace kernels {
namespace neon_b3 {

using detail::kernel_args;

// -c of a plane's bytes (as signed bytes in {-2, -1, 0}).
inline int8x16_t neg_digits(int8x16_t v) {
  return vaddq_s8(vreinterpretq_s8_u8(vcgtq_s8(v, vdupq_n_s8(-43))),
                  vreinterpretq_s8_u8(vcgtq_s8(v, vdupq_n_s8(42))));
}
inline int8x16_t next_plane(int8x16_t v) {
  return vmulq_s8(v, vdupq_n_s8(3));
}

// One row group (4 registers), one token.
inline void gemv_group(const kernel_args& a, index_t g, index_t t) {
  int32x4_t lo[4], hi[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) lo[i] = hi[i] = vdupq_n_s32(0);
  const std::uint8_t* w = a.w + g * a.k_blocks * 256;
  const std::int8_t* x = a.x + t * a.ldxp;
  for (index_t b = 0; b < a.k_blocks; ++b) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const std::uint8_t* sub = w + b * 256 + 64 * u;
      const std::int8_t* xb = x + b * 80 + 20 * u;
      int8x16_t xs[5];
#pragma GCC unroll 5
      for (int s = 0; s < 5; ++s) xs[s] = neon_impl::broadcast4(xb + 4 * s);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        int8x16_t v = vreinterpretq_s8_u8(vld1q_u8(sub + 16 * i));
        int8x16_t m = neg_digits(v);
        int16x8_t l = vmull_s8(vget_low_s8(m), vget_low_s8(xs[0]));
        int16x8_t h = vmull_high_s8(m, xs[0]);
#pragma GCC unroll 4
        for (int s = 1; s < 5; ++s) {
          v = next_plane(v);
          m = neg_digits(v);
          l = vmlal_s8(l, vget_low_s8(m), vget_low_s8(xs[s]));
          h = vmlal_high_s8(h, m, xs[s]);
        }
        lo[i] = vpadalq_s16(lo[i], l);
        hi[i] = vpadalq_s16(hi[i], h);
      }
    }
  }
  const int32x4_t xsum = vdupq_n_s32(a.xsum[t]);
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
    neon_impl::store4(a, vsubq_s32(vnegq_s32(vpaddq_s32(lo[i], hi[i])), xsum), g * 16 + i * 4, t);
}

// Row groups [g0, g1) into i2 tiles at `out` (five per 80-k block); plane s of sub-tile u is
// field (5u + s) % 4 of i2 tile (5u + s) / 4.
inline void decode_panel(const kernel_args& a, index_t g0, index_t g1, std::uint8_t* out) {
  const index_t kb = a.k_blocks;
  for (index_t g = g0; g < g1; ++g)
    for (index_t b = 0; b < kb; ++b) {
      const std::uint8_t* src = a.w + (g * kb + b) * 256;
      std::uint8_t* dst = out + ((g - g0) * kb + b) * 5 * 64;
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        uint8x16_t o = vdupq_n_u8(0);
#pragma GCC unroll 4
        for (int u = 0; u < 4; ++u) {
          int8x16_t v = vreinterpretq_s8_u8(vld1q_u8(src + 64 * u + 16 * p));
#pragma GCC unroll 5
          for (int s = 0; s < 5; ++s) {
            const int G = 5 * u + s;
            const uint8x16_t c = vreinterpretq_u8_s8(vnegq_s8(neg_digits(v)));
            o = vorrq_u8(o, vshlq_u8(c, vdupq_n_s8(static_cast<std::int8_t>(2 * (G % 4)))));
            if (G % 4 == 3) {
              vst1q_u8(dst + (G / 4) * 64 + 16 * p, o);
              o = vdupq_n_u8(0);
            }
            v = next_plane(v);
          }
        }
      }
    }
}

inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0, index_t t1) {
  static_assert(kernel_layout_traits<base3_tile>::row_block == 16 &&
                    kernel_layout_traits<base3_tile>::k_block == 80 &&
                    kernel_layout_traits<base3_tile>::tile_bytes == 256,
                "this kernel reads a 256-byte tile as four 64-byte sub-tiles of 16 rows x 20 k");
  if (t1 - t0 == 1) {
    for (index_t g = g0; g < g1; ++g) gemv_group(a, g, t0);
    return;
  }
  std::uint8_t* tiles = detail::base3_panel_scratch((g1 - g0) * a.k_blocks * 5 * 64);
  decode_panel(a, g0, g1, tiles);
  neon_impl::gemm(detail::base3_panel_args(a, g0, tiles), 0, g1 - g0, t0, t1);
}

}  // namespace neon_b3

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::neon, base3_tile) {
  return make_kernel_entry<arch::neon>(&neon_b3::gemm);
}

}  // namespace kernels
}  // namespace bitlin
