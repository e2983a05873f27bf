// The BitNet b1.58 model split over P ranks by tensor parallelism (Megatron arrangement): rank p
// holds attention heads [p H/P, (p+1) H/P), KV heads [p KV/P, ...) with their part of the KV cache,
// and intermediate features [p I/P, ...). q/k/v and gate/up are column-parallel (the rank's output
// rows), o and down row-parallel (the rank's input columns, partial sums added in rank order).
// Per layer and token the ranks exchange two all-reduces of the hidden vector plus two tiny ones
// (the sums of squares of the split sub-norms).
//
// Two choices of the activation scale gamma of the row-parallel inputs (o_proj, down_proj),
// tp_activation_scales:
//  * per_token (default): gamma over the whole token, the maximum |x| exchanged between the
//    ranks (max is exact in any order); each rank multiplies its shard in int32, the int32 partial
//    sums are added (exact in any order) and rescaled once. The products are then bit-identical
//    to the single process's; what sharding changes is only that attn_sub_norm / ffn_sub_norm sum
//    their squares per shard (double) and add the P sums in rank order -- the same float unless
//    that double sum rounds differently (relative 2^-53 per addition; the tests find the logits of
//    both fixture checkpoints and the random model bit-identical to the unsharded model).
//  * per_shard: the BitNet paper's group quantization, gamma per (token, shard), no exchange
//    before quantizing; each rank rescales its partial in float and the P floats are added in rank
//    order. This changes the model (the fixture logits move by up to ~3% of max|logit|, median
//    ~0.4%: outside the fixture band), and equals, bit for bit, the single-process model with the
//    same groups (transformer_block's tp_groups = P), which the tests check.
// Weight scales are untouched in both: a published checkpoint's per-tensor scale is shared by
// every shard. Everything else (norms of the replicated stream, RoPE, attention per head, the
// column-parallel products) is bit-identical to the single process.
//
// Embedding and head: the embedding table is replicated (a lookup reads one row per token, there
// is nothing to share, and a split lookup would cost one more all-reduce); the head is split by
// vocabulary -- it is the largest single product of a decode step (128256 x 2560 BF16 = 657 MB in
// BitNet 2B) -- and the logits are all-gathered, so every rank holds the same logits and samples
// the same token without a broadcast.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "bitlin/distributed/communicator.hpp"
#include "bitlin/distributed/parallel_linear.hpp"
#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/layers/attention.hpp"
#include "bitlin/layers/relu2_gate.hpp"
#include "bitlin/quant/act_quant.hpp"
#include "bitlin/model/bitnet.hpp"
#include "bitlin/model/block.hpp"
#include "bitlin/model/kv_cache.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/model/rope.hpp"
#include "bitlin/model/weights.hpp"

