// The model-level tensor-parallel cases, shared by the in-process test and the MPI test: the
// sharded BitNet model on this rank against the single-process model with the same groups
// (transformer_block's tp_groups = P), on the two fixture checkpoints and on a random model whose
// head counts 3 divides.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <bitlin/distributed/sharded_bitnet.hpp>
#include <bitlin/model/loader.hpp>
#include <bitlin/model/sampling.hpp>
#include <bitlin/testing/random_model.hpp>

#include "fixtures.hpp"
#include "model/model_test_util.hpp"

namespace tp_model {

using namespace bitlin;
using namespace bitlin::model;
using namespace bitlin::distributed;

// Everything a model is built from, so that the single-process and the sharded model are made
// from the same tensors.
struct model_parts {
  bitnet_config config;
  dense_matrix embed;
  std::vector<block_weights> blocks;
  std::vector<float> final_norm;
  std::optional<dense_matrix> head;
  std::vector<std::int64_t> ids;  // a prompt
};

inline model_parts fixture_parts(const std::string& tag) {
  const std::string dir = bitlin_test::fixture_dir() + "/";
  model_parts m;
  m.config = bitnet_config::from_file(dir + tag + "_config.json");
  const checkpoint ck = checkpoint::open_files({dir + tag + "_model.safetensors"});
  for (index_t l = 0; l < m.config.num_hidden_layers; ++l)
    m.blocks.push_back(read_block_weights(ck, m.config, l));
  const load_options lo;
  m.embed = model::detail::read_table(ck, "model.embed_tokens.weight", m.config.vocab_size,
                                      m.config.hidden_size, lo);
  m.final_norm =
      model::detail::read_vector(ck, "model.norm.weight", m.config.hidden_size, "hidden_size");
  m.head = read_lm_head(ck, m.config, lo);
  const auto ref = io::safetensors_file::open(dir + tag + "_ref.safetensors");
  m.ids = ref.read<std::int64_t>("input_ids");
  return m;
}

// A random model with 6 heads over 3 KV heads (so 1, 2 and 3 ranks divide it), a vocabulary 3
// does not divide (uneven head shards) and an untied BF16 head.
inline model_parts random_parts(std::uint32_t seed) {
  model_parts m;
  bitnet_config& c = m.config;
  c.vocab_size = 100;
  c.hidden_size = 96;
  c.intermediate_size = 192;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 3;
  c.head_dim = 16;
  c.tie_word_embeddings = false;
  c.linear_class = "autobitlinear";
  c.validate();
  random_model_parts r(c, seed, dense_storage::bf16);
  m.blocks = std::move(r.blocks);
  m.embed = std::move(r.embed);
  m.head = std::move(r.head);
  m.final_norm = std::move(r.final_norm);
  m.ids = {5, 17, 99, 0, 42, 42, 7, 63, 12};
  return m;
}

// The single-process model whose layers use the groups P ranks use (tp_groups = P; 1 = the
// ordinary model).
inline bitnet_model single_model(const model_parts& m, int tp_groups) {
  std::vector<transformer_block> blocks;
  for (const auto& w : m.blocks) blocks.emplace_back(m.config, w, active_isa(), tp_groups);
  return bitnet_model(m.config, m.embed, std::move(blocks), m.final_norm, m.head);
}

inline sharded_bitnet_model sharded_model(const communicator& comm, const model_parts& m,
                                          tp_activation_scales mode) {
  return sharded_bitnet_model(comm, m.config, m.embed, m.blocks, m.final_norm, m.head, mode);
}

// Logits of the whole prompt in one pass, then prefill of the first half and one token at a time
// (the KV cache path): [2 T, vocab].
template <class Model>
matrix_f run(const Model& model, const std::vector<std::int64_t>& ids) {
  const index_t T = static_cast<index_t>(ids.size()), V = model.config().vocab_size;
  matrix_f out(2 * T, V);
  kv_cache cache = model.new_cache();
  out.topRows(T) = model.forward(ids.data(), T, cache, logits_for::all);
  kv_cache inc = model.new_cache();
  const index_t split = T / 2;
  out.middleRows(T, split) = model.forward(ids.data(), split, inc, logits_for::all);
  for (index_t t = split; t < T; ++t)
    out.row(T + t) = model.forward(&ids[static_cast<std::size_t>(t)], 1, inc);
  return out;
}

// Greedy continuation of the prompt (the generate() loop the CLI runs).
template <class Model>
std::vector<std::int64_t> greedy(const Model& model, const std::vector<std::int64_t>& ids,
                                 index_t n) {
  sampler s(sampling_options{});
  return generate(model, ids, n, s);
}

// The fixture band (tests/data/FIXTURES.md) of prompt logits against transformers' `logits` or
// the float64 re-implementation's `logits_f64`, whichever is closer.
inline bitlin_test::band reference_band(const std::string& tag, const matrix_f& logits) {
  const auto ref =
      io::safetensors_file::open(bitlin_test::fixture_dir() + "/" + tag + "_ref.safetensors");
  auto read = [&](const std::string& name) {
    const auto& ti = ref.info(name);
    matrix_f m = ref.read_matrix_f32(name);
    if (ti.shape.size() == 3) m.resize(ti.shape[1], ti.shape[2]);
    return m;
  };
  bitlin_test::band best = bitlin_test::compare(logits, read("logits"));
  if (ref.contains("logits_f64")) {
    const auto b = bitlin_test::compare(logits, read("logits_f64"));
    if (b.max_rel < best.max_rel) best = b;
  }
  return best;
}

inline bool divides(const model_parts& m, int P) {
  return m.config.num_attention_heads % P == 0 && m.config.num_key_value_heads % P == 0 &&
         m.config.intermediate_size % P == 0;
}

}  // namespace tp_model
