// Loading BitNet b1.58 checkpoints in the Hugging Face layout: a directory with config.json and
// either model.safetensors or shards listed by model.safetensors.index.json. Projection weights are
// either packed (uint8 [ceil(out/4), in] + weight_scale, the convention set by the config's
// quantization_config.linear_class) or float master weights (F32/BF16/F16) quantized here by
// absmean; embeddings, head and norms may be F32, BF16 or F16. Every tensor is checked against the
// shape the config implies, and every failure names the tensor or field.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/io/half.hpp"
#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/bitnet.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/pack/hf_bitnet.hpp"
#include "bitlin/quant/ternary.hpp"

namespace bitlin::model {

// One or more safetensors files seen as a single name -> tensor map.
class checkpoint {
 public:
  // The given files; a tensor name may appear in only one of them.
  static checkpoint open_files(const std::vector<std::string>& paths) {
    BITLIN_REQUIRE(!paths.empty(), value_error, "checkpoint: no weight files given");
    checkpoint c;
    for (const auto& p : paths) c.add(io::safetensors_file::open(p));
    return c;
  }

  // Files already open (e.g. made in memory by safetensors_file::from_bytes, as the GGUF loader
  // does); same rules as open_files.
  static checkpoint from_files(std::vector<io::safetensors_file> files) {
    BITLIN_REQUIRE(!files.empty(), value_error, "checkpoint: no weight files given");
    checkpoint c;
    for (auto& f : files) c.add(std::move(f));
    return c;
  }

  // A Hugging Face model directory: model.safetensors, or the shards named by
  // model.safetensors.index.json ("weight_map": {tensor: file}).
  static checkpoint open_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path d(dir);
    const fs::path index = d / "model.safetensors.index.json";
    if (fs::exists(index)) return open_index(index.string());
    const fs::path single = d / "model.safetensors";
    BITLIN_REQUIRE(fs::exists(single), format_error, "model directory ", dir,
                   " has neither model.safetensors nor model.safetensors.index.json");
    return open_files({single.string()});
  }

  static checkpoint open_index(const std::string& index_path) {
    namespace fs = std::filesystem;
    std::ifstream in(index_path);
    BITLIN_REQUIRE(in.good(), format_error, "cannot open ", index_path);
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      throw format_error(::bitlin::detail::concat(index_path, ": not valid JSON: ", e.what()));
    }
    BITLIN_REQUIRE(j.is_object(), format_error, index_path, ": the document is not a JSON object");
    const auto wm = j.find("weight_map");
    BITLIN_REQUIRE(wm != j.end() && wm->is_object(), format_error, index_path,
                   ": field \"weight_map\" is missing or not an object");
    std::vector<std::string> shards;
    std::map<std::string, std::string> expected;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      BITLIN_REQUIRE(it->is_string(), format_error, index_path, ": field \"weight_map.", it.key(),
                     "\" must be a file name (string)");
      const std::string file = it->get<std::string>();
      BITLIN_REQUIRE(!file.empty() && fs::path(file).filename() == fs::path(file), format_error,
                     index_path, ": field \"weight_map.", it.key(), "\" names \"", file,
                     "\", not a file in the model directory");
      if (std::find(shards.begin(), shards.end(), file) == shards.end()) shards.push_back(file);
      expected[it.key()] = file;
    }
    BITLIN_REQUIRE(!shards.empty(), format_error, index_path, ": field \"weight_map\" is empty");
    std::vector<std::string> paths;
    for (const auto& s : shards) paths.push_back((fs::path(index_path).parent_path() / s).string());
    checkpoint c = open_files(paths);
    for (const auto& [name, file] : expected) {
      const auto it = c.where_.find(name);
      BITLIN_REQUIRE(it != c.where_.end(), format_error, index_path, ": tensor '", name,
                     "' is listed in \"weight_map\" but missing from ", file);
      BITLIN_REQUIRE(fs::path(c.files_[it->second]->path()).filename() == fs::path(file),
                     format_error, index_path, ": tensor '", name, "' is listed in ", file,
                     " but stored in ", c.files_[it->second]->path());
    }
    return c;
  }

  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const std::vector<std::string>& names() const { return order_; }
  const io::safetensors_file& file(const std::string& name) const {
    const auto it = where_.find(name);
    BITLIN_REQUIRE(it != where_.end(), format_error, "checkpoint: missing tensor '", name, "'");
    return *files_[it->second];
  }
  const io::tensor_info& info(const std::string& name) const { return file(name).info(name); }

 private:
  void add(io::safetensors_file f) {
    files_.push_back(std::make_unique<io::safetensors_file>(std::move(f)));
    const std::size_t idx = files_.size() - 1;
    for (const auto& name : files_.back()->names()) {
      const auto [it, inserted] = where_.emplace(name, idx);
      BITLIN_REQUIRE(inserted, format_error, "checkpoint: tensor '", name, "' is in both ",
                     files_[it->second]->path(), " and ", files_.back()->path());
      order_.push_back(name);
    }
  }

  std::vector<std::unique_ptr<io::safetensors_file>> files_;
  std::map<std::string, std::size_t> where_;
  std::vector<std::string> order_;
};

