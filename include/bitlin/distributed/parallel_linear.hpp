// Tensor-parallel BitLinear in the Megatron arrangement, with the BitNet paper's group
// quantization: every quantization group lies inside one shard, so each rank quantizes its own
// weights and activations without talking to the others, and the only communication is the
// usual all-gather (column-parallel output) or all-reduce of partial sums (row-parallel).
//
//  column_parallel_linear  W [N x K] split by output rows: rank p holds rows [p N/P, (p+1) N/P).
//      The input is replicated (each rank quantizes the same tokens the same way); the weight
//      scales are per shard (alpha_g, beta_g: the full layer's scale_groups::row_groups(N/P)).
//      The output stays split (feed it to a row-parallel layer) or is all-gathered.
//  row_parallel_linear     W [N x K] split by input columns: rank p holds columns
//      [p K/P, (p+1) K/P) and reads the matching slice of the input. Weight scales are per shard
//      (the full layer's scale_groups{0, K/P}); activation scales per (token, shard) (the full
//      layer's scale_groups::k_blocks(K/P)). The float partial products are summed in rank order
//      (ordered_all_reduce_sum) and the bias is added once, after the sum.
//
// Exactness: each rank's integer products are exactly the full layer's products restricted to its
// shard, and the float result equals the single-process bit_linear with the same groups
// (reference_bitlinear_matmul adds the per-block partials in the same order), bit for bit. Groups
// finer than the shard along K (activation k_blocks inside a shard) stay exact in integers, but
// the floats are then summed per shard first and then across shards, which differs from the
// single process's flat sum over the blocks in the last bits; keep one activation group per
// (token, shard) where bit-identical results matter.
#pragma once

#include <utility>
#include <vector>

#include "bitlin/distributed/communicator.hpp"
#include "bitlin/layers/bit_linear.hpp"

namespace bitlin::distributed {

// The [begin, end) of shard `rank` when `n` is split evenly over `ranks`; n must be divisible.
struct shard_range {
  index_t begin = 0, end = 0;
  index_t size() const { return end - begin; }
};

inline shard_range even_shard(index_t n, int ranks, int rank, const char* what) {
  BITLIN_REQUIRE(ranks >= 1 && rank >= 0 && rank < ranks, value_error, what, ": rank ", rank,
                 " of ", ranks);
  BITLIN_REQUIRE(n % ranks == 0, shape_error, what, ": ", n, " is not divisible by ", ranks,
                 " ranks");
  const index_t s = n / ranks;
  return {rank * s, (rank + 1) * s};
}

namespace detail {
// The group size along one axis of a shard [b, e) of an axis of `extent` cut into groups of `g`:
// groups must lie inside the shard (then they keep their size) or the shard inside one group
// (then the shard has a single group along that axis: 0).
inline index_t shard_group(index_t g, index_t extent, index_t b, index_t e, const char* what) {
  if (e <= b) return 0;
  if (b / g == (e - 1) / g) return 0;
  BITLIN_REQUIRE(b % g == 0 && ((e - b) % g == 0 || e == extent), shape_error, what,
                 ": scale groups of ", g, " straddle the shard boundary [", b, ", ", e, ")");
  return g;
}
}  // namespace detail

// The scales of the sub-matrix [r0, r1) x [c0, c1) of weights scaled by `full`. Throws unless
// every scale group of `full` that meets the block lies inside it or contains it.
inline weight_scales slice_scales(const weight_scales& full, index_t r0, index_t r1, index_t c0,
                                  index_t c1) {
  const scale_layout& L = full.layout;
  BITLIN_REQUIRE(0 <= r0 && r0 <= r1 && r1 <= L.rows && 0 <= c0 && c0 <= c1 && c1 <= L.cols,
                 shape_error, "slice_scales: block [", r0, ", ", r1, ") x [", c0, ", ", c1,
                 ") is outside ", L.rows, " x ", L.cols);
  scale_groups g{detail::shard_group(L.group_rows, L.rows, r0, r1, "slice_scales (rows)"),
                 detail::shard_group(L.group_cols, L.cols, c0, c1, "slice_scales (columns)")};
  weight_scales out;
  out.convention = full.convention;
  out.layout = scale_layout(r1 - r0, c1 - c0, g);
  out.values.resize(static_cast<std::size_t>(out.layout.size()));
  for (index_t gr = 0; gr < out.layout.row_groups; ++gr)
    for (index_t gc = 0; gc < out.layout.col_groups; ++gc) {
      const index_t r = std::min(r0 + out.layout.row_begin(gr), std::max(r0, r1 - 1));
      const index_t c = std::min(c0 + out.layout.col_begin(gc), std::max(c0, c1 - 1));
      out.values[static_cast<std::size_t>(gr * out.layout.col_groups + gc)] =
          full.values[static_cast<std::size_t>(L.index(r, c))];
    }
  return out;
}

template <class WeightKind = ternary, int ActBits = 8>
class column_parallel_linear {
 public:
  using layer_type = bit_linear<WeightKind, ActBits>;
  using options = typename layer_type::options;

