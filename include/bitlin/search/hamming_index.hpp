// Exact Hamming top-k search over packed binary codes (binary embedding retrieval): an index owns
// N codes of B bits (B a multiple of 8 from 64 to 4096) in the layout the Hamming kernels read
// (gemm/bit_rows.hpp), and answers a batch of queries with the k nearest codes each, ties broken
// by the lower database index so results are deterministic (and independent of the thread count).
// The scan runs database blocks through the dispatched Hamming kernel (kernels/hamming/) and the
// executor; with many queries each block is reused from cache by groups of queries.
//
// Around it, the two steps retrieval needs: float -> binary codes (sign of each dimension,
// optionally after subtracting a per-dimension mean: binarizer), and re-scoring the candidates of
// the first stage with int8 or float vectors (rescore_dot).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/gemm/bit_rows.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/hamming/kernels.hpp"

namespace bitlin {

// k results per query, row-major [queries x k], ascending by (distance, id).
struct hamming_topk {
  index_t queries = 0, k = 0;
  std::vector<std::int32_t> distances;
  std::vector<index_t> ids;
};

namespace detail {

// The k best (distance, id) pairs seen so far, sorted ascending; candidates arrive with
// increasing ids within one scan, so an equal distance never displaces an entry.
class topk_list {
 public:
  explicit topk_list(index_t k = 0) : k_(k) { items_.reserve(static_cast<std::size_t>(k)); }
  std::int32_t bound() const {
    return static_cast<index_t>(items_.size()) < k_ ? std::numeric_limits<std::int32_t>::max()
                                                    : items_.back().first;
  }
  bool full() const { return static_cast<index_t>(items_.size()) == k_; }
  index_t capacity() const { return k_; }
  // Inserts in (distance, id) order, dropping the worst when full.
  void offer(std::int32_t d, index_t id) {
    const std::pair<std::int32_t, index_t> v{d, id};
    if (full()) {
      if (!(v < items_.back())) return;
      items_.pop_back();
    }
    items_.insert(std::upper_bound(items_.begin(), items_.end(), v), v);
  }
  const std::vector<std::pair<std::int32_t, index_t>>& items() const { return items_; }

 private:
  index_t k_;
  std::vector<std::pair<std::int32_t, index_t>> items_;
};

}  // namespace detail

class hamming_index {
 public:
  static constexpr index_t min_bits = 64, max_bits = 4096;
  // Database bytes per block and queries per kernel call: a block (at most 16 KiB of codes, at
  // most 1024 codes) and the distances of a group of queries against it (at most 16 KiB) stay in
  // the L1 cache (32 KiB and more) while the group's distances are computed and then read by the
  // top-k scan, so with many queries the database is read from memory once and from L1 by
  // every query.
  static constexpr index_t block_bytes = 16384, max_block_rows = 1024, query_group = 4;
  static index_t block_rows_for(index_t stride) {
    return std::clamp<index_t>(block_bytes / stride / 16 * 16, 16, max_block_rows);
  }

  explicit hamming_index(index_t bits, isa target = active_isa()) {
    BITLIN_REQUIRE(bits % 8 == 0 && bits >= min_bits && bits <= max_bits, value_error,
                   "hamming_index: B = ", bits, " bits; B must be a multiple of 8 in [", min_bits,
                   ", ", max_bits, "]");
    codes_ = bit_rows(0, bits);
    set_target(target);
  }

  // Appends codes [n x B/8] (one packed code per row, bit i at byte i / 8, bit i % 8).
  void add(const Eigen::Ref<const matrix_u8>& codes) {
    BITLIN_REQUIRE(codes.cols() == code_bytes(), shape_error, "hamming_index::add: codes are ",
                   codes.cols(), " bytes wide, the index holds ", bits(), "-bit (", code_bytes(),
                   "-byte) codes");
    const index_t n0 = size();
    codes_.resize_rows(n0 + codes.rows());
    for (index_t r = 0; r < codes.rows(); ++r) codes_.assign_rows(n0 + r, codes.row(r).data(), 1);
  }

