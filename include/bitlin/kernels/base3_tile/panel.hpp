// The GEMM side of the base3 tile: its kernels decode the row groups they are given once into i2
// tiles (five i2 tiles per 80-k block, kernels/base3_tile/layout.hpp) and run the i2 tile kernel of
// the same ISA on them, so the decode is paid once per (panel x token block) and the products run
// at the 2-bit layout's speed. This is the ISA-free part: the per-thread scratch the decoded tiles
// live in (grow-only, so a steady-state GEMM allocates nothing; a GEMV never decodes) and the
// kernel arguments that point the i2 kernel at it.
#pragma once

#include <cstdint>

#include "bitlin/core/memory.hpp"
#include "bitlin/kernels/kernel_args.hpp"

namespace bitlin {
namespace detail {

inline std::uint8_t* base3_panel_scratch(index_t bytes) {
  static thread_local aligned_vector<std::uint8_t> s;
  if (s.size() < static_cast<std::size_t>(bytes)) s.resize(static_cast<std::size_t>(bytes));
  return s.data();
}

// Arguments for the i2 kernel over decoded row groups [g0, g0 + count) stored from `tiles`: the
// same activations, with every per-row pointer moved to row 16 * g0 (the i2 kernel then sees row
// groups 0 .. count-1).
inline kernel_args base3_panel_args(const kernel_args& a, index_t g0, const std::uint8_t* tiles) {
  kernel_args b = a;
  const index_t n0 = 16 * g0;
  b.w = tiles;
  b.k_blocks = a.k_blocks * 5;
  b.n = a.n - n0;
  if (b.y) {
    b.y += n0;
  } else {
    b.yf += n0;
    b.row_scale += n0;
    if (b.bias) b.bias += n0;
  }
  return b;
}

}  // namespace detail
}  // namespace bitlin
