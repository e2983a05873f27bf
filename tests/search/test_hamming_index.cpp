// hamming_index against a brute-force reference (full sort by (distance, id)) on every ISA path:
// every B from 64 to 4096 in steps that hit every 16-byte tail, N not a multiple of the block,
// many exact ties (codes drawn from a small pool), k = 1 .. N, query batches, thread counts; the
// binarizer (sign after an optional mean), re-scoring with float and int8 vectors, and bad input.
#include <bitlin/search/hamming_index.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::quick;

matrix_u8 random_codes(index_t n, index_t bytes, std::mt19937& rng) {
  matrix_u8 c(n, bytes);
  for (index_t i = 0; i < c.size(); ++i) c.data()[i] = static_cast<std::uint8_t>(rng());
  return c;
}

// Codes drawn from a pool of `distinct` codes: many exact duplicates, so ties decide the order.
matrix_u8 tied_codes(index_t n, index_t bytes, index_t distinct, std::mt19937& rng) {
  const matrix_u8 pool = random_codes(distinct, bytes, rng);
  matrix_u8 c(n, bytes);
  for (index_t i = 0; i < n; ++i) c.row(i) = pool.row(static_cast<index_t>(rng() % distinct));
  return c;
}

hamming_topk brute_force(const matrix_u8& db, const matrix_u8& q, index_t k) {
  hamming_topk out;
  out.queries = q.rows();
  out.k = k;
  for (index_t i = 0; i < q.rows(); ++i) {
    std::vector<std::pair<std::int32_t, index_t>> all;
    for (index_t j = 0; j < db.rows(); ++j) {
      std::int32_t d = 0;
      for (index_t b = 0; b < db.cols(); ++b)
        d += __builtin_popcount(static_cast<unsigned>(db(j, b) ^ q(i, b)));
      all.push_back({d, j});
    }
    std::sort(all.begin(), all.end());
    for (index_t r = 0; r < k; ++r) {
      out.distances.push_back(all[static_cast<std::size_t>(r)].first);
      out.ids.push_back(all[static_cast<std::size_t>(r)].second);
    }
  }
  return out;
}

void require_same(const hamming_topk& a, const hamming_topk& b) {
  REQUIRE(a.queries == b.queries);
  REQUIRE(a.k == b.k);
  REQUIRE(a.distances == b.distances);
  REQUIRE(a.ids == b.ids);
}

}  // namespace

TEST_CASE("hamming_index: exact top-k with ties against brute force, every B and path") {
  std::mt19937 rng(21);
  for (isa path : supported_isas()) {
    for (index_t bits = 64; bits <= 4096; bits += (quick() ? 200 : 8) + (bits > 512 ? 248 : 0)) {
      const index_t bytes = bits / 8;
      const index_t n = 1100 + bits % 37;  // more than one block, not a multiple of 4
      const matrix_u8 db =
          (bits / 8) % 2 ? random_codes(n, bytes, rng) : tied_codes(n, bytes, 40, rng);
      const matrix_u8 q = random_codes(3, bytes, rng);
      hamming_index index(bits, path);
      index.add(db.topRows(500));
      index.add(db.bottomRows(n - 500));
      REQUIRE(index.size() == n);
      for (index_t k : {index_t{1}, index_t{10}, index_t{77}}) {
        INFO("isa " << isa_name(path) << " B " << bits << " k " << k);
        require_same(index.search(q, k), brute_force(db, q, k));
      }
    }
  }
}

TEST_CASE("hamming_index: k = N, duplicates, batches and threads give one answer") {
  std::mt19937 rng(22);
  const index_t bits = 256, n = 3000;
  const matrix_u8 db = tied_codes(n, bits / 8, 5, rng);
  const matrix_u8 q = random_codes(37, bits / 8, rng);
  const hamming_topk ref = brute_force(db, q, 25);
  for (isa path : supported_isas()) {
    hamming_index index(bits, path);
    index.add(db);
    require_same(index.search(q, 25), ref);
    for (int th : {2, 3}) {
      thread_pool pool(th);
      require_same(index.search(q, 25, pool), ref);
    }
    // Every code at once, and a single-code database.
    require_same(index.search(q.topRows(2), n), brute_force(db, q.topRows(2), n));
    hamming_index one(bits, path);
    one.add(db.topRows(1));
    require_same(one.search(q, 1), brute_force(db.topRows(1), q, 1));
  }
}