namespace bitlin::distributed {

enum class tp_activation_scales { per_token, per_shard };

namespace detail {

// Rows [row0, row0 + rows) / columns [c0, c0 + cols) of a checkpoint projection, keeping its
// per-tensor scale.
inline model::ternary_projection rows_of(const model::ternary_projection& p, index_t row0,
                                         index_t rows) {
  return {p.trits.middleRows(row0, rows), p.scale, p.convention, {}};
}
inline model::ternary_projection cols_of(const model::ternary_projection& p, index_t c0,
                                         index_t cols) {
  return {p.trits.middleCols(c0, cols), p.scale, p.convention, {}};
}

// A row-parallel shard: the layer (for its packed weights) and its scale, for the int32 path.
struct row_shard {
  std::optional<model::projection_layer> layer;
  float scale = 1.0f;
  bool multiply = false;
  std::size_t bytes() const { return layer->weight_bytes() + sizeof(float); }
};

inline row_shard make_row_shard(const model::ternary_projection& p, index_t c0, index_t cols,
                                isa target) {
  const model::ternary_projection part = cols_of(p, c0, cols);
  row_shard r;
  r.layer = model::fuse_projections({&part}, target);
  r.scale = p.scale;
  r.multiply = p.convention == scale_convention::multiply;
  return r;
}

// The fast kernels' epilogue without bias (kernel_args.hpp): the same IEEE operations, so the
// same float for the same int32 sum.
inline float rescale(std::int32_t acc, float sx, float ws, bool multiply) {
  const auto v = static_cast<float>(acc);
  return multiply ? v / sx * ws : v / (sx * ws);
}

// Per-token int8 absmax quantization of X (the model's hot-path quantizer, bit-identical to
// absmax_quantize with per-row groups).
inline quantized_activations quantize_tokens(const matrix_f& X) {
  quantized_activations a;
  a.q.resize(X.rows(), X.cols());
  a.scales.resize(static_cast<std::size_t>(X.rows()));
  a.layout = scale_layout(X.rows(), X.cols(), scale_groups::per_row());
  for (index_t t = 0; t < X.rows(); ++t)
    a.scales[static_cast<std::size_t>(t)] =
        quantize_row_i8(X.row(t).data(), X.cols(), a.q.row(t).data());
  return a;
}

}  // namespace detail

// One decoder layer's shard on this rank.
class sharded_block {
 public:
  sharded_block(const communicator& comm, const model::bitnet_config& c,
                const model::block_weights& w, isa target = active_isa(),
                tp_activation_scales mode = tp_activation_scales::per_token)
      : comm_(&comm),
        mode_(mode),
        heads_(c.num_attention_heads / comm.size()),
        kv_heads_(c.num_key_value_heads / comm.size()),
        head_dim_(c.head_dim),
        hidden_(c.hidden_size),
        q_total_(c.q_size()),
        i_total_(c.intermediate_size),
        eps_(c.rms_norm_eps) {
    const int P = comm.size(), p = comm.rank();
    // The shards take the ternary layers apart (and know no BitLinear LayerNorm).
    BITLIN_REQUIRE(!c.binary() && !c.activation_layer_norm, value_error,
                   "sharded_block: tensor parallelism runs BitNet b1.58 models; this one is ",
                   c.model_kind(),
                   c.activation_layer_norm ? " with activation_norm layer_norm" : "");
    BITLIN_REQUIRE(c.num_attention_heads % P == 0 && c.num_key_value_heads % P == 0, shape_error,
                   "sharded_block: ", P, " ranks must divide num_attention_heads (",
                   c.num_attention_heads, ") and num_key_value_heads (", c.num_key_value_heads,
                   ")");
    auto check = [](const model::ternary_projection& pr, index_t out, index_t in,
                    const char* name) {
      BITLIN_REQUIRE(pr.trits.rows() == out && pr.trits.cols() == in, shape_error,
                     "sharded_block: ", name, " is ", pr.trits.rows(), " x ", pr.trits.cols(),
                     ", expected ", out, " x ", in);
    };
    check(w.q_proj, q_total_, hidden_, "q_proj");
    check(w.k_proj, c.kv_size(), hidden_, "k_proj");
    check(w.v_proj, c.kv_size(), hidden_, "v_proj");
    check(w.o_proj, hidden_, q_total_, "o_proj");
    check(w.gate_proj, i_total_, hidden_, "gate_proj");
    check(w.up_proj, i_total_, hidden_, "up_proj");
    check(w.down_proj, hidden_, i_total_, "down_proj");
    for (const auto* n : {&w.input_layernorm, &w.post_attention_layernorm})
      BITLIN_REQUIRE(static_cast<index_t>(n->size()) == hidden_, shape_error,
                     "sharded_block: a hidden-size norm has ", n->size(), " values");
    BITLIN_REQUIRE(static_cast<index_t>(w.attn_sub_norm.size()) == q_total_ &&
                       static_cast<index_t>(w.ffn_sub_norm.size()) == i_total_,
                   shape_error, "sharded_block: attn_sub_norm / ffn_sub_norm have ",
                   w.attn_sub_norm.size(), " / ", w.ffn_sub_norm.size(), " values");
    const shard_range q = even_shard(q_total_, P, p, "sharded_block (q heads)");
    const shard_range kv = even_shard(c.kv_size(), P, p, "sharded_block (kv heads)");
    const shard_range f = even_shard(i_total_, P, p, "sharded_block (intermediate_size)");
    input_norm_ = w.input_layernorm;
    post_attention_norm_ = w.post_attention_layernorm;
    attn_sub_norm_.assign(w.attn_sub_norm.begin() + q.begin, w.attn_sub_norm.begin() + q.end);
    ffn_sub_norm_.assign(w.ffn_sub_norm.begin() + f.begin, w.ffn_sub_norm.begin() + f.end);
    // The single-process block's fusion (q/k/v, gate/up) applied to this rank's rows.
    const auto qp = detail::rows_of(w.q_proj, q.begin, q.size()),
               kp = detail::rows_of(w.k_proj, kv.begin, kv.size()),
               vp = detail::rows_of(w.v_proj, kv.begin, kv.size()),
               gp = detail::rows_of(w.gate_proj, f.begin, f.size()),
               up = detail::rows_of(w.up_proj, f.begin, f.size());
    qkv_ = model::fuse_projections({&qp, &kp, &vp}, target);
    gate_up_ = model::fuse_projections({&gp, &up}, target);
    o_ = detail::make_row_shard(w.o_proj, q.begin, q.size(), target);
    down_ = detail::make_row_shard(w.down_proj, f.begin, f.size(), target);
  }