struct load_options {
  isa target = active_isa();
  // Storage of the embedding table and head; empty = as in the file (BF16 stays BF16, F16 and F32
  // become F32, both exact).
  std::optional<dense_storage> table_storage;
  // Use the 8-bit output head (bitnet_model::use_int8_head).
  bool int8_head = false;
};

namespace detail {

inline bool is_float_dtype(io::dtype t) {
  return t == io::dtype::f32 || t == io::dtype::f16 || t == io::dtype::bf16;
}

inline void require_shape(const io::tensor_info& ti, const std::vector<std::int64_t>& want,
                          const char* why) {
  BITLIN_REQUIRE(ti.shape == want, shape_error, "tensor '", ti.name, "' has shape ",
                 io::detail::shape_string(ti.shape), ", expected ", io::detail::shape_string(want),
                 " (", why, ")");
}

inline const io::tensor_info& require_tensor(const checkpoint& ck, const std::string& name) {
  BITLIN_REQUIRE(ck.contains(name), format_error, "checkpoint: missing tensor '", name, "'");
  return ck.info(name);
}

inline std::vector<float> read_vector(const checkpoint& ck, const std::string& name, index_t n,
                                      const char* why) {
  const auto& ti = require_tensor(ck, name);
  BITLIN_REQUIRE(is_float_dtype(ti.type), format_error, "tensor '", name, "' has dtype ",
                 io::dtype_name(ti.type), "; expected F32, F16 or BF16");
  require_shape(ti, {static_cast<std::int64_t>(n)}, why);
  return ck.file(name).read_f32(name);
}

inline dense_matrix read_table(const checkpoint& ck, const std::string& name, index_t rows,
                               index_t cols, const load_options& opt) {
  const auto& ti = require_tensor(ck, name);
  BITLIN_REQUIRE(is_float_dtype(ti.type), format_error, "tensor '", name, "' has dtype ",
                 io::dtype_name(ti.type), "; expected F32, F16 or BF16");
  require_shape(ti, {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)},
                "vocab_size x hidden_size");
  const dense_storage want =
      opt.table_storage ? *opt.table_storage
                        : (ti.type == io::dtype::bf16 ? dense_storage::bf16 : dense_storage::f32);
  const auto& f = ck.file(name);
  if (want == dense_storage::bf16 && ti.type == io::dtype::bf16) {
    std::vector<std::uint16_t> v(static_cast<std::size_t>(rows * cols));
    std::memcpy(v.data(), f.raw(name), v.size() * sizeof(std::uint16_t));
    return dense_matrix::from_bf16(rows, cols, std::move(v));
  }
  std::vector<float> v = f.read_f32(name);
  if (want == dense_storage::f32) return dense_matrix::from_f32(rows, cols, std::move(v));
  std::vector<std::uint16_t> b(v.size());
  io::f32_to_bf16(v.data(), b.data(), v.size());
  return dense_matrix::from_bf16(rows, cols, std::move(b));
}

// `<prefix>.weight` (+ `<prefix>.weight_scale` when packed) as trits and a scale.
inline ternary_projection read_projection(const checkpoint& ck, const bitnet_config& c,
                                          const std::string& prefix, index_t out, index_t in,
                                          const char* why) {
  const std::string name = prefix + ".weight";
  const auto& ti = require_tensor(ck, name);
  const auto& f = ck.file(name);
  ternary_projection p;
  if (ti.type == io::dtype::u8) {
    require_shape(ti, {static_cast<std::int64_t>((out + 3) / 4), static_cast<std::int64_t>(in)},
                  why);
    p.trits = unpack_hf_bitnet(f.read_matrix<std::uint8_t>(name), out);
    const std::string sname = prefix + ".weight_scale";
    const auto& si = require_tensor(ck, sname);
    BITLIN_REQUIRE(is_float_dtype(si.type) && si.numel() == 1, format_error, "tensor '", sname,
                   "' must hold one F32/F16/BF16 value, it is ", io::dtype_name(si.type), " ",
                   io::detail::shape_string(si.shape));
    p.scale = ck.file(sname).read_f32(sname)[0];
    p.convention = c.convention();
    BITLIN_REQUIRE(
        std::isfinite(p.scale) &&
            (p.scale > 0.0f || (p.scale == 0.0f && p.convention == scale_convention::multiply)),
        value_error, "tensor '", sname, "' holds ", p.scale, ", not a usable weight scale");
    return p;
  }
  BITLIN_REQUIRE(is_float_dtype(ti.type), format_error, "tensor '", name, "' has dtype ",
                 io::dtype_name(ti.type),
                 "; expected U8 (packed) or F32/F16/BF16 (master weights)");
  require_shape(ti, {static_cast<std::int64_t>(out), static_cast<std::int64_t>(in)}, why);
  ternary_weights q = absmean_ternary(f.read_matrix_f32(name));
  p.trits = std::move(q.q);
  p.scale = q.scales.values.front();
  p.convention = scale_convention::divide;
  return p;
}

}  // namespace detail

