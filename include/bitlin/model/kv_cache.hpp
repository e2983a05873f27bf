// The KV cache: what incremental decoding keeps between calls, per layer the keys (after RoPE) and
// values of every position so far.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/layers/attention.hpp"

namespace bitlin::model {

// Keys and values of one layer after RoPE. The keys are stored transposed, kt [kv_size, columns]
// with one column per position (columns = capacity rounded up to attention_key_align, the padding
// zero), because attention reads the scores of consecutive positions as one vector: stored as
// rows, every query head of every step would have to transpose the whole cache first. The values
// are rows, v [capacity, kv_size], as attention reads them (kv_size = num_key_value_heads *
// head_dim).
struct layer_kv {
  matrix_f kt, v;
};

// The KV cache of a whole model: what incremental decoding keeps between calls.
class kv_cache {
 public:
  kv_cache() = default;
  // max_tokens: the most positions the model supports (max_position_embeddings; 0 = no limit).
  kv_cache(index_t layers, index_t kv_size, index_t max_tokens = 0)
      : kv_size_(kv_size), max_tokens_(max_tokens), layers_(static_cast<std::size_t>(layers)) {}

  index_t size() const { return len_; }
  index_t capacity() const { return layers_.empty() ? 0 : layers_.front().v.rows(); }
  void clear() { len_ = 0; }
  std::size_t bytes() const {
    if (layers_.empty()) return 0;
    const auto& l = layers_.front();
    return layers_.size() * static_cast<std::size_t>(l.kt.size() + l.v.size()) * sizeof(float);
  }
  // Makes room for `tokens` cached positions, keeping what is cached.
  void reserve(index_t tokens) {
    BITLIN_REQUIRE(max_tokens_ <= 0 || tokens <= max_tokens_, value_error, "kv_cache: ", tokens,
                   " positions needed, but the model supports ", max_tokens_,
                   " (config max_position_embeddings); the prompt and generated tokens must fit");
    if (tokens <= capacity()) return;
    index_t cap = std::max(tokens, 2 * capacity());
    if (max_tokens_ > 0) cap = std::min(cap, max_tokens_);
    const index_t columns =
        bitlin::detail::ceil_div(cap, attention_key_align) * attention_key_align;
    for (auto& l : layers_) {
      // A cache that never held anything is still 0 x 0, so there is nothing (of any width) to
      // keep. The key columns are zeroed: kernels read the padding past the last position.
      matrix_f kt = matrix_f::Zero(kv_size_, columns), v(cap, kv_size_);
      if (len_ > 0) {
        kt.leftCols(len_) = l.kt.leftCols(len_);
        v.topRows(len_) = l.v.topRows(len_);
      }
      l.kt = std::move(kt);
      l.v = std::move(v);
    }
  }
  layer_kv& layer(index_t i) { return layers_[static_cast<std::size_t>(i)]; }
  index_t layers() const { return static_cast<index_t>(layers_.size()); }
  void advance(index_t tokens) { len_ += tokens; }

 private:
  index_t kv_size_ = 0;
  index_t max_tokens_ = 0;
  index_t len_ = 0;
  std::vector<layer_kv> layers_;
};

}  // namespace bitlin::model
