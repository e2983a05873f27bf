// The Hamming top-k index's own kernels (kernels/hamming/args.hpp), on every ISA path this CPU
// runs, against their definitions: the filter (first distance below a bound) on every length and
// hit position with extreme bounds; tile packing byte for byte for every partial tile and gapped
// rows; tile scans against a bit count for every row length of the index (16..512 bytes), query
// counts 1..9 (the kernels' groups of four and their rest), all-ones / all-zeros / alternating
// bits, the longest rows the 16-bit sums allow, and untouched output padding.
#include <bitlin/search/hamming_index.hpp>

#include <climits>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace hamming_tiles_test {

using bitlin_test::quick;

std::vector<std::uint8_t> bytes_of(index_t n, int pattern, std::mt19937& rng) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  for (auto& b : v)
    b = pattern == 0   ? static_cast<std::uint8_t>(rng())
        : pattern == 1 ? 0xFF
        : pattern == 2 ? 0x00
                       : 0x55;
  return v;
}

// Rows [nd x positions] at ldd bytes apart against queries [nq x positions], through the path's
// pack and scan kernels; every distance against __builtin_popcount, padding left alone.
void check_scan(isa path, index_t nq, index_t nd, index_t positions, int pattern_d, int pattern_q,
                std::mt19937& rng) {
  const index_t ldd = positions + 16, T = hamming_tile_rows;
  const index_t ntiles = (nd + T - 1) / T, ldo = ntiles * T + 5;
  const std::vector<std::uint8_t> d = bytes_of(nd * ldd, pattern_d, rng);
  const std::vector<std::uint8_t> q = bytes_of(nq * positions, pattern_q, rng);
  std::vector<std::uint8_t> tables(static_cast<std::size_t>(nq * positions * hamming_table_bytes));
  for (index_t i = 0; i < nq; ++i)
    detail::hamming_query_tables(q.data() + i * positions, positions,
                                 tables.data() + i * positions * hamming_table_bytes);
  std::vector<std::uint8_t> tiles(static_cast<std::size_t>(ntiles * T * positions), 0xAB);
  detail::hamming_tile_pack_kernel_of(path).fn(d.data(), nd, ldd, positions, tiles.data());
  bool packed = true;
  for (index_t t = 0; t < ntiles; ++t)
    for (index_t r = 0; r < T; ++r)
      for (index_t p = 0; p < positions; ++p) {
        const index_t row = t * T + r;
        const std::uint8_t want = row < nd ? d[static_cast<std::size_t>(row * ldd + p)] : 0;
        packed = packed && tiles[static_cast<std::size_t>((t * positions + p) * T + r)] == want;
      }
  INFO("isa " << isa_name(path) << " nq " << nq << " nd " << nd << " positions " << positions
              << " patterns " << pattern_d << "/" << pattern_q);
  REQUIRE(packed);
  std::vector<std::int32_t> out(static_cast<std::size_t>(nq * ldo), -7);
  detail::hamming_tiles_kernel_of(path).fn(tables.data(), nq, positions, tiles.data(), ntiles,
                                           out.data(), ldo);
  bool same = true;
  for (index_t i = 0; i < nq; ++i) {
    for (index_t r = 0; r < ntiles * T; ++r) {
      std::int32_t want = 0;
      for (index_t p = 0; p < positions; ++p) {
        const unsigned row_byte = r < nd ? d[static_cast<std::size_t>(r * ldd + p)] : 0u;
        want += __builtin_popcount(row_byte ^ q[static_cast<std::size_t>(i * positions + p)]);
      }
      same = same && out[static_cast<std::size_t>(i * ldo + r)] == want;
    }
    for (index_t r = ntiles * T; r < ldo; ++r)
      same = same && out[static_cast<std::size_t>(i * ldo + r)] == -7;
  }
  REQUIRE(same);
}

}  // namespace hamming_tiles_test

using namespace hamming_tiles_test;