  index_t kv_size() const { return kv_heads_ * head_dim_; }
  std::size_t bytes() const {
    const std::size_t norms = input_norm_.size() + post_attention_norm_.size() +
                              attn_sub_norm_.size() + ffn_sub_norm_.size();
    return qkv_->weight_bytes() + o_.bytes() + gate_up_->weight_bytes() + down_.bytes() +
           norms * sizeof(float);
  }

  // transformer_block::forward on this rank's shard; x (the residual stream) is replicated and
  // stays identical on every rank; kv holds this rank's KV heads.
  void forward(matrix_f& x, model::layer_kv& kv, index_t pos0, const model::rope_angles& rope,
               const executor& ex) const {
    const index_t T = x.rows(), qs = heads_ * head_dim_, kvs = kv_size();
    BITLIN_REQUIRE(x.cols() == hidden_, shape_error, "sharded_block: input has ", x.cols(),
                   " features, expected ", hidden_);
    BITLIN_REQUIRE(kv.v.rows() >= pos0 + T && kv.v.cols() == kvs, shape_error,
                   "sharded_block: KV cache too small");
    qkv_->set_executor(ex);
    gate_up_->set_executor(ex);

    // Attention over this rank's heads.
    matrix_f xn(T, hidden_);
    rms_norm(x, input_norm_.data(), eps_, xn);
    matrix_f qkv(T, qs + 2 * kvs);
    qkv_->forward_quantized(detail::quantize_tokens(xn), qkv);
    model::rope_and_store(qkv, heads_, kv_heads_, head_dim_, rope, kv, pos0);
    matrix_f attn(T, qs);
    std::vector<float> scratch;
    model::cached_attention(qkv, heads_, kv_heads_, head_dim_, kv, pos0, attn, scratch, ex);
    split_rms_norm(attn, attn_sub_norm_.data(), q_total_);
    matrix_f out(T, hidden_);
    row_parallel(attn, o_, out, ex);
    x += out;

    // Feed-forward over this rank's intermediate features.
    rms_norm(x, post_attention_norm_.data(), eps_, xn);
    const index_t fs = static_cast<index_t>(ffn_sub_norm_.size());
    matrix_f gu(T, 2 * fs);
    gate_up_->forward_quantized(detail::quantize_tokens(xn), gu);
    matrix_f act(T, fs);
    relu2_gate(gu, act, ex);
    split_rms_norm(act, ffn_sub_norm_.data(), i_total_);
    row_parallel(act, down_, out, ex);
    x += out;
  }

 private:
  // RMSNorm of rows split over the ranks by columns: the same two steps rms_norm(..., block)
  // runs on a whole row (norm/norm.hpp), with the per-shard sums exchanged in between.
  void split_rms_norm(matrix_f& x, const float* weight, index_t total_cols) const {
    std::vector<double> ss(static_cast<std::size_t>(x.rows()));
    for (index_t t = 0; t < x.rows(); ++t)
      ss[static_cast<std::size_t>(t)] = bitlin::detail::sum_squares(x.row(t).data(), x.cols());
    ordered_all_reduce_sum(*comm_, ss.data(), ss.size());
    for (index_t t = 0; t < x.rows(); ++t)
      bitlin::detail::rms_scale(x.row(t).data(), x.cols(), ss[static_cast<std::size_t>(t)],
                                total_cols, weight, eps_, x.row(t).data());
  }

