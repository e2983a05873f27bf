// The KV cache: what incremental decoding keeps between calls, per layer the keys (after RoPE) and
// values of every position so far.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "bitlin/core/types.hpp"

namespace bitlin::model {

// Keys and values of one layer, [capacity, num_key_value_heads * head_dim] each, after RoPE.
struct layer_kv {
  matrix_f k, v;
};

// The KV cache of a whole model: what incremental decoding keeps between calls.
class kv_cache {
 public:
  kv_cache() = default;
  kv_cache(index_t layers, index_t kv_size)
      : kv_size_(kv_size), layers_(static_cast<std::size_t>(layers)) {}

  index_t size() const { return len_; }
  index_t capacity() const { return layers_.empty() ? 0 : layers_.front().k.rows(); }
  void clear() { len_ = 0; }
  std::size_t bytes() const {
    return layers_.size() * 2 * static_cast<std::size_t>(capacity() * kv_size_) * sizeof(float);
  }
  // Makes room for `tokens` cached positions, keeping what is cached.
  void reserve(index_t tokens) {
    if (tokens <= capacity()) return;
    const index_t cap = std::max(tokens, 2 * capacity());
    for (auto& l : layers_) {
      for (matrix_f* m : {&l.k, &l.v}) {
        matrix_f grown(cap, kv_size_);
        // A cache that never held anything is still 0 x 0, so there is nothing (of any width) to
        // keep.
        if (len_ > 0) grown.topRows(len_) = m->topRows(len_);
        *m = std::move(grown);
      }
    }
  }
  layer_kv& layer(index_t i) { return layers_[static_cast<std::size_t>(i)]; }
  index_t layers() const { return static_cast<index_t>(layers_.size()); }
  void advance(index_t tokens) { len_ += tokens; }

 private:
  index_t kv_size_ = 0;
  index_t len_ = 0;
  std::vector<layer_kv> layers_;
};

}  // namespace bitlin::model