  index_t size() const { return codes_.rows(); }
  index_t bits() const { return codes_.bits(); }
  index_t code_bytes() const { return codes_.code_bytes(); }
  const bit_rows& codes() const { return codes_; }
  // Bytes a full scan reads (each code's padded row).
  std::size_t scan_bytes() const { return codes_.bytes(); }
  isa target() const { return target_; }
  void set_target(isa target) {
    BITLIN_REQUIRE(isa_supported(target), value_error, "hamming_index: ISA '", isa_name(target),
                   "' is not supported by this build or CPU");
    target_ = target;
  }

  // The k nearest codes of each query [Q x B/8].
  hamming_topk search(const Eigen::Ref<const matrix_u8>& queries, index_t k,
                      const executor& ex = serial()) const {
    BITLIN_REQUIRE(queries.cols() == code_bytes(), shape_error,
                   "hamming_index::search: queries are ", queries.cols(),
                   " bytes wide, the index holds ", bits(), "-bit (", code_bytes(), "-byte) codes");
    bit_rows q(queries.rows(), bits());
    for (index_t r = 0; r < queries.rows(); ++r) q.assign_rows(r, queries.row(r).data(), 1);
    return search(q, k, ex);
  }

  hamming_topk search(const bit_rows& queries, index_t k, const executor& ex = serial()) const {
    BITLIN_REQUIRE(queries.bits() == bits(), shape_error, "hamming_index::search: queries have ",
                   queries.bits(), " bits, the index holds ", bits(), "-bit codes");
    BITLIN_REQUIRE(k >= 1 && k <= size(), value_error, "hamming_index::search: k = ", k,
                   " must be in [1, N = ", size(), "]");
    const index_t nq = queries.rows();
    hamming_topk out;
    out.queries = nq;
    out.k = k;
    if (nq == 0) return out;
    std::vector<detail::topk_list> best(static_cast<std::size_t>(nq), detail::topk_list(k));
    const bool tiled = uses_tiles(nq);
    const index_t slice = tiled ? tile_query_slice(codes_.stride()) : nq;
    for (index_t q0 = 0; q0 < nq; q0 += slice)
      scan(queries, q0, std::min(nq, q0 + slice), tiled, ex, best);
    out.distances.resize(static_cast<std::size_t>(nq * k));
    out.ids.resize(static_cast<std::size_t>(nq * k));
    for (index_t q = 0; q < nq; ++q) {
      const auto& items = best[static_cast<std::size_t>(q)].items();
      for (index_t i = 0; i < k; ++i) {
        out.distances[static_cast<std::size_t>(q * k + i)] =
            items[static_cast<std::size_t>(i)].first;
        out.ids[static_cast<std::size_t>(q * k + i)] = items[static_cast<std::size_t>(i)].second;
      }
    }
    return out;
  }

  // Whether a batch of nq queries scans Hamming tiles (kernels/hamming/args.hpp) instead of the
  // rows: from tile_min_queries(stride) queries on, where the target has a tile kernel of its own
  // at least as specific as its row kernel (a portable tile kernel is slower than the portable
  // popcount on rows, and VPOPCNTQ on rows beats the AVX2 tiles). Packing a block costs about as
  // many instructions as one query's scan of it, and a batch needs enough queries to repay it:
  // measured on 1M codes (AVX2 tiles against AVX2 rows, one thread, Sapphire Rapids), B = 256 to
  // 4096 bits break even at 16 to 32 queries and gain 1.3-1.5x at 64; 16-byte codes (B <= 128),
  // where the row kernel has no whole 32-byte register, gain 2x already at 8.
  static index_t tile_min_queries(index_t stride) { return stride <= 16 ? 8 : 32; }
  bool uses_tiles(index_t nq) const {
    const isa tile_path = detail::hamming_tiles_kernel_of(target_).path;
    return nq >= tile_min_queries(codes_.stride()) && tile_path != isa::scalar &&
           tile_path == detail::hamming_kernel_of(target_).path;
  }

 private:
  // Queries per tile pass: their nibble tables (32 bytes per code byte) stay within 4 MiB.
  static index_t tile_query_slice(index_t stride) {
    const index_t per_query = stride * hamming_table_bytes;
    return std::max<index_t>(query_group,
                             (index_t{4} << 20) / per_query / query_group * query_group);
  }