TEST_CASE("binarizer: sign per dimension, optionally after the mean") {
  matrix_f X(3, 10);
  for (index_t r = 0; r < 3; ++r)
    for (index_t c = 0; c < 10; ++c)
      X(r, c) = static_cast<float>(r) - 1.0f + 0.5f * static_cast<float>(c % 2);
  const matrix_u8 plain = binarizer(10).encode(X);
  REQUIRE(plain.cols() == 2);
  CHECK(plain(0, 0) == 0x00);  // -1, -0.5: all negative
  CHECK(plain(1, 0) == 0xAA);  // 0 (-> 0) and 0.5 (-> 1) alternating
  CHECK(plain(2, 1) == 0x03);  // the 2 dimensions 8, 9 are positive
  const binarizer centred = binarizer::fit(X);
  CHECK(centred.mean()[0] == 0.0f);
  CHECK(centred.mean()[1] == 0.5f);
  const matrix_u8 c = centred.encode(X);
  CHECK(c(1, 0) == 0x00);  // the middle row equals the mean: sign(0) -> 0
  CHECK(c(2, 0) == 0xFF);
  matrix_f bad = X;
  bad(1, 1) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(centred.encode(bad), value_error);
  CHECK_THROWS_AS(centred.encode(X.leftCols(9)), shape_error);
}

TEST_CASE("two-stage retrieval: binary top-k re-scored with float and int8 vectors") {
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const index_t dims = 128, n = 2000;
  matrix_f base(n, dims), queries(4, dims);
  for (index_t i = 0; i < base.size(); ++i) base.data()[i] = nd(rng);
  for (index_t i = 0; i < queries.size(); ++i) queries.data()[i] = nd(rng);
  // Make query 0 a near-copy of vector 1234 so the binary stage must find it.
  queries.row(0) = base.row(1234) + 0.05f * queries.row(1);
  const binarizer enc = binarizer::fit(base);
  hamming_index index(dims);
  index.add(enc.encode(base));
  const hamming_topk cand = index.search(enc.encode(queries), 50);
  const auto fr = rescore_dot(cand, queries, base, 5);
  REQUIRE(fr.k == 5);
  CHECK(fr.ids[0] == 1234);
  for (index_t q = 0; q < 4; ++q)
    for (index_t i = 0; i + 1 < 5; ++i) {
      const auto a = fr.scores[static_cast<std::size_t>(q * 5 + i)],
                 b = fr.scores[static_cast<std::size_t>(q * 5 + i + 1)];
      CHECK(a >= b);
    }
  // int8: exact integer scores, recomputed here.
  matrix_i8 bq(n, dims), qq(4, dims);
  for (index_t i = 0; i < bq.size(); ++i)
    bq.data()[i] = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  for (index_t i = 0; i < qq.size(); ++i)
    qq.data()[i] = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  const auto ir = rescore_dot(cand, qq, bq, 50);
  for (index_t q = 0; q < 4; ++q)
    for (index_t i = 0; i < 50; ++i) {
      const index_t id = ir.ids[static_cast<std::size_t>(q * 50 + i)];
      std::int64_t e = 0;
      for (index_t c = 0; c < dims; ++c) e += qq(q, c) * bq(id, c);
      CHECK(ir.scores[static_cast<std::size_t>(q * 50 + i)] == e);
      if (i > 0) {
        const auto prev = ir.scores[static_cast<std::size_t>(q * 50 + i - 1)];
        CHECK((prev > e || (prev == e && ir.ids[static_cast<std::size_t>(q * 50 + i - 1)] < id)));
      }
    }
  CHECK_THROWS_AS(rescore_dot(cand, queries, base, 51), value_error);
  CHECK_THROWS_AS(rescore_dot(cand, queries.leftCols(10), base, 5), shape_error);
}

TEST_CASE("hamming_index: bad input is a clear error") {
  CHECK_THROWS_AS(hamming_index(100), value_error);   // not a multiple of 8
  CHECK_THROWS_AS(hamming_index(56), value_error);    // below 64
  CHECK_THROWS_AS(hamming_index(4104), value_error);  // above 4096
  hamming_index index(64);
  std::mt19937 rng(24);
  index.add(random_codes(5, 8, rng));
  CHECK_THROWS_AS(index.add(random_codes(2, 9, rng)), shape_error);
  CHECK_THROWS_AS(index.search(random_codes(1, 16, rng), 1), shape_error);  // wrong width
  CHECK_THROWS_AS(index.search(random_codes(1, 8, rng), 6), value_error);   // k > N
  CHECK_THROWS_AS(index.search(random_codes(1, 8, rng), 0), value_error);
  try {
    index.search(random_codes(1, 8, rng), 6);
  } catch (const value_error& e) {
    CHECK(std::string(e.what()).find("k = 6") != std::string::npos);
  }
  CHECK_THROWS_AS(index.search(bit_rows(1, 128), 1), shape_error);
}
