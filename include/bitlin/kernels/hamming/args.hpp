// The contract of the Hamming-distance kernels, shared by the XNOR-popcount product
// (gemm/xnor_gemm.hpp: dot = K - 2 * distance) and the Hamming top-k index
// (search/hamming_index.hpp). Rows of packed bits (bit i of a row at byte i / 8, bit i % 8, the
// binary_b1 order) have a byte length that is a multiple of hamming_row_align and zero padding
// past their true length in both operands, so padding XORs to zero and no kernel masks a tail.
#pragma once

#include <cstdint>

#include "bitlin/kernels/tuning.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {

// Row length granularity: every path reads whole 16-byte chunks (an xmm register).
constexpr index_t hamming_row_align = 16;
// Hamming tiles (below): rows per tile, nibble-table bytes per query position, and the longest
// rows (in bytes) whose sums the tile kernels keep exact.
constexpr index_t hamming_tile_rows = 32;
constexpr index_t hamming_table_bytes = 32;  // per query position
constexpr index_t hamming_tile_max_positions = 8192;

namespace detail {

// out[i * ldo + j] = popcount(q_i XOR d_j) for queries i < nq and database rows j < nd, each row
// `bytes` long (a multiple of hamming_row_align), rows at q + i * ldq and d + j * ldd (bytes).
// Distances are exact for any length: the kernels sum per-chunk counts in 64-bit lanes and
// reduce two rows per 64-bit lane in 32-bit halves (a row has fewer than 2^32 bits).
using hamming_fn = void (*)(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                            index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo);

// The top-k scan's filter (search/hamming_index.hpp): the first j < n with d[j] < bound, or n.
// Once a top-k list is full almost no distance is a candidate, so the scan of a block's distances
// is mostly this comparison, which the kernels do a register at a time.
using first_below_fn = index_t (*)(const std::int32_t* d, index_t n, std::int32_t bound);

// Hamming tiles, the many-query form of a block of database rows (search/hamming_index.hpp): a
// tile holds hamming_tile_rows rows position-major (byte p of row r at tile[p * 32 + r]) for
// `positions` bytes (a row's padded length, a multiple of hamming_row_align). A query becomes
// nibble tables: for each position p, 16 bytes popcount(n XOR (q_p & 15)) and 16 bytes
// popcount(n XOR (q_p >> 4)) for n < 16, so the distance of row r is the sum over p of
// lo_table_p[tile byte & 15] + hi_table_p[tile byte >> 4]: a table lookup per nibble and no XOR,
// and one load of 32 tile bytes serves 32 rows. Filling a tile costs about what one query's scan
// of it does, so the index uses tiles for batches of queries only.

// tiles[t * positions * 32 ...] = rows [32 t, 32 t + 32) of d (nd rows, ldd bytes apart), rows
// past nd zero; ceil(nd / 32) tiles.
using hamming_tile_pack_fn = void (*)(const std::uint8_t* d, index_t nd, index_t ldd,
                                      index_t positions, std::uint8_t* tiles);
// out[i * ldo + r] = distance of query i (tables at tables + i * positions * 32) to row r of the
// tiles, for i < nq and r < 32 * ntiles. Exact for positions < hamming_tile_max_positions (a
// position adds at most 8 and the kernels may keep a row's sum in 16 bits; the index's codes have
// at most 512).
using hamming_tiles_fn = void (*)(const std::uint8_t* tables, index_t nq, index_t positions,
                                  const std::uint8_t* tiles, index_t ntiles, std::int32_t* out,
                                  index_t ldo);

// The nibble tables of one query of `positions` bytes (the tiles' query form, the same for every
// ISA).
inline void hamming_query_tables(const std::uint8_t* q, index_t positions, std::uint8_t* tables) {
  for (index_t p = 0; p < positions; ++p) {
    static constexpr std::uint8_t bits4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    const unsigned lo = q[p] & 15u, hi = q[p] >> 4u;
    std::uint8_t* t = tables + p * hamming_table_bytes;
    for (unsigned n = 0; n < 16; ++n) {
      t[n] = bits4[n ^ lo];
      t[16 + n] = bits4[n ^ hi];
    }
  }
}

}  // namespace detail

namespace kernels {

// A compiler barrier between the loads of consecutive database rows: scheduled freely, the
// unrolled four-row scans issued the rows' loads out of order (row 3 first), and a Zen 4 core then
// streamed half its read bandwidth from DRAM (measured in the avx512icl scan, 1M codes of 1024
// bits: 10.5 ms out of order, 5.5 ms in order; the avx2 scan's order happened to be right).
inline __attribute__((always_inline)) void hamming_in_order() {
  __asm__ volatile("" ::: "memory");
}

}  // namespace kernels
}  // namespace bitlin