  // Queries [qa, qb) against the whole database (through tiles or rows, as search decided for the
  // whole batch), into best[qa..qb).
  void scan(const bit_rows& queries, index_t qa, index_t qb, bool tiled, const executor& ex,
            std::vector<detail::topk_list>& best) const {
    const index_t nq = qb - qa, k = best[0].capacity();
    const detail::hamming_fn fn = detail::hamming_kernel_of(target_).fn;
    const detail::hamming_tile_pack_fn pack = detail::hamming_tile_pack_kernel_of(target_).fn;
    const detail::hamming_tiles_fn tiles_fn = detail::hamming_tiles_kernel_of(target_).fn;
    const detail::first_below_fn below = detail::first_below_kernel_of(target_).fn;
    const index_t n = size(), stride = codes_.stride();
    const index_t block_rows =
        detail::ceil_div(block_rows_for(stride), hamming_tile_rows) * hamming_tile_rows;
    const index_t blocks = detail::ceil_div(n, block_rows);
    const index_t table_step = stride * hamming_table_bytes;
    std::vector<std::uint8_t> tables;
    if (tiled) {
      tables.resize(static_cast<std::size_t>(nq * table_step));
      for (index_t q = 0; q < nq; ++q)
        detail::hamming_query_tables(queries.row(qa + q), stride, tables.data() + q * table_step);
    }
    std::mutex merge;
    ex.parallel_for(blocks, 1, [&](index_t b0, index_t b1) {
      std::vector<detail::topk_list> local(static_cast<std::size_t>(nq), detail::topk_list(k));
      std::vector<std::int32_t> dist(static_cast<std::size_t>(query_group * block_rows));
      std::vector<std::uint8_t> tile(tiled ? static_cast<std::size_t>(block_rows * stride) : 0);
      for (index_t b = b0; b < b1; ++b) {
        const index_t r0 = b * block_rows, r1 = std::min(n, r0 + block_rows), nr = r1 - r0;
        if (tiled) pack(codes_.row(r0), nr, stride, stride, tile.data());
        for (index_t q0 = 0; q0 < nq; q0 += query_group) {
          const index_t q1 = std::min(nq, q0 + query_group);
          if (tiled)
            tiles_fn(tables.data() + q0 * table_step, q1 - q0, stride, tile.data(),
                     detail::ceil_div(nr, hamming_tile_rows), dist.data(), block_rows);
          else
            fn(queries.row(qa + q0), q1 - q0, queries.stride(), codes_.row(r0), nr, stride, stride,
               dist.data(), block_rows);
          for (index_t q = q0; q < q1; ++q) {
            detail::topk_list& l = local[static_cast<std::size_t>(q)];
            const std::int32_t* d = dist.data() + (q - q0) * block_rows;
            std::int32_t bound = l.bound();
            // Once the list is full almost no distance is a candidate: the filter kernel skips
            // to the next one below the bound, and only those are offered.
            for (index_t j = below(d, nr, bound); j < nr;
                 j += 1 + below(d + j + 1, nr - j - 1, bound)) {
              l.offer(d[j], r0 + j);
              bound = l.bound();
            }
          }
        }
      }
      // Chunks may finish in any order; merging by (distance, id) makes the result unique.
      std::lock_guard<std::mutex> lock(merge);
      for (index_t q = 0; q < nq; ++q)
        for (const auto& it : local[static_cast<std::size_t>(q)].items())
          best[static_cast<std::size_t>(qa + q)].offer(it.first, it.second);
    });
  }

  bit_rows codes_;
  isa target_ = isa::scalar;
};

// float vectors -> binary codes: bit d = (x_d - mean_d) > 0, mean 0 unless fitted.
class binarizer {
 public:
  explicit binarizer(index_t dims) : mean_(static_cast<std::size_t>(dims), 0.0f) {
    BITLIN_REQUIRE(dims >= 0, shape_error, "binarizer: ", dims, " dimensions");
  }
  // Centres on the per-dimension mean of X (rows are vectors), accumulated in double.
  static binarizer fit(const Eigen::Ref<const matrix_f>& X) {
    BITLIN_REQUIRE(X.rows() > 0, shape_error, "binarizer::fit: no vectors");
    binarizer b(X.cols());
    for (index_t c = 0; c < X.cols(); ++c) {
      double s = 0.0;
      for (index_t r = 0; r < X.rows(); ++r) {
        BITLIN_REQUIRE(std::isfinite(X(r, c)), value_error, "binarizer::fit: element (", r, ", ", c,
                       ") is ", X(r, c));
        s += X(r, c);
      }
      b.mean_[static_cast<std::size_t>(c)] = static_cast<float>(s / static_cast<double>(X.rows()));
    }
    return b;
  }
  index_t dims() const { return static_cast<index_t>(mean_.size()); }
  const std::vector<float>& mean() const { return mean_; }

