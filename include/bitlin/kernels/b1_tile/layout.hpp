// The 1-bit binary tile ("b1 tile"), the layout of the binary-weight x int8 kernels: +-1 weights at
// one bit each, so a binary layer holds half the bytes of the same layer on the ternary i2 tile
// and a memory-bound GEMV streams half as much. Rows are cut into groups of 16 (padded), K into
// blocks of 32 (padded); each (group g, block b) is one 64-byte tile at byte offset
// (g * k_blocks + b) * 64. Inside a tile, byte 4*r + j, bit s holds k = 32*b + 4*s + j of row
// 16*g + r, as bit = (w + 1) / 2. One 64-byte load, shifted right by s and masked with 1, gives 16
// rows x 4 consecutive k of {0, 1}: the operand layout of vpdpbusd / pmaddubsw, as in the i2 tile
// (whose 2-bit fields become eight 1-bit planes), and its 32- and 16-byte slices serve 256- and
// 128-bit registers. Padding holds bit 0 (w = -1), harmless: the activations' K tail is zero.
// Kernels accumulate acc = sum_{bit=1} x and return sum_k w*x = 2*acc - xsum
// (activation_rows::xsum).
#pragma once

#include <cstdint>
#include <cstring>

#include "bitlin/core/error.hpp"
#include "bitlin/core/weight_kind.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/kernels/layout.hpp"

namespace bitlin {

struct b1_tile {};

template <>
struct kernel_layout_traits<b1_tile> {
  using weight_kind = binary;
  static constexpr const char* name = "b1_tile";
  static constexpr double bits_per_weight = 1.0;
  static constexpr index_t row_block = 16;
  static constexpr index_t k_block = 32;
  static constexpr index_t tile_bytes = 64;
  // acc = sum_{bit=1} x has |acc| <= 128 * K and the kernels form 2*acc - xsum, whose
  // intermediates stay within 256 * K; K < 2^23 keeps that below 2^31 (each kernel header states
  // how its own intermediates stay inside the bound).
  static constexpr index_t max_cols = (index_t{1} << 23) - 1;

  static void pack(const Eigen::Ref<const matrix_i8>& q, std::uint8_t* tiles, index_t k_blocks) {
    const index_t groups = (q.rows() + row_block - 1) / row_block;
    std::memset(tiles, 0, static_cast<std::size_t>(groups * k_blocks * tile_bytes));
    for (index_t n = 0; n < q.rows(); ++n) {
      std::uint8_t* tile_row = tiles + (n / 16) * k_blocks * 64 + 4 * (n % 16);
      for (index_t k = 0; k < q.cols(); ++k) {
        const int w = q(n, k);
        BITLIN_REQUIRE(w == -1 || w == 1, value_error, "b1_tile: weight (", n, ", ", k, ") = ", w,
                       " is not -1 or +1");
        if (w == 1)
          tile_row[(k / 32) * 64 + (k % 4)] |= static_cast<std::uint8_t>(1u << ((k % 32) / 4));
      }
    }
  }

  static std::int8_t get(const std::uint8_t* tiles, index_t k_blocks, index_t n, index_t k) {
    const unsigned byte = tiles[(n / 16) * k_blocks * 64 + 4 * (n % 16) + (k / 32) * 64 + (k % 4)];
    return static_cast<std::int8_t>(((byte >> ((k % 32) / 4)) & 1u) ? 1 : -1);
  }
};

}  // namespace bitlin
