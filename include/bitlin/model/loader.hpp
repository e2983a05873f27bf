// Loading BitNet b1.58 checkpoints in the Hugging Face layout: a directory with config.json and
// either model.safetensors or shards listed by model.safetensors.index.json. Projection weights are
// either packed (uint8 [ceil(out/4), in] + weight_scale, the convention set by the config's
// quantization_config.linear_class) or float master weights (F32/BF16/F16) quantized here by
// absmean; embeddings, head and norms may be F32, BF16 or F16. Every tensor is checked against the
// shape the config implies, and every failure names the tensor or field.
// BitNet b1 checkpoints (config quantization_config.weight_bits = 1) hold binary projections:
// packed at 1 bit (U8 [out, ceil(in/8)], binary_b1 rows, padding bits 0) with a weight_scale of
// one value or one per group of rows, or float masters binarized here (sign(W - mean W), scale
// mean|W|, per tensor or per weight_group_rows rows).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/io/checkpoint.hpp"
#include "bitlin/core/half.hpp"
#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/bitnet.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/pack/binary_b1.hpp"
#include "bitlin/pack/hf_bitnet.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/quant/ternary.hpp"

namespace bitlin::model {

// The sharded safetensors view lives in io/ (it knows files, not models); the old name stays.
using checkpoint = io::checkpoint;

struct load_options {
  isa target = active_isa();
  // Storage of the embedding table and head; empty = as in the file (BF16 stays BF16, F16 and F32
  // become F32, both exact).
  std::optional<dense_storage> table_storage;
  // Use the 8-bit output head (bitnet_model::use_int8_head).
  bool int8_head = false;
  // Files of a model directory may be symbolic links resolving outside it (a Hugging Face hub
  // cache snapshot); see io::checkpoint_options.
  bool follow_external_links = false;
  // Kernel layout of the ternary projections (bitnet_cli --layout).
  ternary_layout layout = ternary_layout::i2;
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

// Weights, norms and tables must be finite: a NaN or Inf there would only surface later as NaN
// logits, far from the tensor at fault.
inline void require_finite(const float* v, std::size_t n, const std::string& name) {
  for (std::size_t i = 0; i < n; ++i)
    BITLIN_REQUIRE(std::isfinite(v[i]), value_error, "tensor '", name, "' holds ", v[i],
                   " at element ", i, "; weights must be finite");
}
inline void require_finite_bf16(const std::uint16_t* v, std::size_t n, const std::string& name) {
  for (std::size_t i = 0; i < n; ++i)
    BITLIN_REQUIRE((v[i] & 0x7f80u) != 0x7f80u, value_error, "tensor '", name, "' holds ",
                   io::bf16_to_f32(v[i]), " at element ", i, "; weights must be finite");
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
  std::vector<float> v = ck.file(name).read_f32(name);
  require_finite(v.data(), v.size(), name);
  return v;
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
    require_finite_bf16(v.data(), v.size(), name);
    return dense_matrix::from_bf16(rows, cols, std::move(v));
  }
  std::vector<float> v = f.read_f32(name);
  require_finite(v.data(), v.size(), name);
  if (want == dense_storage::f32) return dense_matrix::from_f32(rows, cols, std::move(v));
  std::vector<std::uint16_t> b(v.size());
  io::f32_to_bf16(v.data(), b.data(), v.size());
  return dense_matrix::from_bf16(rows, cols, std::move(b));
}

// A BitNet b1 projection: 1-bit packed + weight_scale (one value, or one per group of rows), or
// float masters binarized per tensor or per config.weight_group_rows rows.
inline ternary_projection read_binary_projection(const checkpoint& ck, const bitnet_config& c,
                                                 const std::string& prefix, index_t out, index_t in,
                                                 const char* why) {
  const std::string name = prefix + ".weight";
  const auto& ti = require_tensor(ck, name);
  const auto& f = ck.file(name);
  ternary_projection p;
  p.convention = c.convention();
  if (ti.type == io::dtype::u8) {
    using traits = format_traits<binary_b1>;
    const index_t row_bytes = traits::packed_bytes(in);
    require_shape(ti, {static_cast<std::int64_t>(out), static_cast<std::int64_t>(row_bytes)},
                  "binary weights packed at 1 bit: out, ceil(in / 8)");
    const auto packed = f.read_matrix<std::uint8_t>(name);
    p.trits.resize(out, in);
    const unsigned pad_mask = in % 8 == 0 ? 0u : (0xFFu << (in % 8)) & 0xFFu;
    for (index_t r = 0; r < out; ++r) {
      const std::uint8_t* row = packed.data() + r * row_bytes;
      BITLIN_REQUIRE((row[row_bytes - 1] & pad_mask) == 0, format_error, "tensor '", name,
                     "': row ", r, " has padding bits set (binary_b1 pads with 0)");
      traits::unpack(row, in, p.trits.data() + r * in);  // row-major: row r is contiguous
    }
    const std::string sname = prefix + ".weight_scale";
    const auto& si = require_tensor(ck, sname);
    BITLIN_REQUIRE(
        is_float_dtype(si.type) && si.shape.size() == 1 && si.numel() >= 1 && out % si.numel() == 0,
        format_error, "tensor '", sname,
        "' must hold one F32/F16/BF16 value or one per equal group of the ", out, " rows, it is ",
        io::dtype_name(si.type), " ", io::detail::shape_string(si.shape));
    std::vector<float> v = ck.file(sname).read_f32(sname);
    for (std::size_t i = 0; i < v.size(); ++i)
      BITLIN_REQUIRE(
          std::isfinite(v[i]) &&
              (v[i] > 0.0f || (v[i] == 0.0f && p.convention == scale_convention::multiply)),
          value_error, "tensor '", sname, "' holds ", v[i], " at element ", i,
          ", not a usable weight scale");
    p.scale = v.front();
    if (v.size() > 1) p.group_scales = std::move(v);
    return p;
  }
  BITLIN_REQUIRE(is_float_dtype(ti.type), format_error, "tensor '", name, "' has dtype ",
                 io::dtype_name(ti.type),
                 "; expected U8 (1-bit packed) or F32/F16/BF16 (master weights)");
  require_shape(ti, {static_cast<std::int64_t>(out), static_cast<std::int64_t>(in)}, why);
  const matrix_f master = f.read_matrix_f32(name);
  require_finite(master.data(), static_cast<std::size_t>(master.size()), name);
  const index_t g = c.weight_group_rows;
  BITLIN_REQUIRE(g == 0 || out % g == 0, value_error, "tensor '", name, "' has ", out,
                 " rows, not a multiple of config quantization_config.weight_group_rows = ", g);
  binary_weights bw =
      sign_binary(master, g == 0 ? scale_groups::per_tensor() : scale_groups::row_groups(g));
  p.trits = std::move(bw.q);
  p.convention = scale_convention::multiply;  // beta, as sign_binary gives it
  p.scale = bw.scales.values.front();
  if (bw.scales.values.size() > 1) p.group_scales = std::move(bw.scales.values);
  return p;
}

// `<prefix>.weight` (+ `<prefix>.weight_scale` when packed) as trits and a scale.
inline ternary_projection read_projection(const checkpoint& ck, const bitnet_config& c,
                                          const std::string& prefix, index_t out, index_t in,
                                          const char* why) {
  if (c.binary()) return read_binary_projection(ck, c, prefix, out, in, why);
  const std::string name = prefix + ".weight";
  const auto& ti = require_tensor(ck, name);
  const auto& f = ck.file(name);
  ternary_projection p;
  if (ti.type == io::dtype::u8) {
    require_shape(ti, {static_cast<std::int64_t>((out + 3) / 4), static_cast<std::int64_t>(in)},
                  why);
    try {
      p.trits = unpack_hf_bitnet(f.read_matrix<std::uint8_t>(name), out);
    } catch (const format_error& e) {
      throw format_error(::bitlin::detail::concat("tensor '", name, "': ", e.what()));
    }
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
  const matrix_f master = f.read_matrix_f32(name);
  require_finite(master.data(), static_cast<std::size_t>(master.size()), name);
  ternary_weights q = absmean_ternary(master);
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
  // The layer count comes from the config; the checkpoint's tensors bound what it can really hold.
  blocks.reserve(std::min(static_cast<std::size_t>(c.num_hidden_layers), ck.names().size()));
  for (index_t l = 0; l < c.num_hidden_layers; ++l)
    blocks.emplace_back(c, read_block_weights(ck, c, l), opt.target, 1, opt.layout);
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
  io::checkpoint_options co;
  co.follow_external_links = opt.follow_external_links;
  const auto c = bitnet_config::from_file(io::resolve_model_file(dir, "config.json", co));
  return load_bitnet(c, checkpoint::open_dir(dir, co), opt);
}

// A config file and weight files named freely (e.g. test fixtures `<tag>_config.json`).
inline bitnet_model load_bitnet(const std::string& config_path,
                                const std::vector<std::string>& weight_files,
                                const load_options& opt = {}) {
  return load_bitnet(bitnet_config::from_file(config_path), checkpoint::open_files(weight_files),
                     opt);
}

}  // namespace bitlin::model
