// The 2-bit ternary tile ("i2 tile"), the layout of every ternary kernel: rows are cut into groups
// of 16 (padded), K into blocks of 16 (padded); each (group g, block b) is one 64-byte tile at byte
// offset (g * k_blocks + b) * 64. Inside a tile, byte 4*r + j holds four 2-bit codes c = t + 1
// (0, 1, 2) for row 16*g + r: bits 2s..2s+1 hold k = 16*b + 4*s + j. So one 64-byte load, shifted
// right by 2*s and masked with 3, gives 16 rows x 4 consecutive k as unsigned bytes: exactly the
// operand layout of vpdpbusd (512 bits), and its 32- and 16-byte halves/quarters serve 256- and
// 128-bit registers (8 or 4 rows). Padding rows and the K tail hold code 1 (value 0). Kernels
// accumulate sum_k c*x and subtract the activation sums (activation_rows::xsum).
#pragma once

#include <cstdint>
#include <cstring>

#include "bitlin/core/error.hpp"
#include "bitlin/core/weight_kind.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/kernels/layout.hpp"

namespace bitlin {

struct i2_tile {};

template <>
struct kernel_layout_traits<i2_tile> {
  using weight_kind = ternary;
  static constexpr const char* name = "i2_tile";
  static constexpr double bits_per_weight = 2.0;
  static constexpr index_t row_block = 16;
  static constexpr index_t k_block = 16;
  static constexpr index_t tile_bytes = 64;
  // The kernels accumulate sum_k c*x with c = t + 1 <= 2 and |x| <= 128, so |acc| <= 256 * K must
  // stay below 2^31 (each kernel header states how its intermediates stay inside that bound).
  static constexpr index_t max_cols = (index_t{1} << 23) - 1;
  // For the lookup-table GEMM (kernels/lut_gemm/recipe.hpp): one 64-byte sub-tile per tile, four
  // 2-bit codes per byte.
  static constexpr int lut_subtiles = 1;
  static constexpr int lut_planes = 4;
  static constexpr int lut_radix = 4;
  static constexpr int lut_digit(std::uint8_t byte, int plane) { return (byte >> (2 * plane)) & 3; }

  static void pack(const Eigen::Ref<const matrix_i8>& q, std::uint8_t* tiles, index_t k_blocks) {
    const index_t groups = (q.rows() + row_block - 1) / row_block;
    const index_t K = q.cols();
    // Code 1 (= 0b01) in all four 2-bit fields: the padding value 0 everywhere.
    std::memset(tiles, 0x55, static_cast<std::size_t>(groups * k_blocks * tile_bytes));
    for (index_t n = 0; n < q.rows(); ++n) {
      const std::int8_t* w = q.data() + n * q.outerStride();
      // A branch-free check of the row first (training packs every weight each step); the
      // element is named only when there is one to name.
      unsigned bad = 0;
      for (index_t k = 0; k < K; ++k) bad |= static_cast<unsigned>(w[k] < -1 || w[k] > 1);
      if (bad != 0)
        for (index_t k = 0; k < K; ++k)
          BITLIN_REQUIRE(w[k] >= -1 && w[k] <= 1, value_error, "i2_tile: weight (", n, ", ", k,
                         ") = ", static_cast<int>(w[k]), " is not in {-1, 0, 1}");
      std::uint8_t* tile_row = tiles + (n / 16) * k_blocks * 64 + 4 * (n % 16);
      // Byte j of block b holds k = 16 b + 4 s + j in bits 2s..2s+1: whole bytes at once, the
      // K tail padded with code 1.
      for (index_t b = 0; b * 16 < K; ++b) {
        const std::int8_t* wb = w + b * 16;
        std::uint8_t* out = tile_row + b * 64;
        if (b * 16 + 16 <= K) {
          for (int j = 0; j < 4; ++j)
            out[j] = static_cast<std::uint8_t>(static_cast<unsigned>(wb[j] + 1) |
                                               (static_cast<unsigned>(wb[j + 4] + 1) << 2) |
                                               (static_cast<unsigned>(wb[j + 8] + 1) << 4) |
                                               (static_cast<unsigned>(wb[j + 12] + 1) << 6));
        } else {
          for (int j = 0; j < 4; ++j) {
            unsigned byte = 0;
            for (int sh = 0; sh < 4; ++sh) {
              const index_t k = b * 16 + 4 * sh + j;
              byte |= static_cast<unsigned>(k < K ? wb[4 * sh + j] + 1 : 1) << (2 * sh);
            }
            out[j] = static_cast<std::uint8_t>(byte);
          }
        }
      }
    }
  }

  static std::int8_t get(const std::uint8_t* tiles, index_t k_blocks, index_t n, index_t k) {
    const unsigned byte = tiles[(n / 16) * k_blocks * 64 + 4 * (n % 16) + (k / 16) * 64 + (k % 4)];
    return static_cast<std::int8_t>(static_cast<int>((byte >> (2 * ((k % 16) / 4))) & 3u) - 1);
  }
};

}  // namespace bitlin