  // out [T x hidden] = the whole product of o_proj / down_proj, on every rank, from this rank's
  // input columns x.
  void row_parallel(const matrix_f& x, const detail::row_shard& w, matrix_f& out,
                    const executor& ex) const {
    const index_t T = x.rows(), K = x.cols(), N = out.cols();
    matrix_i8 q(T, K);
    std::vector<float> sx(static_cast<std::size_t>(T));
    if (mode_ == tp_activation_scales::per_shard) {
      for (index_t t = 0; t < T; ++t)
        sx[static_cast<std::size_t>(t)] = quantize_row_i8(x.row(t).data(), K, q.row(t).data());
    } else {
      // gamma of the whole token: the largest |x| of any shard (exact whatever the order).
      std::vector<float> mx(static_cast<std::size_t>(T));
      for (index_t t = 0; t < T; ++t) {
        bitlin::detail::require_finite(x.row(t), "sharded_block (row-parallel input)");
        mx[static_cast<std::size_t>(t)] = x.row(t).cwiseAbs().maxCoeff();
      }
      const std::vector<float> all = all_gather(*comm_, mx.data(), mx.size());
      for (index_t t = 0; t < T; ++t) {
        float m = 0.0f;
        for (int r = 0; r < comm_->size(); ++r)
          m = std::max(m, all[static_cast<std::size_t>(r * T + t)]);
        // absmax_quantize_row's scale and codes, with the token's global maximum.
        const float s = 127.0f / std::max(m, activation_min_absmax);
        sx[static_cast<std::size_t>(t)] = s;
        for (index_t k = 0; k < K; ++k)
          q(t, k) = bitlin::detail::absmax_code(x(t, k), s, -128.0f, 127.0f);
      }
    }
    matrix_i32 acc(T, N);
    ternary_gemm(w.layer->fast_weights(), q.data(), T, K, acc.data(), N, ex);
    if (mode_ == tp_activation_scales::per_token) {
      // Integer partial sums: exact, so the order of the reduction cannot matter.
      ordered_all_reduce_sum(*comm_, acc.data(), static_cast<std::size_t>(acc.size()));
      for (index_t t = 0; t < T; ++t)
        for (index_t n = 0; n < N; ++n)
          out(t, n) =
              detail::rescale(acc(t, n), sx[static_cast<std::size_t>(t)], w.scale, w.multiply);
    } else {
      for (index_t t = 0; t < T; ++t)
        for (index_t n = 0; n < N; ++n)
          out(t, n) =
              detail::rescale(acc(t, n), sx[static_cast<std::size_t>(t)], w.scale, w.multiply);
      ordered_all_reduce_sum(*comm_, out.data(), static_cast<std::size_t>(out.size()));
    }
  }

