// The portable kernel of the i2 tile layout (kernels/i2_tile/layout.hpp). It is the fallback
// on every CPU and the model the SIMD kernels follow, including the activation-sum correction.
#pragma once

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"

namespace bitlin {
namespace kernels {

inline void i2_tile_scalar_gemm(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0,
                                index_t t1) {
  using tiles = kernel_layout_traits<i2_tile>;
  for (index_t g = g0; g < g1; ++g) {
    const std::uint8_t* wg = a.w + g * a.k_blocks * tiles::tile_bytes;
    for (index_t t = t0; t < t1; ++t) {
      const std::int8_t* x = a.x + t * a.ldxp;
      std::int32_t acc[tiles::row_block] = {};
      for (index_t b = 0; b < a.k_blocks; ++b) {
        const std::uint8_t* tile = wg + b * tiles::tile_bytes;
        const std::int8_t* xb = x + b * tiles::k_block;
        for (int r = 0; r < 16; ++r) {
          std::int32_t s = 0;
          for (int j = 0; j < 4; ++j) {
            const unsigned byte = tile[4 * r + j];
            for (int q = 0; q < 4; ++q)
              s += static_cast<std::int32_t>((byte >> (2 * q)) & 3u) * xb[4 * q + j];
          }
          acc[r] += s;
        }
      }
      for (int r = 0; r < 16; ++r) {
        const index_t n = g * 16 + r;
        if (n >= a.n) break;
        const std::int32_t v = acc[r] - a.xsum[t];
        if (a.y)
          a.y[t * a.ldy + n] = v;
        else
          a.yf[t * a.ldyf + n] =
              detail::apply_epilogue(v, a.act_scale[t], a.row_scale[n], a.bias, n, a.multiply);
      }
    }
  }
}

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::scalar, i2_tile) {
  return make_kernel_entry<arch::scalar>(&i2_tile_scalar_gemm);
}

}  // namespace kernels
}  // namespace bitlin
