// AArch64 NEON path (no dot product): 128-bit registers of 4 rows x 4 k (a quarter of an i2 tile).
// smull/smlal multiply the codes c = t + 1 (valid signed bytes) by the activations broadcast per
// 4-byte group into int16, the four shifts of a k block are summed in int16, and sadalp folds
// adjacent pairs into int32; a final pairwise add joins each row's two halves.
// Overflow: one int16 lane sums 4 products c*x (c in {0,1,2}, x in [-128,127]), |.| <= 1024;
// sadalp adds two of them (<= 2048) per k block into an int32 lane that holds half a row's
// sum_k c*x, |.| <= 256*K <= 256*(2^23-1) < 2^31 (ternary_gemm_weights::max_cols; 2^28 for
// K = 2^20); acc - xsum = sum_k t*x is exact.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"

namespace bitlin {
namespace kernels {
namespace neon_impl {

using detail::kernel_args;

template <int S>
inline int8x16_t unpack(uint8x16_t raw) {
  const uint8x16_t mask3 = vdupq_n_u8(3);
  if constexpr (S == 0) return vreinterpretq_s8_u8(vandq_u8(raw, mask3));
  if constexpr (S == 3) return vreinterpretq_s8_u8(vshrq_n_u8(raw, 6));
  if constexpr (S == 1 || S == 2)
    return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw, 2 * S), mask3));
}

inline int8x16_t broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

// Rows 0-1 (lo) and 2-3 (hi) of one register, as int16 sums over the four shifts.
template <int S>
inline void mla(int16x8_t& lo, int16x8_t& hi, int8x16_t w, int8x16_t x) {
  if constexpr (S == 0) {
    lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    hi = vmull_high_s8(w, x);
  } else {
    lo = vmlal_s8(lo, vget_low_s8(w), vget_low_s8(x));
    hi = vmlal_high_s8(hi, w, x);
  }
}

// Final sums of rows n0..n0+3 for token t. Full registers store directly (the float epilogue
// is detail::apply_epilogue's operation sequence with the same barrier against FMA contraction,
// which AArch64 compilers apply by default); the N tail goes through the shared scalar stage.
inline void store4(const kernel_args& a, int32x4_t v, index_t n0, index_t t) {
  if (n0 + 4 <= a.n) {
    if (a.y) {
      vst1q_s32(a.y + t * a.ldy + n0, v);
      return;
    }
    float32x4_t f = vcvtq_f32_s32(v);
    const float32x4_t sx = vdupq_n_f32(a.act_scale[t]);
    const float32x4_t ws = vld1q_f32(a.row_scale + n0);
    if (a.multiply) {
      f = vmulq_f32(vdivq_f32(f, sx), ws);
      __asm__("" : "+w"(f));
    } else {
      f = vdivq_f32(f, vmulq_f32(sx, ws));
    }
    if (a.bias) f = vaddq_f32(f, vld1q_f32(a.bias + n0));
    vst1q_f32(a.yf + t * a.ldyf + n0, f);
    return;
  }
  std::int32_t tmp[4] = {};
  vst1q_s32(tmp, v);
  detail::store_outputs(a, tmp, 4, n0, t);
}

inline void store_unit(const kernel_args& a, int32x4_t lo, int32x4_t hi, index_t n0, index_t t) {
  // lo = [r0 k01, r0 k23, r1 k01, r1 k23], hi likewise for r2, r3.
  store4(a, vsubq_s32(vpaddq_s32(lo, hi), vdupq_n_s32(a.xsum[t])), n0, t);
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
      const int8x16_t w0 = unpack<0>(raw), w1 = unpack<1>(raw), w2 = unpack<2>(raw),
                      w3 = unpack<3>(raw);
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        const std::int8_t* xb = a.x + (t + j) * a.ldxp + b * 16;
        int16x8_t l, h;
        mla<0>(l, h, w0, broadcast4(xb));
        mla<1>(l, h, w1, broadcast4(xb + 4));
        mla<2>(l, h, w2, broadcast4(xb + 8));
        mla<3>(l, h, w3, broadcast4(xb + 12));
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
  static_assert(kernel_layout_traits<i2_tile>::row_block == 16 &&
                    kernel_layout_traits<i2_tile>::k_block == 16 &&
                    kernel_layout_traits<i2_tile>::tile_bytes == 64,
                "this kernel reads a 64-byte tile as 4 registers of 4 rows x 16 k");
  for (index_t g = g0; g < g1; ++g) {
    index_t t = t0;
    for (; t + 2 <= t1; t += 2) block<2>(a, g, t);
    if (t < t1) block<1>(a, g, t);
  }
}

}  // namespace neon_impl

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::neon, i2_tile) {
  return make_kernel_entry<arch::neon>(&neon_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