  const communicator* comm_;
  tp_activation_scales mode_;
  index_t heads_, kv_heads_, head_dim_, hidden_, q_total_, i_total_;
  float eps_;
  std::vector<float> input_norm_, post_attention_norm_, attn_sub_norm_, ffn_sub_norm_;
  // Set in the constructor body, once the shard is known; mutable only for set_executor (the
  // executor of the current call).
  mutable std::optional<model::projection_layer> qkv_, gate_up_;
  detail::row_shard o_, down_;
};

class sharded_bitnet_model {
 public:
  // The rank's shard of the model whose tensors are given in full (lm_head empty = tied).
  sharded_bitnet_model(const communicator& comm, model::bitnet_config c, model::dense_matrix embed,
                       const std::vector<model::block_weights>& blocks,
                       std::vector<float> final_norm,
                       std::optional<model::dense_matrix> lm_head = std::nullopt,
                       tp_activation_scales mode = tp_activation_scales::per_token,
                       isa target = active_isa())
      : comm_(&comm),
        config_(std::move(c)),
        embed_(std::move(embed)),
        final_norm_(std::move(final_norm)) {
    config_.validate();
    const int P = comm.size(), p = comm.rank();
    BITLIN_REQUIRE(config_.num_attention_heads % P == 0 && config_.num_key_value_heads % P == 0 &&
                       config_.intermediate_size % P == 0,
                   shape_error, "sharded_bitnet_model: ", P,
                   " ranks must divide num_attention_heads (", config_.num_attention_heads,
                   "), num_key_value_heads (", config_.num_key_value_heads,
                   ") and intermediate_size (", config_.intermediate_size, ")");
    BITLIN_REQUIRE(embed_.rows() == config_.vocab_size && embed_.cols() == config_.hidden_size,
                   shape_error, "sharded_bitnet_model: embedding table is ", embed_.rows(), " x ",
                   embed_.cols(), ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    BITLIN_REQUIRE(static_cast<index_t>(blocks.size()) == config_.num_hidden_layers, shape_error,
                   "sharded_bitnet_model: ", blocks.size(), " layers, config says ",
                   config_.num_hidden_layers);
    BITLIN_REQUIRE(static_cast<index_t>(final_norm_.size()) == config_.hidden_size, shape_error,
                   "sharded_bitnet_model: final norm has ", final_norm_.size(),
                   " values, expected ", config_.hidden_size);
    for (const auto& w : blocks) blocks_.emplace_back(comm, config_, w, target, mode);
    const model::dense_matrix& head = lm_head ? *lm_head : embed_;
    BITLIN_REQUIRE(head.rows() == config_.vocab_size && head.cols() == config_.hidden_size,
                   shape_error, "sharded_bitnet_model: lm_head is ", head.rows(), " x ",
                   head.cols(), ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    // Vocabulary shards of ceil(V / P) rows (the last ones may be shorter or empty).
    vocab_chunk_ = (config_.vocab_size + P - 1) / P;
    v0_ = std::min<index_t>(config_.vocab_size, p * vocab_chunk_);
    const index_t v1 = std::min<index_t>(config_.vocab_size, v0_ + vocab_chunk_);
    head_ = slice_rows(head, v0_, v1);
  }

  const model::bitnet_config& config() const { return config_; }
  const communicator& comm() const { return *comm_; }
  model::kv_cache new_cache() const {
    return model::kv_cache(config_.num_hidden_layers,
                           blocks_.empty() ? 0 : blocks_.front().kv_size());
  }

  void use_int8_head(bool on) {
    if (on && !head8_) head8_ = std::make_shared<const model::int8_head>(head_);
    if (!on) head8_.reset();
  }

  // This rank's weight bytes streamed per decode step (its layer shards, its head rows).
  std::size_t bytes_read_per_token() const {
    std::size_t b = final_norm_.size() * sizeof(float);
    for (const auto& blk : blocks_) b += blk.bytes();
    return b + (head8_ ? head8_->bytes() : head_.bytes());
  }

  // Bytes of weights this rank holds (its shards, the replicated embedding, its head rows).
  std::size_t resident_bytes() const {
    std::size_t b = embed_.bytes() + head_.bytes() + final_norm_.size() * sizeof(float);
    if (head8_) b += head8_->bytes();
    for (const auto& blk : blocks_) b += blk.bytes();
    return b;
  }

  // bitnet_model::forward's contract (without hidden states); every rank returns the same logits.
  matrix_f forward(const std::int64_t* ids, index_t n, model::kv_cache& cache,
                   model::logits_for which = model::logits_for::last,
                   const executor& ex = serial()) const {
    BITLIN_REQUIRE(n >= 0, value_error, "sharded_bitnet_model::forward: negative token count");
    BITLIN_REQUIRE(cache.layers() == config_.num_hidden_layers, shape_error,
                   "sharded_bitnet_model::forward: the KV cache belongs to a model with ",
                   cache.layers(), " layers, this one has ", config_.num_hidden_layers);
    const index_t H = config_.hidden_size, V = config_.vocab_size;
    if (n == 0) return matrix_f(0, V);
    for (index_t t = 0; t < n; ++t)
      BITLIN_REQUIRE(ids[t] >= 0 && ids[t] < V, value_error,
                     "sharded_bitnet_model::forward: token id ", ids[t], " at position ", t,
                     " is outside the vocabulary [0, ", V, ")");
    const index_t pos0 = cache.size();
    cache.reserve(pos0 + n);
    matrix_f x(n, H);
    for (index_t t = 0; t < n; ++t) embed_.row(static_cast<index_t>(ids[t]), x.row(t).data());
    const model::rope_angles rope(config_, pos0, n);
    for (index_t l = 0; l < config_.num_hidden_layers; ++l)
      blocks_[static_cast<std::size_t>(l)].forward(x, cache.layer(l), pos0, rope, ex);
    cache.advance(n);
    if (which == model::logits_for::none) return matrix_f(0, V);
    const index_t first = which == model::logits_for::all ? 0 : n - 1;
    matrix_f h = x.bottomRows(n - first);
    rms_norm(h, final_norm_.data(), config_.rms_norm_eps, h);
    return logits(h, ex);
  }

  matrix_f logits(const std::vector<std::int64_t>& ids, const executor& ex = serial()) const {
    model::kv_cache cache = new_cache();
    return forward(ids.data(), static_cast<index_t>(ids.size()), cache, model::logits_for::all, ex);
  }

 private:
  static model::dense_matrix slice_rows(const model::dense_matrix& m, index_t r0, index_t r1) {
    const index_t rows = r1 - r0, cols = m.cols();
    const auto off = static_cast<std::size_t>(r0 * cols), n = static_cast<std::size_t>(rows * cols);
    if (m.storage() == model::dense_storage::bf16)
      return model::dense_matrix::from_bf16(
          rows, cols, std::vector<std::uint16_t>(m.bf16_data() + off, m.bf16_data() + off + n));
    return model::dense_matrix::from_f32(
        rows, cols, std::vector<float>(m.f32_data() + off, m.f32_data() + off + n));
  }

  // The head on this rank's vocabulary rows, then the all-gather of every rank's logits.
  matrix_f logits(const matrix_f& h, const executor& ex) const {
    const index_t T = h.rows(), V = config_.vocab_size, H = config_.hidden_size;
    const index_t mine = head_.rows();
    matrix_f local = matrix_f::Zero(T, vocab_chunk_);
    if (mine > 0) {
      if (head8_)
        head8_->multiply(h.data(), T, H, local.data(), vocab_chunk_, ex);
      else
        head_.multiply(h.data(), T, H, local.data(), vocab_chunk_, ex);
    }
    const std::vector<float> all =
        all_gather(*comm_, local.data(), static_cast<std::size_t>(local.size()));
    matrix_f out(T, V);
    for (int r = 0; r < comm_->size(); ++r) {
      const index_t c0 = r * vocab_chunk_,
                    cn = std::max<index_t>(0, std::min(V - c0, vocab_chunk_));
      for (index_t t = 0; t < T && cn > 0; ++t)
        std::copy_n(all.data() + (static_cast<index_t>(r) * T + t) * vocab_chunk_, cn,
                    out.row(t).data() + c0);
    }
    return out;
  }

  const communicator* comm_;
  model::bitnet_config config_;
  model::dense_matrix embed_;
  std::vector<sharded_block> blocks_;
  std::vector<float> final_norm_;
  model::dense_matrix head_;  // this rank's vocabulary rows
  std::shared_ptr<const model::int8_head> head8_;
  index_t vocab_chunk_ = 0, v0_ = 0;
};

// Loads a checkpoint (every rank reads the tensors; each keeps its shard) and shards it over comm.
inline sharded_bitnet_model load_bitnet_sharded(
    const communicator& comm, const model::bitnet_config& c, const model::checkpoint& ck,
    const model::load_options& opt = {},
    tp_activation_scales mode = tp_activation_scales::per_token) {
  c.validate();
  std::vector<model::block_weights> blocks;
  for (index_t l = 0; l < c.num_hidden_layers; ++l)
    blocks.push_back(model::read_block_weights(ck, c, l));
  model::dense_matrix embed =
      model::detail::read_table(ck, "model.embed_tokens.weight", c.vocab_size, c.hidden_size, opt);
  std::vector<float> norm =
      model::detail::read_vector(ck, "model.norm.weight", c.hidden_size, "hidden_size");
  std::optional<model::dense_matrix> head = model::read_lm_head(ck, c, opt);
  sharded_bitnet_model m(comm, c, std::move(embed), blocks, std::move(norm), std::move(head), mode,
                         opt.target);
  m.use_int8_head(opt.int8_head);
  return m;
}

inline sharded_bitnet_model load_bitnet_sharded(
    const communicator& comm, const std::string& dir, const model::load_options& opt = {},
    tp_activation_scales mode = tp_activation_scales::per_token) {
  const auto c =
      model::bitnet_config::from_file((std::filesystem::path(dir) / "config.json").string());
  return load_bitnet_sharded(comm, c, model::checkpoint::open_dir(dir), opt, mode);
}

inline sharded_bitnet_model load_bitnet_sharded(
    const communicator& comm, const std::string& config_path,
    const std::vector<std::string>& weight_files, const model::load_options& opt = {},
    tp_activation_scales mode = tp_activation_scales::per_token) {
  return load_bitnet_sharded(comm, model::bitnet_config::from_file(config_path),
                             model::checkpoint::open_files(weight_files), opt, mode);
}

}  // namespace bitlin::distributed
