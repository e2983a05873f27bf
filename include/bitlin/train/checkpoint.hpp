// Writing trained weights as a Hugging Face BitNet checkpoint that model/loader.hpp (and so
// bitnet_cli) reads, and the optimizer state beside it for resuming.
//
// Layout of an output directory:
//   config.json, model.safetensors   float32 master weights (the latent weights, exactly)
//   tokenizer.json                   the byte-level BPE the model was trained with
//   packed/                          the deployable form: packed projections (2-bit ternary,
//                                    1-bit binary) + weight_scale
//   train_state.json/.safetensors    step, options and AdamW moments (resume)
// Ternary masters carry quantization_config {bitnet, autobitlinear, online}: the loader (and
// transformers' online mode) quantize them by absmean per tensor with 8-bit per-token
// activations, exactly the training forward. The packed ternary form is model/converter.hpp's
// output (linear_class "bitlinear"). Binary masters (8-bit activations, relu2) are a BitNet b1
// checkpoint: quantization_config {bitnet, autobitlinear, online, weight_bits 1, activation_norm
// "none"} (the trainer's binary layers have no LayerNorm of their own; its RMSNorms with gains
// normalize), which the loader binarizes exactly as training does (sign(W - mean W), scale
// mean|W| per tensor); packed/ is the converter's 1-bit form of it. Float models (and activation
// widths other than 8) are marked with a linear_class the loader refuses.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/converter.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/train/model.hpp"
#include "bitlin/train/optim.hpp"
#include "bitlin/train/tokenizer.hpp"

namespace bitlin::train {

// Whether the inference model (model/bitnet.hpp: ternary b1.58 or binary b1 weights, 8-bit
// activations) runs the master checkpoint of this shape as trained.
inline bool inference_runs_masters(const model_shape& m) {
  return (m.weights == weight_mode::ternary || m.weights == weight_mode::binary) &&
         m.act_bits == 8 && m.gate == gate_kind::relu2;
}

inline nlohmann::json hf_config(const model_shape& m, const std::string& linear_class,
                                const std::string& mode) {
  nlohmann::json qc = {
      {"quant_method", "bitnet"}, {"linear_class", linear_class}, {"quantization_mode", mode}};
  if (m.weights == weight_mode::binary) {
    qc["weight_bits"] = 1;
    qc["activation_norm"] = "none";
  }
  return {{"architectures", {"BitNetForCausalLM"}},
          {"model_type", "bitnet"},
          {"vocab_size", m.vocab},
          {"hidden_size", m.hidden},
          {"intermediate_size", m.ffn},
          {"num_hidden_layers", m.layers},
          {"num_attention_heads", m.heads},
          {"num_key_value_heads", m.kv_heads},
          {"hidden_act", m.gate == gate_kind::relu2 ? "relu2" : "silu"},
          {"max_position_embeddings", m.context},
          {"initializer_range", m.init_std},
          {"rms_norm_eps", m.eps},
          {"use_cache", true},
          {"tie_word_embeddings", true},
          {"attention_bias", false},
          {"attention_dropout", 0.0},
          {"rope_parameters", {{"rope_theta", m.rope_theta}, {"rope_type", "default"}}},
          {"quantization_config", qc},
          {"torch_dtype", "float32"},
          {"bitlin_weights", weight_mode_name(m.weights)},
          {"bitlin_activation_bits", m.act_bits}};
}

namespace detail {
inline void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  BITLIN_REQUIRE(out.good(), error, "cannot write ", p.string());
  out << j.dump(2) << "\n";
  BITLIN_REQUIRE(out.good(), error, "failed writing ", p.string());
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  BITLIN_REQUIRE(in.good(), format_error, "cannot open ", p.string());
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw format_error(p.string() + ": not valid JSON: " + e.what());
  }
  return j;
}

inline void add_param(io::safetensors_writer& w, const std::string& name, const matrix_f& t,
                      bool is_vector) {
  if (is_vector)
    w.add_f32(name, {static_cast<std::int64_t>(t.size())}, t.data());
  else
    w.add_matrix<float>(name, t);
}

inline bool is_vector_param(const std::string& name) {
  return name.find("norm") != std::string::npos;
}
}  // namespace detail

// config.json + model.safetensors (masters) + tokenizer.json in dir, and dir/packed/.
inline void save_hf_checkpoint(const std::string& dir, const model_params<float>& p,
                               const model_shape& m, const bpe_tokenizer& tok) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const bool runs = inference_runs_masters(m);
  const std::string master_class =
      runs ? "autobitlinear"
           : std::string(weight_mode_name(m.weights)) + "_a" + std::to_string(m.act_bits);
  io::safetensors_writer w;
  p.visit([&](const std::string& name, const matrix_f& t, bool) {
    detail::add_param(w, name, t, detail::is_vector_param(name));
  });
  w.set_metadata({{"format", "pt"}});
  w.write((fs::path(dir) / "model.safetensors").string());
  detail::write_json(fs::path(dir) / "config.json", hf_config(m, master_class, "online"));
  tok.save((fs::path(dir) / "tokenizer.json").string());

  const fs::path packed = fs::path(dir) / "packed";
  if (runs) {
    // Ternary: 2-bit packed, weight_scale = 1/mean|W| ("bitlinear"); binary: 1-bit packed,
    // weight_scale = mean|W| ("autobitlinear", as the masters' config says).
    model::convert_options co;
    co.linear_class = m.weights == weight_mode::binary ? "autobitlinear" : "bitlinear";
    model::convert_checkpoint(dir, packed.string(), co);
  } else {
    fs::remove_all(packed);
    return;
  }
  tok.save((packed / "tokenizer.json").string());
}

// Master weights back from model.safetensors (exact float32).
inline model_params<float> load_master_params(const std::string& dir, const model_shape& m) {
  const auto f =
      io::safetensors_file::open((std::filesystem::path(dir) / "model.safetensors").string());
  model_params<float> p = init_params<float>(m, 0);
  p.visit([&](const std::string& name, matrix_f& t, bool) {
    const std::vector<float> v = f.read_f32(name);
    BITLIN_REQUIRE(static_cast<index_t>(v.size()) == t.size(), format_error, "tensor '", name,
                   "' has ", v.size(), " values, the model shape needs ", t.size());
    std::copy(v.begin(), v.end(), t.data());
  });
  return p;
}

inline void save_optimizer_state(const std::string& dir, const adamw_state& st) {
  io::safetensors_writer w;
  std::vector<const matrix_f*> vs;
  st.v.visit([&](const std::string&, const matrix_f& t, bool) { vs.push_back(&t); });
  std::size_t i = 0;
  st.m.visit([&](const std::string& name, const matrix_f& t, bool) {
    w.add_matrix<float>("adam_m." + name, t);
    w.add_matrix<float>("adam_v." + name, *vs[i++]);
  });
  w.write((std::filesystem::path(dir) / "train_state.safetensors").string());
}

inline void load_optimizer_state(const std::string& dir, adamw_state& st) {
  const auto f =
      io::safetensors_file::open((std::filesystem::path(dir) / "train_state.safetensors").string());
  auto fill = [&](model_params<float>& p, const std::string& prefix) {
    p.visit([&](const std::string& name, matrix_f& t, bool) {
      const std::vector<float> v = f.read_f32(prefix + name);
      BITLIN_REQUIRE(static_cast<index_t>(v.size()) == t.size(), format_error, "tensor '", prefix,
                     name, "' has the wrong size");
      std::copy(v.begin(), v.end(), t.data());
    });
  };
  fill(st.m, "adam_m.");
  fill(st.v, "adam_v.");
}

}  // namespace bitlin::train