  // Rank comm.rank() quantizes its rows of the full float weights [N x K] with opt.weight_groups
  // inside its shard (per tensor by default: one scale per shard).
  static column_parallel_linear from_float(const communicator& comm,
                                           const Eigen::Ref<const matrix_f>& W,
                                           const float* bias = nullptr, options opt = {}) {
    const shard_range s = even_shard(W.rows(), comm.size(), comm.rank(), "column_parallel_linear");
    return column_parallel_linear(comm, W.cols(), W.rows(), s,
                                  layer_type::from_float(W.middleRows(s.begin, s.size()),
                                                         bias ? bias + s.begin : nullptr, opt));
  }

  // Rank comm.rank() keeps its rows of already quantized full weights; their scale groups must
  // not straddle a shard boundary (slice_scales).
  static column_parallel_linear from_quantized(const communicator& comm,
                                               const Eigen::Ref<const matrix_i8>& q,
                                               const weight_scales& scales,
                                               const float* bias = nullptr, options opt = {}) {
    scales.validate(q.rows(), q.cols(), "column_parallel_linear");
    const shard_range s = even_shard(q.rows(), comm.size(), comm.rank(), "column_parallel_linear");
    return column_parallel_linear(
        comm, q.cols(), q.rows(), s,
        layer_type::from_quantized(q.middleRows(s.begin, s.size()),
                                   slice_scales(scales, s.begin, s.end, 0, q.cols()),
                                   bias ? bias + s.begin : nullptr, opt));
  }

  index_t in_features() const { return in_; }
  index_t out_features() const { return out_; }
  shard_range shard() const { return shard_; }
  const layer_type& local() const { return local_; }
  layer_type& local() { return local_; }
  const communicator& comm() const { return *comm_; }

  // This rank's output columns [T x N/P]: no communication (Megatron feeds them to the next,
  // row-parallel layer as they are).
  matrix_f forward_local(const Eigen::Ref<const matrix_f>& x) const { return local_.forward(x); }

  // The whole output [T x N] on every rank (all-gather of the shards).
  matrix_f forward(const Eigen::Ref<const matrix_f>& x) const { return gather(forward_local(x)); }

  // Concatenates every rank's [T x N/P] block into [T x N].
  matrix_f gather(const matrix_f& y_local) const {
    BITLIN_REQUIRE(y_local.cols() == shard_.size(), shape_error,
                   "column_parallel_linear::gather: local output has ", y_local.cols(),
                   " columns, the shard has ", shard_.size());
    const index_t T = y_local.rows(), n = shard_.size();
    const std::vector<float> all =
        all_gather(*comm_, y_local.data(), static_cast<std::size_t>(T * n));
    matrix_f y(T, out_);
    for (int r = 0; r < comm_->size(); ++r)
      for (index_t t = 0; t < T; ++t)
        std::copy_n(all.data() + (static_cast<index_t>(r) * T + t) * n, n, y.row(t).data() + r * n);
    return y;
  }

 private:
  column_parallel_linear(const communicator& comm, index_t in, index_t out, shard_range s,
                         layer_type local)
      : comm_(&comm), in_(in), out_(out), shard_(s), local_(std::move(local)) {}

  const communicator* comm_;
  index_t in_, out_;
  shard_range shard_;
  layer_type local_;
};

template <class WeightKind = ternary, int ActBits = 8>
class row_parallel_linear {
 public:
  using layer_type = bit_linear<WeightKind, ActBits>;
  using options = typename layer_type::options;

