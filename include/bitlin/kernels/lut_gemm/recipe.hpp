// The ISA-free part of the lookup-table GEMM (kernels/lut_gemm): a kernel for many tokens that
// does fewer multiply-adds than the product has. Every byte of the i2 and base3 tiles holds the
// weights of one row at `lut_planes` columns (k0 + 4s + j, s = 0..planes-1); for a block of
// tokens, a table holds, for each of the 256 byte values, the vector over the tokens of
// sum_s w_s(byte) * x[t][k0 + 4s + j]. One lookup (a vector addition per register of the row)
// then serves planes x lanes multiply-adds: 4 x 16 = 64 (i2) or 5 x 16 = 80 (base3) per 256-bit
// addition, where one pmaddubsw serves 32. Tables are built once per (token block, K chunk) and
// read by every row, so the build (about 300 stores and 450 additions per table and register) is
// amortized over N rows. Where the tile kernel multiplies faster (vpdpbusd on the i2 tile) or
// the product is small (few tokens or rows), the driver keeps the tile kernel (gemm/driver.hpp).
//
// A layout opts in with three traits (kernels/<layout>/layout.hpp): lut_subtiles, the 64-byte
// sub-tiles of a tile (byte 4r + j of sub-tile u holds row r at k = k_block*b +
// (k_block/lut_subtiles)*u + 4s + j); lut_planes; and lut_radix with lut_digit(byte, s) in
// [0, radix), the weight of plane s being digit - 1.
//
// Exactness. A table entry is bounded by planes * max|w| * 128 (activations are any int8, so
// |x| <= 128): 5 * 1 * 128 = 640 for base3; 4 * 2 * 128 = 1024 for i2, whose unused code 3 reads as
// weight 2 in every kernel of that layout, so the table gives it the same meaning. A row's int16
// accumulator takes at most floor(32767 / bound) table rows (51 and 31) before it is widened
// into int32: a K chunk of at most 12 (base3) or 7 (i2) sub-tiles of four lookups each (the
// chunk is 4 sub-tiles for the cache's sake). The int32 sums equal sum_k w*x exactly, bounded by
// 2 * 128 * K < 2^31 for K <= max_cols, as for the layouts' other kernels.
#pragma once

#include <array>
#include <cstdint>

#include "bitlin/core/memory.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/layout.hpp"

namespace bitlin {
namespace detail {

// Tokens per table row: a row is one 64-byte cache line of int16 sums. The tables do not fit in
// L1, so every lookup brings a whole line from L2; a row as wide as the line makes every byte
// fetched serve a token (the GEMM driver hands the kernels blocks of this many tokens).
constexpr index_t lut_tokens = 32;

template <class Layout>
struct lut_recipe {
  using traits = kernel_layout_traits<Layout>;
  static constexpr int planes = traits::lut_planes;
  static constexpr int radix = traits::lut_radix;
  static constexpr int subtiles = traits::lut_subtiles;
  static constexpr index_t subtile_k = traits::k_block / subtiles;
  static_assert(subtile_k == 4 * planes, "a sub-tile holds four bytes of `planes` weights per row");
  static_assert(traits::tile_bytes == 64 * subtiles && traits::row_block == 16,
                "sub-tiles of 16 rows x 4 bytes");
  static constexpr int max_abs_weight = radix - 2 > 1 ? radix - 2 : 1;
  static constexpr int entry_bound = planes * max_abs_weight * 128;
  static constexpr int max_int16_lookups = 32767 / entry_bound;
  // Sub-tiles per K chunk: as many as the int16 bound allows, but at most four, whose tables
  // (4 x 4 x 16 KiB = 256 KiB) stay in a 1 MiB L2 with the rows' sums and the weights streaming
  // past; more spill to L3 (Zen 4, 2560 x 2560 x 128 tokens: 4 sub-tiles 1.3x faster than 12).
  static constexpr int chunk_subtiles = max_int16_lookups / 4 < 4 ? max_int16_lookups / 4 : 4;
  static_assert(chunk_subtiles >= 1, "an int16 run must cover a whole sub-tile");

  static constexpr int pow_radix(int e) {
    int v = 1;
    for (int i = 0; i < e; ++i) v *= radix;
    return v;
  }
  // Tables are built plane by plane: level p holds radix^p partial sums over planes 0..p-1,
  // entry i * radix + d extending entry i of level p-1 by digit d. A byte's table row is the
  // level planes-1 entry of its first planes-1 digits (`prefix`) plus the last plane's term.
  static constexpr int prefix_entries = pow_radix(planes - 1);
  struct byte_split {
    std::array<std::uint8_t, 256> prefix{}, last{};
  };
  static constexpr byte_split make_split() {
    byte_split s{};
    for (int b = 0; b < 256; ++b) {
      int p = 0;
      for (int i = 0; i + 1 < planes; ++i) p = p * radix + traits::lut_digit(std::uint8_t(b), i);
      s.prefix[b] = static_cast<std::uint8_t>(p);
      s.last[b] = static_cast<std::uint8_t>(traits::lut_digit(std::uint8_t(b), planes - 1));
    }
    return s;
  }
  static constexpr byte_split split = make_split();
  static_assert(prefix_entries <= 256, "prefix indices are bytes");

  // The builders walk digit tuples n = prefix * radix + last in order and store each at its
  // byte: byte_of[n] is the first byte with that tuple (-1 if none); bytes that repeat a tuple
  // (base3's 13 unused codes decode to valid digits) copy its row afterwards.
  static constexpr int tuples = prefix_entries * radix;
  struct byte_map {
    std::array<std::int16_t, 256> byte_of{};
    std::array<std::uint8_t, 256> alias{}, alias_src{};
    int aliases = 0;
  };
  static constexpr byte_map make_map() {
    byte_map m{};
    for (int n = 0; n < 256; ++n) m.byte_of[n] = -1;
    for (int b = 0; b < 256; ++b) {
      const int n = split.prefix[b] * radix + split.last[b];
      if (m.byte_of[n] < 0) {
        m.byte_of[n] = static_cast<std::int16_t>(b);
      } else {
        m.alias[m.aliases] = static_cast<std::uint8_t>(b);
        m.alias_src[m.aliases] = static_cast<std::uint8_t>(m.byte_of[n]);
        ++m.aliases;
      }
    }
    return m;
  }
  static constexpr byte_map map = make_map();
  static_assert(tuples <= 256, "tuple indices fit the map");
};

// Per-thread scratch of the LUT kernels (grow-only: a steady-state GEMM allocates nothing).
inline std::uint8_t* lut_scratch(index_t bytes) {
  static thread_local aligned_vector<std::uint8_t> s;
  if (s.size() < static_cast<std::size_t>(bytes)) s.resize(static_cast<std::size_t>(bytes));
  return s.data();
}

}  // namespace detail
}  // namespace bitlin
