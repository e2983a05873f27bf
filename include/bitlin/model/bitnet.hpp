// BitNet b1.58 (Hugging Face `BitNetForCausalLM`) as reusable library code: the embedding, the
// decoder layers (model/block.hpp, built from layers/bit_linear), the final norm and the output
// head, with a KV cache for incremental decoding and a workspace that makes a decode step
// allocation-free. Loading checkpoints lives in loader.hpp; random models of any shape (for
// benchmarks and tests) in testing/random_model.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/layers/embedding.hpp"
#include "bitlin/model/block.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/model/head_gemv.hpp"
#include "bitlin/model/kv_cache.hpp"
#include "bitlin/model/rope.hpp"
#include "bitlin/norm/norm.hpp"

namespace bitlin::model {

// Which positions get logits from a forward pass.
enum class logits_for { all, last, none };

class bitnet_model {
 public:
  // What a forward pass needs besides the weights and the cache; keep one per decoding stream.
  struct workspace {
    matrix_f x, h, logits;
    rope_angles rope;
    block_workspace block;
  };

  // lm_head empty = tied to the embedding table.
  bitnet_model(bitnet_config c, dense_matrix embed, std::vector<transformer_block> blocks,
               std::vector<float> final_norm, std::optional<dense_matrix> lm_head = std::nullopt)
      : config_(std::move(c)),
        embed_(std::move(embed)),
        blocks_(std::move(blocks)),
        final_norm_(std::move(final_norm)),
        lm_head_(std::move(lm_head)) {
    config_.validate();
    BITLIN_REQUIRE(embed_.rows() == config_.vocab_size && embed_.cols() == config_.hidden_size,
                   shape_error, "bitnet_model: embedding table is ", embed_.rows(), " x ",
                   embed_.cols(), ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    BITLIN_REQUIRE(static_cast<index_t>(blocks_.size()) == config_.num_hidden_layers, shape_error,
                   "bitnet_model: ", blocks_.size(), " layers, config says ",
                   config_.num_hidden_layers);
    BITLIN_REQUIRE(static_cast<index_t>(final_norm_.size()) == config_.hidden_size, shape_error,
                   "bitnet_model: final norm has ", final_norm_.size(), " values, expected ",
                   config_.hidden_size);
    if (lm_head_) {
      BITLIN_REQUIRE(
          lm_head_->rows() == config_.vocab_size && lm_head_->cols() == config_.hidden_size,
          shape_error, "bitnet_model: lm_head is ", lm_head_->rows(), " x ", lm_head_->cols(),
          ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    }
  }

  const bitnet_config& config() const { return config_; }
  const dense_matrix& embedding() const { return embed_; }
  const dense_matrix& head() const { return lm_head_ ? *lm_head_ : embed_; }
  const transformer_block& block(index_t i) const { return blocks_[static_cast<std::size_t>(i)]; }

  kv_cache new_cache() const {
    return kv_cache(config_.num_hidden_layers, config_.kv_size(), config_.max_position_embeddings);
  }

  // Switches the output head to (or back from) the 8-bit form: per-row int8 weights and per-token
  // int8 activations (see int8_head). Off by default because it rounds twice more than the
  // float head; the embedding lookup keeps using the float table.
  void use_int8_head(bool on) {
    if (on && !head8_) head8_ = std::make_shared<const int8_head>(head());
    if (!on) head8_.reset();
  }
  bool uses_int8_head() const { return head8_ != nullptr; }

  // Weight bytes a decode step streams: the layers, the final norm and the head in its current
  // form (the embedding table is only looked up, except when it is the tied float head).
  std::size_t bytes_read_per_token() const {
    std::size_t b = final_norm_.size() * sizeof(float);
    for (const auto& blk : blocks_) b += blk.bytes();
    return b + (head8_ ? head8_->bytes() : head().bytes());
  }

  // Bytes of weights held in memory (packed trits, scales, norms, embedding and head).
  std::size_t resident_bytes() const {
    std::size_t b = embed_.bytes() + final_norm_.size() * sizeof(float);
    if (lm_head_) b += lm_head_->bytes();
    if (head8_) b += head8_->bytes();
    for (const auto& blk : blocks_) b += blk.bytes();
    return b;
  }

  // Runs `n` tokens at positions cache.size() .. through the model, appending their keys and values
  // to the cache. Returns the logits of all n positions, the last one, or none ([rows, vocab]).
  // With `hidden_states`, also records the residual stream entering each layer and the output of
  // the final norm (what the head multiplies), [n, hidden] each.
  matrix_f forward(const std::int64_t* ids, index_t n, kv_cache& cache,
                   logits_for which = logits_for::last, const executor& ex = serial(),
                   std::vector<matrix_f>* hidden_states = nullptr) const {
    workspace ws;
    return forward(ids, n, cache, ws, which, ex, hidden_states);
  }

  // The same with the caller's workspace: the returned logits live in it (valid until its next
  // use). Once the workspace and the cache have held these shapes (cache.reserve ahead), a call
  // makes no heap allocation.
  const matrix_f& forward(const std::int64_t* ids, index_t n, kv_cache& cache, workspace& ws,
                          logits_for which = logits_for::last, const executor& ex = serial(),
                          std::vector<matrix_f>* hidden_states = nullptr) const {
    BITLIN_REQUIRE(n >= 0, value_error, "bitnet_model::forward: negative token count");
    BITLIN_REQUIRE(cache.layers() == config_.num_hidden_layers, shape_error,
                   "bitnet_model::forward: the KV cache belongs to a model with ", cache.layers(),
                   " layers, this one has ", config_.num_hidden_layers);
    if (hidden_states) hidden_states->clear();
    const index_t H = config_.hidden_size, V = config_.vocab_size;
    ws.logits.resize(0, V);
    if (n == 0) return ws.logits;
    for (index_t t = 0; t < n; ++t)
      BITLIN_REQUIRE(ids[t] >= 0 && ids[t] < V, value_error, "bitnet_model::forward: token id ",
                     ids[t], " at position ", t, " is outside the vocabulary [0, ", V, ")");
    const index_t pos0 = cache.size();
    BITLIN_REQUIRE(
        config_.max_position_embeddings <= 0 || n <= config_.max_position_embeddings - pos0,
        value_error, "bitnet_model::forward: ", n, " tokens at position ", pos0,
        " exceed the model's ", config_.max_position_embeddings,
        " positions (config max_position_embeddings)");
    cache.reserve(pos0 + n);
    matrix_f& x = ws.x;
    x.resize(n, H);
    embedding_lookup(embed_, ids, n, x.data(), H);
    ws.rope.compute(config_, pos0, n);
    for (index_t l = 0; l < config_.num_hidden_layers; ++l) {
      if (hidden_states) hidden_states->push_back(x);
      blocks_[static_cast<std::size_t>(l)].forward(x, cache.layer(l), pos0, ws.rope, ws.block, ex);
    }
    cache.advance(n);
    if (which == logits_for::none && !hidden_states) return ws.logits;
    const index_t first = which == logits_for::all || hidden_states ? 0 : n - 1;
    matrix_f& h = ws.h;
    h.resize(n - first, H);
    rms_norm(x.bottomRows(n - first), final_norm_.data(), config_.rms_norm_eps, h);
    if (hidden_states) hidden_states->push_back(h);
    if (which == logits_for::none) return ws.logits;
    const index_t rows = which == logits_for::last ? 1 : h.rows();
    const float* hp = h.data() + (h.rows() - rows) * H;
    ws.logits.resize(rows, V);
    if (head8_)
      head8_->multiply(hp, rows, H, ws.logits.data(), V, ex);
    else
      head().multiply(hp, rows, H, ws.logits.data(), V, ex);
    return ws.logits;
  }

  // Logits of every position of `ids`, from an empty cache.
  matrix_f logits(const std::vector<std::int64_t>& ids, const executor& ex = serial()) const {
    kv_cache cache = new_cache();
    return forward(ids.data(), static_cast<index_t>(ids.size()), cache, logits_for::all, ex);
  }

 private:
  bitnet_config config_;
  dense_matrix embed_;
  std::vector<transformer_block> blocks_;
  std::vector<float> final_norm_;
  std::optional<dense_matrix> lm_head_;
  std::shared_ptr<const int8_head> head8_;
};

}  // namespace bitlin::model
