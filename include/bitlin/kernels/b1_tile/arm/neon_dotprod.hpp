// AArch64 dot-product path of the b1 tile (Armv8.2 sdot): 128-bit registers of 4 rows x 4 k; a
// token's 32 activations of a k block sit in two registers and vdotq_laneq_s32 picks the 4 bytes
// of plane s (lane s of the low half for s < 4, lane s - 4 of the high half), so no broadcasts are
// needed. Planes are {0, 1} bytes, so each sdot adds acc = sum_{bit=1} x over four k.
// Overflow: one sdot adds at most 4 * 128 in magnitude; the int32 lane holds acc, |acc| <=
// 128 * K, and 2*acc - xsum stays within 256 * K < 2^31 (max_cols = 2^23 - 1).
// Compiled with a function-level target, chosen at run time from HWCAP_ASIMDDP (config/cpu.hpp).
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_NEON_DOTPROD_KERNEL)
#include <arm_neon.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/arm/neon.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"

#if defined(__ARM_FEATURE_DOTPROD)
#define BITLIN_TARGET_DOTPROD
#else
#define BITLIN_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

namespace bitlin {
namespace kernels {
namespace b1_neon_dotprod_impl {

using detail::kernel_args;

constexpr int gemm_mu = 4;  // registers (4 rows each): one row group
constexpr int gemm_nt = 4;  // tokens

template <int S>
BITLIN_TARGET_DOTPROD inline int8x16_t plane(uint8x16_t raw) {
  const uint8x16_t one = vdupq_n_u8(1);
  if constexpr (S == 0) return vreinterpretq_s8_u8(vandq_u8(raw, one));
  if constexpr (S == 7) return vreinterpretq_s8_u8(vshrq_n_u8(raw, 7));
  if constexpr (S > 0 && S < 7) return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(raw, S), one));
}

BITLIN_TARGET_DOTPROD inline void store_unit(const kernel_args& a, int32x4_t acc, index_t n0,
                                             index_t t) {
  neon_impl::store4(a, vsubq_s32(vaddq_s32(acc, acc), vdupq_n_s32(a.xsum[t])), n0, t);
}

template <int S, int MU, int NT>
BITLIN_TARGET_DOTPROD inline void step(int32x4_t (&acc)[MU][NT], const uint8x16_t (&raw)[MU],
                                       const int8x16_t (&xlo)[NT], const int8x16_t (&xhi)[NT]) {
  int8x16_t w[MU];
#pragma GCC unroll 8
  for (int i = 0; i < MU; ++i) w[i] = plane<S>(raw[i]);
#pragma GCC unroll 8
  for (int j = 0; j < NT; ++j)
#pragma GCC unroll 8
    for (int i = 0; i < MU; ++i) {
      if constexpr (S < 4)
        acc[i][j] = vdotq_laneq_s32(acc[i][j], w[i], xlo[j], S);
      else
        acc[i][j] = vdotq_laneq_s32(acc[i][j], w[i], xhi[j], S - 4);
    }
}

// MU registers (MU/4 row groups from g) x NT tokens from t.
template <int MU, int NT>
BITLIN_TARGET_DOTPROD inline void block(const kernel_args& a, index_t g, index_t t) {
  int32x4_t acc[MU][NT];
#pragma GCC unroll 8
  for (int i = 0; i < MU; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NT; ++j) acc[i][j] = vdupq_n_s32(0);
  const index_t gstride = a.k_blocks * 64;
  const std::uint8_t* w = a.w + g * gstride;
  for (index_t b = 0; b < a.k_blocks; ++b) {
    uint8x16_t raw[MU];
#pragma GCC unroll 8
    for (int i = 0; i < MU; ++i) raw[i] = vld1q_u8(w + (i / 4) * gstride + b * 64 + (i % 4) * 16);
    int8x16_t xlo[NT], xhi[NT];
#pragma GCC unroll 8
    for (int j = 0; j < NT; ++j) {
      xlo[j] = vld1q_s8(a.x + (t + j) * a.ldxp + b * 32);
      xhi[j] = vld1q_s8(a.x + (t + j) * a.ldxp + b * 32 + 16);
    }
    step<0>(acc, raw, xlo, xhi);
    step<1>(acc, raw, xlo, xhi);
    step<2>(acc, raw, xlo, xhi);
    step<3>(acc, raw, xlo, xhi);
    step<4>(acc, raw, xlo, xhi);
    step<5>(acc, raw, xlo, xhi);
    step<6>(acc, raw, xlo, xhi);
    step<7>(acc, raw, xlo, xhi);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MU; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NT; ++j) store_unit(a, acc[i][j], g * 16 + i * 4, t + j);
}

BITLIN_TARGET_DOTPROD inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0,
                                       index_t t1) {
  static_assert(kernel_layout_traits<b1_tile>::row_block == 16 &&
                    kernel_layout_traits<b1_tile>::k_block == 32 &&
                    kernel_layout_traits<b1_tile>::tile_bytes == 64,
                "this kernel reads a 64-byte tile as 4 registers of 4 rows x 32 k");
  for (index_t g = g0; g < g1; ++g) {
    index_t t = t0;
    if (t1 - t0 == 1) {  // GEMV: two row groups' worth of independent chains when possible
      if (g + 1 < g1) {
        block<8, 1>(a, g, t);
        ++g;
      } else {
        block<4, 1>(a, g, t);
      }
      continue;
    }
    for (; t + gemm_nt <= t1; t += gemm_nt) block<gemm_mu, gemm_nt>(a, g, t);
    for (; t + 2 <= t1; t += 2) block<gemm_mu, 2>(a, g, t);
    if (t < t1) block<gemm_mu, 1>(a, g, t);
  }
}

}  // namespace b1_neon_dotprod_impl

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::neon_dotprod, b1_tile) {
  return make_kernel_entry<arch::neon_dotprod>(&b1_neon_dotprod_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DOTPROD
#endif  // BITLIN_HAS_NEON_DOTPROD_KERNEL