  // Codes [rows x ceil(dims / 8)]; NaN or Inf is a value_error.
  matrix_u8 encode(const Eigen::Ref<const matrix_f>& X) const {
    BITLIN_REQUIRE(X.cols() == dims(), shape_error, "binarizer::encode: vectors have ", X.cols(),
                   " dimensions, expected ", dims());
    matrix_u8 codes = matrix_u8::Zero(X.rows(), (dims() + 7) / 8);
    for (index_t r = 0; r < X.rows(); ++r)
      for (index_t c = 0; c < X.cols(); ++c) {
        BITLIN_REQUIRE(std::isfinite(X(r, c)), value_error, "binarizer::encode: element (", r, ", ",
                       c, ") is ", X(r, c));
        if (X(r, c) - mean_[static_cast<std::size_t>(c)] > 0.0f)
          codes(r, c / 8) = static_cast<std::uint8_t>(codes(r, c / 8) | (1u << (c % 8)));
      }
    return codes;
  }

 private:
  std::vector<float> mean_;
};

// Second stage: re-rank each query's candidates by the inner product of the full vectors
// (descending; ties by the lower id) and keep the best `keep`. Float vectors score in double
// (the order does not depend on summation rounding); int8 vectors score exactly in int64.
template <class Scalar>
struct rescored_topk {
  index_t queries = 0, k = 0;
  std::vector<Scalar> scores;
  std::vector<index_t> ids;
};

namespace detail {
template <class Score, class Mat>
rescored_topk<Score> rescore_impl(const hamming_topk& cand, const Mat& queries, const Mat& base,
                                  index_t keep) {
  BITLIN_REQUIRE(queries.rows() == cand.queries, shape_error, "rescore_dot: ", queries.rows(),
                 " query vectors for ", cand.queries, " queries");
  BITLIN_REQUIRE(queries.cols() == base.cols(), shape_error, "rescore_dot: queries have ",
                 queries.cols(), " dimensions, the database ", base.cols());
  BITLIN_REQUIRE(keep >= 1 && keep <= cand.k, value_error, "rescore_dot: keep = ", keep,
                 " must be in [1, ", cand.k, "]");
  rescored_topk<Score> out;
  out.queries = cand.queries;
  out.k = keep;
  std::vector<std::pair<Score, index_t>> s(static_cast<std::size_t>(cand.k));
  for (index_t q = 0; q < cand.queries; ++q) {
    for (index_t i = 0; i < cand.k; ++i) {
      const index_t id = cand.ids[static_cast<std::size_t>(q * cand.k + i)];
      BITLIN_REQUIRE(id >= 0 && id < base.rows(), shape_error, "rescore_dot: candidate id ", id,
                     " outside the ", base.rows(), " database vectors");
      Score acc = 0;
      for (index_t c = 0; c < base.cols(); ++c)
        acc += static_cast<Score>(queries(q, c)) * static_cast<Score>(base(id, c));
      s[static_cast<std::size_t>(i)] = {acc, id};
    }
    std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (index_t i = 0; i < keep; ++i) {
      out.scores.push_back(s[static_cast<std::size_t>(i)].first);
      out.ids.push_back(s[static_cast<std::size_t>(i)].second);
    }
  }
  return out;
}
}  // namespace detail

inline rescored_topk<double> rescore_dot(const hamming_topk& cand,
                                         const Eigen::Ref<const matrix_f>& queries,
                                         const Eigen::Ref<const matrix_f>& base, index_t keep) {
  return detail::rescore_impl<double>(cand, queries, base, keep);
}
inline rescored_topk<std::int64_t> rescore_dot(const hamming_topk& cand,
                                               const Eigen::Ref<const matrix_i8>& queries,
                                               const Eigen::Ref<const matrix_i8>& base,
                                               index_t keep) {
  return detail::rescore_impl<std::int64_t>(cand, queries, base, keep);
}

}  // namespace bitlin