// The tensors of decoder layer `l` (shared by load_bitnet and the tensor-parallel loader,
// distributed/sharded_bitnet.hpp, which keeps one shard of them).
inline block_weights read_block_weights(const checkpoint& ck, const bitnet_config& c, index_t l) {
  const index_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  const std::string p = "model.layers." + std::to_string(l) + ".";
  block_weights w;
  w.input_layernorm = detail::read_vector(ck, p + "input_layernorm.weight", H, "hidden_size");
  w.post_attention_layernorm =
      detail::read_vector(ck, p + "post_attention_layernorm.weight", H, "hidden_size");
  w.attn_sub_norm = detail::read_vector(ck, p + "self_attn.attn_sub_norm.weight", Q,
                                        "num_attention_heads x head_dim");
  w.ffn_sub_norm = detail::read_vector(ck, p + "mlp.ffn_sub_norm.weight", I, "intermediate_size");
  w.q_proj = detail::read_projection(ck, c, p + "self_attn.q_proj", Q, H,
                                     "num_attention_heads x head_dim, hidden_size");
  w.k_proj = detail::read_projection(ck, c, p + "self_attn.k_proj", KV, H,
                                     "num_key_value_heads x head_dim, hidden_size");
  w.v_proj = detail::read_projection(ck, c, p + "self_attn.v_proj", KV, H,
                                     "num_key_value_heads x head_dim, hidden_size");
  w.o_proj = detail::read_projection(ck, c, p + "self_attn.o_proj", H, Q,
                                     "hidden_size, num_attention_heads x head_dim");
  w.gate_proj =
      detail::read_projection(ck, c, p + "mlp.gate_proj", I, H, "intermediate_size, hidden_size");
  w.up_proj =
      detail::read_projection(ck, c, p + "mlp.up_proj", I, H, "intermediate_size, hidden_size");
  w.down_proj =
      detail::read_projection(ck, c, p + "mlp.down_proj", H, I, "hidden_size, intermediate_size");
  return w;
}

// lm_head.weight, or nothing when the config ties it to the embedding table.
inline std::optional<dense_matrix> read_lm_head(const checkpoint& ck, const bitnet_config& c,
                                                const load_options& opt = {}) {
  if (c.tie_word_embeddings) return std::nullopt;
  BITLIN_REQUIRE(ck.contains("lm_head.weight"), format_error,
                 "checkpoint: missing tensor 'lm_head.weight' (config field "
                 "\"tie_word_embeddings\" is false)");
  return detail::read_table(ck, "lm_head.weight", c.vocab_size, c.hidden_size, opt);
}

// The model described by `c` from the tensors of `ck`.
inline bitnet_model load_bitnet(const bitnet_config& c, const checkpoint& ck,
                                const load_options& opt = {}) {
  c.validate();
  std::vector<transformer_block> blocks;
  blocks.reserve(static_cast<std::size_t>(c.num_hidden_layers));
  for (index_t l = 0; l < c.num_hidden_layers; ++l)
    blocks.emplace_back(c, read_block_weights(ck, c, l), opt.target);
  dense_matrix embed =
      detail::read_table(ck, "model.embed_tokens.weight", c.vocab_size, c.hidden_size, opt);
  std::vector<float> norm =
      detail::read_vector(ck, "model.norm.weight", c.hidden_size, "hidden_size");
  std::optional<dense_matrix> head = read_lm_head(ck, c, opt);
  bitnet_model m(c, std::move(embed), std::move(blocks), std::move(norm), std::move(head));
  m.use_int8_head(opt.int8_head);
  return m;
}

// A Hugging Face model directory (config.json + model.safetensors or an index with shards).
inline bitnet_model load_bitnet(const std::string& dir, const load_options& opt = {}) {
  const auto c = bitnet_config::from_file((std::filesystem::path(dir) / "config.json").string());
  return load_bitnet(c, checkpoint::open_dir(dir), opt);
}

// A config file and weight files named freely (e.g. test fixtures `<tag>_config.json`).
inline bitnet_model load_bitnet(const std::string& config_path,
                                const std::vector<std::string>& weight_files,
                                const load_options& opt = {}) {
  return load_bitnet(bitnet_config::from_file(config_path), checkpoint::open_files(weight_files),
                     opt);
}

}  // namespace bitlin::model
