// The portable kernel of the base3 tile layout (kernels/base3_tile/layout.hpp): the fallback on
// every CPU and the model the SIMD kernels follow (the same digit decode, the same activation-sum
// correction as the i2 tile: sum_k c*x - xsum = sum_k t*x).
// Overflow: |sum_k c*x| <= 256 * K < 2^31 for K <= max_cols; the result has |.| <= 128 * K.
#pragma once

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {
namespace kernels {

inline void base3_tile_scalar_gemm(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0,
                                   index_t t1) {
  using tiles = kernel_layout_traits<base3_tile>;
  for (index_t g = g0; g < g1; ++g) {
    const std::uint8_t* wg = a.w + g * a.k_blocks * tiles::tile_bytes;
    for (index_t t = t0; t < t1; ++t) {
      const std::int8_t* x = a.x + t * a.ldxp;
      std::int32_t acc[tiles::row_block] = {};
      for (index_t b = 0; b < a.k_blocks; ++b) {
        const std::uint8_t* tile = wg + b * tiles::tile_bytes;
        const std::int8_t* xb = x + b * tiles::k_block;
        for (int u = 0; u < 4; ++u)
          for (int r = 0; r < 16; ++r) {
            std::int32_t s = 0;
            for (int j = 0; j < 4; ++j) {
              const std::uint8_t byte = tile[64 * u + 4 * r + j];
              for (int p = 0; p < 5; ++p)
                s += detail::base3_digit(byte, p) * xb[20 * u + 4 * p + j];
            }
            acc[r] += s;
          }
      }
      std::int32_t v[tiles::row_block];
      for (int r = 0; r < 16; ++r) v[r] = acc[r] - a.xsum[t];
      detail::store_outputs(a, v, 16, g * 16, t);
    }
  }
}

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::scalar, base3_tile) {
  return make_kernel_entry<arch::scalar>(&base3_tile_scalar_gemm);
}

}  // namespace kernels
}  // namespace bitlin