  // Rank comm.rank() quantizes its columns of the full float weights [N x K] with
  // opt.weight_groups inside its shard; opt.act_groups are the activation groups inside the shard
  // (per token by default: gamma per (token, shard)). A normalization over the whole input row
  // would need the other shards, so opt.norm must be none.
  static row_parallel_linear from_float(const communicator& comm,
                                        const Eigen::Ref<const matrix_f>& W,
                                        const float* bias = nullptr, options opt = {}) {
    check_options(opt);
    const shard_range s = even_shard(W.cols(), comm.size(), comm.rank(), "row_parallel_linear");
    return row_parallel_linear(
        comm, W.cols(), W.rows(), s, bias,
        layer_type::from_float(W.middleCols(s.begin, s.size()), nullptr, opt));
  }

  static row_parallel_linear from_quantized(const communicator& comm,
                                            const Eigen::Ref<const matrix_i8>& q,
                                            const weight_scales& scales,
                                            const float* bias = nullptr, options opt = {}) {
    check_options(opt);
    scales.validate(q.rows(), q.cols(), "row_parallel_linear");
    const shard_range s = even_shard(q.cols(), comm.size(), comm.rank(), "row_parallel_linear");
    return row_parallel_linear(
        comm, q.cols(), q.rows(), s, bias,
        layer_type::from_quantized(q.middleCols(s.begin, s.size()),
                                   slice_scales(scales, 0, q.rows(), s.begin, s.end), nullptr,
                                   opt));
  }

  index_t in_features() const { return in_; }
  index_t out_features() const { return out_; }
  shard_range shard() const { return shard_; }
  const layer_type& local() const { return local_; }
  layer_type& local() { return local_; }
  const communicator& comm() const { return *comm_; }

  // x_local: this rank's input columns [T x K/P]. Returns the whole output [T x N] on every rank.
  matrix_f forward(const Eigen::Ref<const matrix_f>& x_local) const {
    return forward_quantized(local_.quantize_input(x_local));
  }
  // The input already quantized (per the local layer's groups).
  matrix_f forward_quantized(const quantized_activations& xq_local) const {
    matrix_f y(xq_local.q.rows(), out_);
    local_.forward_quantized(xq_local, y);
    reduce(y);
    return y;
  }
  // The whole input [T x K] (replicated): each rank reads its columns.
  matrix_f forward_full(const Eigen::Ref<const matrix_f>& x) const {
    BITLIN_REQUIRE(x.cols() == in_, shape_error, "row_parallel_linear: input has ", x.cols(),
                   " features, the layer expects ", in_);
    return forward(x.middleCols(shard_.begin, shard_.size()));
  }

  // Sums every rank's partial output in rank order, then adds the bias: the row-parallel
  // epilogue, for callers that run the local product themselves.
  void reduce(matrix_f& partial) const {
    BITLIN_REQUIRE(partial.cols() == out_, shape_error,
                   "row_parallel_linear::reduce: ", partial.cols(), " columns, expected ", out_);
    ordered_all_reduce_sum(*comm_, partial.data(), static_cast<std::size_t>(partial.size()));
    if (!bias_.empty())
      for (index_t t = 0; t < partial.rows(); ++t)
        for (index_t n = 0; n < out_; ++n) partial(t, n) += bias_[static_cast<std::size_t>(n)];
  }

 private:
  static void check_options(const options& opt) {
    BITLIN_REQUIRE(opt.norm == norm_kind::none, value_error,
                   "row_parallel_linear: a normalization over the whole input row cannot run on "
                   "one shard of it; normalize before splitting or use norm_kind::none");
  }

  row_parallel_linear(const communicator& comm, index_t in, index_t out, shard_range s,
                      const float* bias, layer_type local)
      : comm_(&comm), in_(in), out_(out), shard_(s), local_(std::move(local)) {
    if (bias) {
      bias_.assign(bias, bias + out);
      for (std::size_t i = 0; i < bias_.size(); ++i)
        BITLIN_REQUIRE(std::isfinite(bias_[i]), value_error, "row_parallel_linear: bias ", i,
                       " is ", bias_[i]);
    }
  }

  const communicator* comm_;
  index_t in_, out_;
  shard_range shard_;
  std::vector<float> bias_;
  layer_type local_;
};

}  // namespace bitlin::distributed
