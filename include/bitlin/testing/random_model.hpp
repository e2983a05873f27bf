// A BitNet model of any shape with random weights (trits with P(0) = 1/2, or +-1 for a BitNet b1
// config; BitNet-like scales, random norms and a random embedding/head table), made in memory
// without files: what benchmarks and tests run when the shape matters and the values do not.
// Deterministic for a seed.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "bitlin/core/half.hpp"
#include "bitlin/model/bitnet.hpp"

namespace bitlin::model {

// The tensors a model is built from, kept apart so that one set of random weights can build
// several models (the single-process and the tensor-parallel one, a model per ISA, ...).
struct random_model_parts {
  bitnet_config config;
  std::vector<block_weights> blocks;
  dense_matrix embed;
  std::optional<dense_matrix> head;  // absent when the config ties the head to the embedding
  std::vector<float> final_norm;

  random_model_parts(const bitnet_config& c, std::uint64_t seed,
                     dense_storage table_storage = dense_storage::bf16)
      : config(c) {
    c.validate();
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    auto next = [&state]() {  // splitmix64
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    auto uniform = [&next]() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); };
    auto trits = [&](index_t rows, index_t cols) {
      ternary_projection p;
      p.trits.resize(rows, cols);
      std::int8_t* d = p.trits.data();
      const index_t n = rows * cols;
      for (index_t i = 0; i < n;) {
        std::uint64_t bits = next();
        for (int j = 0; j < 32 && i < n; ++j, ++i, bits >>= 2) {
          const auto v = static_cast<int>(bits & 3u);  // 0 -> -1, 1, 2 -> 0, 3 -> +1
          if (c.binary())                              // b1: +-1 with P = 1/2
            d[i] = static_cast<std::int8_t>((v & 1) ? 1 : -1);
          else
            d[i] = static_cast<std::int8_t>(v == 0 ? -1 : (v == 3 ? 1 : 0));
        }
      }
      p.convention = c.convention();
      const float mean_abs = 0.02f * (0.5f + uniform());
      p.scale = c.convention() == scale_convention::divide ? 1.0f / mean_abs : mean_abs;
      return p;
    };
    auto norm = [&](index_t n) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (auto& x : v) x = 0.5f + uniform();
      return v;
    };
    blocks.reserve(static_cast<std::size_t>(c.num_hidden_layers));
    for (index_t l = 0; l < c.num_hidden_layers; ++l) {
      block_weights w;
      w.input_layernorm = norm(c.hidden_size);
      w.post_attention_layernorm = norm(c.hidden_size);
      w.attn_sub_norm = norm(c.q_size());
      w.ffn_sub_norm = norm(c.intermediate_size);
      w.q_proj = trits(c.q_size(), c.hidden_size);
      w.k_proj = trits(c.kv_size(), c.hidden_size);
      w.v_proj = trits(c.kv_size(), c.hidden_size);
      w.o_proj = trits(c.hidden_size, c.q_size());
      w.gate_proj = trits(c.intermediate_size, c.hidden_size);
      w.up_proj = trits(c.intermediate_size, c.hidden_size);
      w.down_proj = trits(c.hidden_size, c.intermediate_size);
      blocks.push_back(std::move(w));
    }
    auto table = [&](index_t rows, index_t cols) {
      const auto n = static_cast<std::size_t>(rows * cols);
      if (table_storage == dense_storage::bf16) {
        std::vector<std::uint16_t> v(n);
        for (auto& x : v) x = io::f32_to_bf16(0.04f * (uniform() - 0.5f));
        return dense_matrix::from_bf16(rows, cols, std::move(v));
      }
      std::vector<float> v(n);
      for (auto& x : v) x = 0.04f * (uniform() - 0.5f);
      return dense_matrix::from_f32(rows, cols, std::move(v));
    };
    embed = table(c.vocab_size, c.hidden_size);
    if (!c.tie_word_embeddings) head = table(c.vocab_size, c.hidden_size);
    final_norm = norm(c.hidden_size);
  }

  // The single-process model (tp_groups > 1: its layers use the groups that many ranks use).
  bitnet_model build(isa target = active_isa(), int tp_groups = 1,
                     ternary_layout layout = ternary_layout::i2) const {
    std::vector<transformer_block> layers;
    layers.reserve(blocks.size());
    for (const auto& w : blocks) layers.emplace_back(config, w, target, tp_groups, layout);
    return bitnet_model(config, embed, std::move(layers), final_norm, head);
  }
};

inline bitnet_model random_bitnet_model(const bitnet_config& c, std::uint64_t seed,
                                        dense_storage embed_storage = dense_storage::bf16,
                                        isa target = active_isa(),
                                        ternary_layout layout = ternary_layout::i2) {
  return random_model_parts(c, seed, embed_storage).build(target, 1, layout);
}

}  // namespace bitlin::model
