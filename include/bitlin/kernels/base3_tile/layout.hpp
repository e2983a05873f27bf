// The 1.6-bit ternary tile ("base3 tile"): five trits per byte, so a ternary layer holds 20 % fewer
// bytes than on the 2-bit i2 tile and a memory-bound GEMV streams 20 % less. The geometry is the i2
// tile's with five planes per byte instead of four: rows are cut into groups of 16 (padded), K into
// blocks of 80 (padded); each (group g, block b) is one 256-byte tile at byte offset
// (g * k_blocks + b) * 256, made of four 64-byte sub-tiles u = 0..3. Byte 64*u + 4*r + j holds
// the five trits of row 16*g + r at k = 80*b + 20*u + 4*s + j, s = 0..4 (plane s). So a 64-byte
// sub-tile load, decoded plane by plane, gives 16 rows x 4 consecutive k: the operand layout of
// vpdpbusd / pmaddubsw / sdot, as in the i2 tile, and 32- and 16-byte slices serve 256- and
// 128-bit registers. K blocks of 80 keep the padded K a multiple of 16, so a block decodes to
// exactly five i2 tiles (the GEMM kernels decode a panel once and run the i2 kernels on it).
//
// The byte encoding is chosen for a cheap SIMD decode (no division by 3, no table): with digits
// c_s = t_s + 1 and N = sum_s c_s * 3^(4-s) (plane 0 most significant), q = ceil(256 * N / 243)
// is N as an 8-bit fixed-point fraction of 243. Then v_0 = q, v_{s+1} = 3 * v_s mod 256 and
// c_s = floor(3 * v_s / 256) for every N (checked exhaustively by decode_is_exact below), i.e.
// c_s = [v_s >= 86] + [v_s >= 171]. The byte stored is q ^ 0x80 (v_s - 128 as a signed byte):
// that domain is closed under the same update (3 * (v + 128) = 3 * v + 128 mod 256), and the two
// thresholds become signed byte compares (v' > -43, v' > 42), which every SIMD ISA has. All-zero
// weights (N = 121, q = 128) are the stored byte 0, the padding.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "bitlin/core/error.hpp"
#include "bitlin/core/weight_kind.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/kernels/layout.hpp"

namespace bitlin {

struct base3_tile {};

namespace detail {

// Stored byte of five digits c_0..c_4 in {0, 1, 2}.
constexpr std::uint8_t base3_encode(const int (&c)[5]) {
  int n = 0;
  for (int s = 0; s < 5; ++s) n = 3 * n + c[s];
  const int q = (256 * n + 242) / 243;  // ceil(256 n / 243) <= 255 for n <= 242
  return static_cast<std::uint8_t>(q ^ 0x80);
}

// Digit c_s of a stored byte, the way the SIMD kernels compute it.
constexpr int base3_digit(std::uint8_t byte, int s) {
  auto v = static_cast<std::int8_t>(byte);
  for (int i = 0; i < s; ++i) v = static_cast<std::int8_t>(static_cast<std::uint8_t>(3 * v));
  return (v > -43 ? 1 : 0) + (v > 42 ? 1 : 0);
}

constexpr bool base3_decode_is_exact() {
  for (int n = 0; n < 243; ++n) {
    int c[5] = {};
    for (int s = 4, m = n; s >= 0; --s, m /= 3) c[s] = m % 3;
    const std::uint8_t byte = base3_encode(c);
    for (int s = 0; s < 5; ++s)
      if (base3_digit(byte, s) != c[s]) return false;
  }
  int zero[5] = {1, 1, 1, 1, 1};
  return base3_encode(zero) == 0;
}
static_assert(base3_decode_is_exact(), "the base3 tile's byte encoding must decode exactly");

}  // namespace detail

template <>
struct kernel_layout_traits<base3_tile> {
  using weight_kind = ternary;
  static constexpr const char* name = "base3_tile";
  static constexpr double bits_per_weight = 1.6;
  static constexpr index_t row_block = 16;
  static constexpr index_t k_block = 80;
  static constexpr index_t tile_bytes = 256;
  // The kernels accumulate sum_k c*x with c = t + 1 <= 2 and |x| <= 128 (or its negation), so
  // |acc| <= 256 * K must stay below 2^31, as for the i2 tile; the zero padding of the activations
  // makes the padded K contribute nothing. Each kernel header states how its own intermediates
  // (int16 partial sums) stay inside that bound.
  static constexpr index_t max_cols = (index_t{1} << 23) - 1;
  // For the lookup-table GEMM (kernels/lut_gemm/recipe.hpp): four sub-tiles per tile, five digits
  // per byte, decoded as every kernel of this layout decodes them (so any byte has one meaning).
  static constexpr int lut_subtiles = 4;
  static constexpr int lut_planes = 5;
  static constexpr int lut_radix = 3;
  static constexpr int lut_digit(std::uint8_t byte, int plane) {
    return detail::base3_digit(byte, plane);
  }

  // Byte offset of (row n, column k) and the plane inside it.
  static index_t byte_of(index_t k_blocks, index_t n, index_t k, int& plane) {
    const index_t rem = k % 80;
    plane = static_cast<int>((rem % 20) / 4);
    return ((n / 16) * k_blocks + k / 80) * 256 + 64 * (rem / 20) + 4 * (n % 16) + (k % 4);
  }

  static void pack(const Eigen::Ref<const matrix_i8>& q, std::uint8_t* tiles, index_t k_blocks) {
    const index_t groups = (q.rows() + row_block - 1) / row_block;
    std::memset(tiles, 0, static_cast<std::size_t>(groups * k_blocks * tile_bytes));
    for (index_t n = 0; n < q.rows(); ++n)
      for (index_t b = 0; b < k_blocks; ++b)
        for (index_t u = 0; u < 4; ++u)
          for (index_t j = 0; j < 4; ++j) {
            int c[5];
            for (int s = 0; s < 5; ++s) {
              const index_t k = 80 * b + 20 * u + 4 * s + j;
              int t = 0;
              if (k < q.cols()) {
                t = q(n, k);
                BITLIN_REQUIRE(t >= -1 && t <= 1, value_error, "base3_tile: weight (", n, ", ", k,
                               ") = ", t, " is not in {-1, 0, 1}");
              }
              c[s] = t + 1;
            }
            tiles[((n / 16) * k_blocks + b) * 256 + 64 * u + 4 * (n % 16) + j] =
                detail::base3_encode(c);
          }
  }

  static std::int8_t get(const std::uint8_t* tiles, index_t k_blocks, index_t n, index_t k) {
    int plane = 0;
    const std::uint8_t byte = tiles[byte_of(k_blocks, n, k, plane)];
    return static_cast<std::int8_t>(detail::base3_digit(byte, plane) - 1);
  }
};

}  // namespace bitlin
