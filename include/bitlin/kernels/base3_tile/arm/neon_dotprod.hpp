// AArch64 dot-product path of the base3 tile (Armv8.2 sdot): 128-bit registers of 4 rows x 4 k.
// GEMV decodes each plane as its negated digits (kernels/base3_tile/arm/neon.hpp) straight into
// sdot with the token's four activations of that plane, two row groups at a time; the accumulator
// holds -sum_k c*x. GEMM decodes each panel once (the NEON decode) to i2 tiles and runs the i2
// tile's dot-product kernel on them.
// Overflow: each sdot adds four products m*x (m in {-2,-1,0}, x in [-128,127]), |.| <= 1024; the
// int32 lane holds -sum_k c*x, |.| <= 256*K < 2^31 for K <= max_cols; -acc - xsum = sum_k t*x.
// Compiled with a function-level target, chosen at run time from HWCAP_ASIMDDP (config/cpu.hpp).
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_NEON_DOTPROD_KERNEL)
#include <arm_neon.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/arm/neon.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/arm/neon_dotprod.hpp"

#if defined(__ARM_FEATURE_DOTPROD)
#define BITLIN_TARGET_DOTPROD
#else
#define BITLIN_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

namespace bitlin {
namespace kernels {
namespace neon_dotprod_b3 {

using detail::kernel_args;

// MU registers (MU / 4 row groups from g), one token.
template <int MU>
BITLIN_TARGET_DOTPROD inline void gemv_block(const kernel_args& a, index_t g, index_t t) {
  int32x4_t acc[MU];
#pragma GCC unroll 8
  for (int i = 0; i < MU; ++i) acc[i] = vdupq_n_s32(0);
  const index_t gstride = a.k_blocks * 256;
  const std::uint8_t* w = a.w + g * gstride;
  const std::int8_t* x = a.x + t * a.ldxp;
  for (index_t b = 0; b < a.k_blocks; ++b) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const std::int8_t* xb = x + b * 80 + 20 * u;
      int8x16_t xs[5];
#pragma GCC unroll 5
      for (int s = 0; s < 5; ++s) xs[s] = neon_impl::broadcast4(xb + 4 * s);
#pragma GCC unroll 8
      for (int i = 0; i < MU; ++i) {
        const std::uint8_t* p = w + (i / 4) * gstride + b * 256 + 64 * u + 16 * (i % 4);
        int8x16_t v = vreinterpretq_s8_u8(vld1q_u8(p));
#pragma GCC unroll 5
        for (int s = 0; s < 5; ++s) {
          acc[i] = vdotq_s32(acc[i], neon_b3::neg_digits(v), xs[s]);
          if (s < 4) v = neon_b3::next_plane(v);
        }
      }
    }
  }
  const int32x4_t xsum = vdupq_n_s32(a.xsum[t]);
#pragma GCC unroll 8
  for (int i = 0; i < MU; ++i)
    neon_impl::store4(a, vsubq_s32(vnegq_s32(acc[i]), xsum), g * 16 + i * 4, t);
}

BITLIN_TARGET_DOTPROD inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0,
                                       index_t t1) {
  if (t1 - t0 == 1) {
    index_t g = g0;
    for (; g + 2 <= g1; g += 2) gemv_block<8>(a, g, t0);
    if (g < g1) gemv_block<4>(a, g, t0);
    return;
  }
  std::uint8_t* tiles = detail::base3_panel_scratch((g1 - g0) * a.k_blocks * 5 * 64);
  neon_b3::decode_panel(a, g0, g1, tiles);
  neon_dotprod_impl::gemm(detail::base3_panel_args(a, g0, tiles), 0, g1 - g0, t0, t1);
}

}  // namespace neon_dotprod_b3

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::neon_dotprod, base3_tile) {
  return make_kernel_entry<arch::neon_dotprod>(&neon_dotprod_b3::gemm);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DOTPROD
#endif  // BITLIN_HAS_NEON_DOTPROD_KERNEL