TEST_CASE("first_below: the first distance below the bound, every length and hit, every path") {
  std::mt19937 rng(41);
  for (isa path : supported_isas()) {
    const detail::first_below_fn below = detail::first_below_kernel_of(path).fn;
    for (index_t n = 0; n <= 200; ++n) {
      std::vector<std::int32_t> d(static_cast<std::size_t>(n));
      for (auto& v : d) v = static_cast<std::int32_t>(rng() % 1000) + 100;
      INFO("isa " << isa_name(path) << " n " << n);
      REQUIRE(below(d.data(), n, 100) == n);        // none below
      REQUIRE(below(d.data(), n, INT32_MIN) == n);  // nothing is below the smallest int32
      if (n > 0) REQUIRE(below(d.data(), n, INT32_MAX) == 0);
      for (index_t hit = 0; hit < n; ++hit) {
        std::vector<std::int32_t> e = d;
        e[static_cast<std::size_t>(hit)] = 99;
        if (hit + 1 < n) e[static_cast<std::size_t>(n - 1)] = INT32_MIN;  // a later, lower one
        REQUIRE(below(e.data(), n, 100) == hit);
      }
    }
  }
}

TEST_CASE("hamming tiles: packing and scans against a bit count, every row length and path") {
  std::mt19937 rng(42);
  for (isa path : supported_isas()) {
    for (index_t positions = 16; positions <= 512; positions += quick() ? 112 : 16)
      for (index_t nq : {1, 4, 5, 9})
        check_scan(path, nq, positions % 48 == 0 ? 70 : 33, positions, 0, 0, rng);
    for (index_t nd : {1, 15, 16, 17, 31, 32, 33, 64, 95}) check_scan(path, 6, nd, 48, 0, 0, rng);
    // All bits differing, none, and alternating against all-ones; the longest rows the kernels'
    // 16-bit sums allow, with every bit differing.
    for (int pd = 1; pd <= 3; ++pd)
      for (int pq = 1; pq <= 3; ++pq) check_scan(path, 5, 40, 512, pd, pq, rng);
    if (!quick()) check_scan(path, 2, 32, hamming_tile_max_positions - 16, 1, 2, rng);
  }
}

TEST_CASE("hamming_index: batches take the tile scan where it pays, with one answer") {
  // The AVX2 family scans tiles from tile_min_queries queries on; every other path keeps rows.
  for (isa path : supported_isas()) {
    const bool avx2_family = detail::hamming_tiles_kernel_of(path).path == isa::avx2 &&
                             detail::hamming_kernel_of(path).path == isa::avx2;
    INFO("isa " << isa_name(path));
    for (index_t bits : {64, 128, 136, 256, 4096}) {
      const hamming_index index(bits, path);
      const index_t from = hamming_index::tile_min_queries(index.codes().stride());
      CHECK(from == (bits <= 128 ? 8 : 32));
      CHECK(index.uses_tiles(from) == avx2_family);
      CHECK(index.uses_tiles(1000) == avx2_family);
      CHECK_FALSE(index.uses_tiles(from - 1));
    }
  }
  // Tiles and rows give the same top-k (ties broken by the lower id): the same queries one at a
  // time (rows) and as a batch (tiles where the path has them), every B of the index, threads.
  std::mt19937 rng(43);
  for (isa path : supported_isas()) {
    for (index_t bits = 64; bits <= 4096; bits += (quick() ? 392 : 56) + (bits > 512 ? 456 : 0)) {
      const index_t n = 700 + bits % 29;
      matrix_u8 db(n, bits / 8), q(35, bits / 8);  // a batch of 35 takes tiles at every B
      for (index_t i = 0; i < db.size(); ++i) db.data()[i] = static_cast<std::uint8_t>(rng() % 3);
      for (index_t i = 0; i < q.size(); ++i) q.data()[i] = static_cast<std::uint8_t>(rng() % 3);
      hamming_index index(bits, path);
      index.add(db);
      const hamming_topk batch = index.search(q, 10);
      thread_pool pool(2);
      const hamming_topk threaded = index.search(q, 10, pool);
      INFO("isa " << isa_name(path) << " B " << bits);
      REQUIRE(threaded.ids == batch.ids);
      for (index_t i = 0; i < q.rows(); ++i) {
        const hamming_topk one = index.search(q.middleRows(i, 1), 10);
        for (index_t r = 0; r < 10; ++r) {
          REQUIRE(one.ids[static_cast<std::size_t>(r)] ==
                  batch.ids[static_cast<std::size_t>(i * 10 + r)]);
          REQUIRE(one.distances[static_cast<std::size_t>(r)] ==
                  batch.distances[static_cast<std::size_t>(i * 10 + r)]);
        }
      }
    }
  }
}
