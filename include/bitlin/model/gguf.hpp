// BitNet b1.58 models in GGUF, both ways, so that the files llama.cpp and bitnet.cpp users already
// have load here, and bitlin's checkpoints run there. Read: the llama.cpp `bitnet` architecture
// and bitnet.cpp's `bitnet-b1.58` (and its older name `bitnet-25`): `<arch>.block_count`,
// `embedding_length`, `feed_forward_length`, `attention.head_count(_kv)`,
// `attention.layer_norm_rms_epsilon`, `rope.freq_base`, `vocab_size` / `context_length`, projection
// weights in TQ1_0, TQ2_0 or I2_S, norms in F32, the embedding (tied unless `output.weight` exists)
// in F16, BF16 or F32. Both architectures use the rotate-half ("NEOX") RoPE of Hugging Face, so
// no q/k permutation is involved. Write: the `bitnet-b1.58` architecture with the projections in
// the chosen ternary type, norms in F32 and the embedding and head in their source dtype (so no
// extra rounding), and the tokenizer (tokenizer.json) both as `tokenizer.ggml.*` (what llama.cpp
// reads) and verbatim as `tokenizer.huggingface.json`.
//
// The GGUF side of a model is converted to the Hugging Face layout (packed uint8 projections +
// weight_scale, linear_class "autobitlinear", because a GGUF scale multiplies) and handed to
// load_bitnet, so the model is assembled by the one loader bitlin has. Converting to the GGUF
// side changes the numbers in one place only: a "bitlinear" checkpoint's dividing scale s becomes
// the multiplying 1/s (rounded once to fp32), and in TQ1_0/TQ2_0 to binary16 (io/gguf.hpp).
//
// Loading a GGUF model builds the Hugging Face tensors in memory first: peak memory is about
// twice the model's size while loading (the mapped file stays shared with the page cache).
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/io/gguf.hpp"
#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/pack/hf_bitnet.hpp"
#include "bitlin/text/pretokenizers.hpp"

namespace bitlin::model {

// The pre-tokenizer patterns (text/pretokenizers.hpp), also under their old names here.
using text::gpt2_pretokenizer_regex;
using text::llama3_pretokenizer_regex;

struct gguf_export_options {
  io::ggml_type format = io::ggml_type::i2_s;  // TQ1_0, TQ2_0 or I2_S
  std::string arch = "bitnet-b1.58";
  std::string name;  // general.name; empty: none
  // convert_to_gguf: the tokenizer.json to carry along; empty: the model directory's, if any.
  std::string tokenizer_json_path;
};

namespace detail {

inline const std::vector<std::pair<const char*, const char*>>& gguf_layer_names() {
  static const std::vector<std::pair<const char*, const char*>> v = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.attn_sub_norm.weight", "attn_sub_norm.weight"},
      {"mlp.ffn_sub_norm.weight", "ffn_sub_norm.weight"},
      {"self_attn.q_proj", "attn_q.weight"},
      {"self_attn.k_proj", "attn_k.weight"},
      {"self_attn.v_proj", "attn_v.weight"},
      {"self_attn.o_proj", "attn_output.weight"},
      {"mlp.gate_proj", "ffn_gate.weight"},
      {"mlp.up_proj", "ffn_up.weight"},
      {"mlp.down_proj", "ffn_down.weight"},
  };
  return v;
}

inline bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

inline io::ggml_type ggml_of(io::dtype t) {
  switch (t) {
    case io::dtype::f32:
      return io::ggml_type::f32;
    case io::dtype::f16:
      return io::ggml_type::f16;
    case io::dtype::bf16:
      return io::ggml_type::bf16;
    default:
      throw value_error("GGUF export: only F32, F16 and BF16 tables are supported");
  }
}

inline std::vector<std::uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  BITLIN_REQUIRE(in.good(), format_error, "cannot open ", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw format_error(::bitlin::detail::concat(path, ": not valid JSON: ", e.what()));
  }
  return j;
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BITLIN_REQUIRE(in.good(), format_error, "cannot open ", path);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace detail

// tokenizer.json (byte-level BPE) as `tokenizer.ggml.*` keys: tokens in id order, token types
// (1 normal, 3 control = special added token, 4 user-defined = other added token, 5 unused id),
// merges as "left right" strings, plus the file itself as `tokenizer.huggingface.json`. BOS/EOS
// come from `bos_id` / `eos_id` when >= 0.
inline void gguf_set_tokenizer(io::gguf_writer& w, const std::string& tokenizer_json_text,
                               std::int64_t bos_id, std::int64_t eos_id,
                               const std::string& chat_template = {}) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(tokenizer_json_text);
  } catch (const nlohmann::json::exception& e) {
    throw format_error(::bitlin::detail::concat("tokenizer.json: not valid JSON: ", e.what()));
  }
  BITLIN_REQUIRE(j.is_object() && j.contains("model") && j["model"].is_object(), format_error,
                 "tokenizer.json: missing object \"model\"");
  const auto& m = j["model"];
  BITLIN_REQUIRE(
      m.contains("type") && m["type"].is_string() && m["type"].get<std::string>() == "BPE",
      format_error, "tokenizer.json: field \"model.type\" must be \"BPE\" for GGUF export");
  BITLIN_REQUIRE(m.contains("vocab") && m["vocab"].is_object(), format_error,
                 "tokenizer.json: field \"model.vocab\" must be an object");
  std::map<std::int64_t, std::pair<std::string, std::int32_t>> by_id;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    BITLIN_REQUIRE(it->is_number_integer() && it->get<std::int64_t>() >= 0, format_error,
                   "tokenizer.json: vocab entry \"", it.key(), "\" has no non-negative id");
    by_id[it->get<std::int64_t>()] = {it.key(), 1};
  }
  if (const auto at = j.find("added_tokens"); at != j.end() && at->is_array())
    for (const auto& t : *at) {
      BITLIN_REQUIRE(t.is_object() && t.contains("id") && t["id"].is_number_integer() &&
                         t.contains("content") && t["content"].is_string(),
                     format_error, "tokenizer.json: an added_tokens entry lacks id or content");
      by_id[t["id"].get<std::int64_t>()] = {
          t["content"].get<std::string>(),
          t.contains("special") && t["special"].is_boolean() && t["special"].get<bool>() ? 3 : 4};
    }
  const std::int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  BITLIN_REQUIRE(n <= (std::int64_t{1} << 24), format_error, "tokenizer.json: token id ", n - 1,
                 " is implausibly large");
  std::vector<std::string> tokens(static_cast<std::size_t>(n));
  std::vector<std::int32_t> types(static_cast<std::size_t>(n), 5);
  for (std::int64_t id = 0; id < n; ++id) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      tokens[static_cast<std::size_t>(id)] = "[PAD" + std::to_string(id) + "]";
    } else {
      tokens[static_cast<std::size_t>(id)] = it->second.first;
      types[static_cast<std::size_t>(id)] = it->second.second;
    }
  }
  std::vector<std::string> merges;
  if (const auto mg = m.find("merges"); mg != m.end() && mg->is_array()) {
    merges.reserve(mg->size());
    for (const auto& e : *mg) {
      if (e.is_string()) {
        merges.push_back(e.get<std::string>());
      } else {
        BITLIN_REQUIRE(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(),
                       format_error, "tokenizer.json: a merge is neither \"a b\" nor [a, b]");
        merges.push_back(e[0].get<std::string>() + " " + e[1].get<std::string>());
      }
    }
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  std::string pre = "default";
  const std::string text = tokenizer_json_text;
  if (j.contains("pre_tokenizer") &&
      j["pre_tokenizer"].dump().find("(?i:'s|'t|'re|'ve|'m|'ll|'d)") != std::string::npos)
    pre = "llama-bpe";
  w.set_string("tokenizer.ggml.pre", pre);
  w.set("tokenizer.ggml.tokens", io::gguf_value::of_strings(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", io::gguf_value::of_numbers(io::gguf_type::i32, types));
  w.set("tokenizer.ggml.merges", io::gguf_value::of_strings(std::move(merges)));
  if (bos_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(bos_id));
  if (eos_id >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(eos_id));
  if (!chat_template.empty()) w.set_string("tokenizer.chat_template", chat_template);
  w.set_string("tokenizer.huggingface.json", text);
}

// A tokenizer.json for the GGUF's vocabulary: `tokenizer.huggingface.json` verbatim when present,
// otherwise one assembled from `tokenizer.ggml.*` (byte-level BPE; control tokens become special
// added tokens; the pre-tokenizer from `tokenizer.ggml.pre`). Empty when the file has no
// vocabulary.
inline std::string tokenizer_json_from_gguf(const io::gguf_file& f) {
  if (f.has("tokenizer.huggingface.json")) return f.get_string("tokenizer.huggingface.json");
  if (!f.has("tokenizer.ggml.tokens")) return {};
  const std::string model =
      f.has("tokenizer.ggml.model") ? f.get_string("tokenizer.ggml.model") : std::string("gpt2");
  BITLIN_REQUIRE(model == "gpt2", format_error, "GGUF file ", f.path(),
                 ": tokenizer.ggml.model is \"", model,
                 "\"; only byte-level BPE (\"gpt2\") is supported");
  const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
  std::vector<std::int64_t> types;
  if (f.has("tokenizer.ggml.token_type")) types = f.get_ints("tokenizer.ggml.token_type");
  BITLIN_REQUIRE(types.empty() || types.size() == tokens.size(), format_error, "GGUF file ",
                 f.path(), ": tokenizer.ggml.token_type has ", types.size(), " entries for ",
                 tokens.size(), " tokens");
  const std::string pre =
      f.has("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : std::string("llama-bpe");
  const bool llama = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
  BITLIN_REQUIRE(llama || pre == "gpt-2" || pre == "default", format_error, "GGUF file ", f.path(),
                 ": tokenizer.ggml.pre \"", pre, "\" is not one bitlin knows");
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    const std::int64_t ty = types.empty() ? 1 : types[id];
    if (ty == 3 || ty == 4)
      added.push_back({{"id", id},
                       {"content", tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", ty == 4},
                       {"special", ty == 3}});
    else
      vocab[tokens[id]] = id;
  }
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", llama ? llama3_pretokenizer_regex() : gpt2_pretokenizer_regex()}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"},
         {"add_prefix_space", false},
         {"trim_offsets", true},
         {"use_regex", false}}}}};
  j["post_processor"] = {{"type", "ByteLevel"},
                         {"add_prefix_space", true},
                         {"trim_offsets", false},
                         {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"},
                  {"add_prefix_space", true},
                  {"trim_offsets", true},
                  {"use_regex", true}};
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  if (f.has("tokenizer.ggml.merges"))
    for (const auto& mg : f.get_strings("tokenizer.ggml.merges")) merges.push_back(mg);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", llama},
                {"vocab", vocab},
                {"merges", merges}};
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// The bitnet_config a GGUF file's metadata describes (throws naming the key at fault).
inline bitnet_config config_from_gguf(const io::gguf_file& f) {
  const std::string arch = f.get_string("general.architecture");
  BITLIN_REQUIRE(arch == "bitnet" || arch == "bitnet-b1.58" || arch == "bitnet-25", format_error,
                 "GGUF file ", f.path(), ": general.architecture is \"", arch,
                 "\"; expected \"bitnet\" or \"bitnet-b1.58\"");
  auto key = [&](const char* k) { return arch + "." + k; };
  nlohmann::json j;
  j["model_type"] = "bitnet";
  j["hidden_act"] = "relu2";
  j["hidden_size"] = f.get_uint(key("embedding_length"));
  j["intermediate_size"] = f.get_uint(key("feed_forward_length"));
  j["num_hidden_layers"] = f.get_uint(key("block_count"));
  j["num_attention_heads"] = f.get_uint(key("attention.head_count"));
  j["num_key_value_heads"] = f.has(key("attention.head_count_kv"))
                                 ? f.get_uint(key("attention.head_count_kv"))
                                 : f.get_uint(key("attention.head_count"));
  if (f.has(key("attention.key_length"))) j["head_dim"] = f.get_uint(key("attention.key_length"));
  std::uint64_t vocab = 0;
  if (f.has(key("vocab_size")))
    vocab = f.get_uint(key("vocab_size"));
  else if (f.contains("token_embd.weight") && f.info("token_embd.weight").ne.size() == 2)
    vocab = f.info("token_embd.weight").ne[1];
  else if (f.has("tokenizer.ggml.tokens"))
    vocab = f.get_strings("tokenizer.ggml.tokens").size();
  j["vocab_size"] = vocab;
  j["max_position_embeddings"] =
      f.has(key("context_length")) ? f.get_uint(key("context_length")) : 2048;
  j["rms_norm_eps"] = f.get_float(key("attention.layer_norm_rms_epsilon"));
  j["rope_theta"] = f.has(key("rope.freq_base")) ? f.get_float(key("rope.freq_base")) : 500000.0;
  j["tie_word_embeddings"] = !f.contains("output.weight");
  if (f.has("tokenizer.ggml.bos_token_id"))
    j["bos_token_id"] = f.get_uint("tokenizer.ggml.bos_token_id");
  if (f.has("tokenizer.ggml.eos_token_id"))
    j["eos_token_id"] = f.get_uint("tokenizer.ggml.eos_token_id");
  j["quantization_config"] = {{"quant_method", "bitnet"},
                              {"linear_class", "autobitlinear"},
                              {"quantization_mode", "offline"}};
  try {
    return bitnet_config::from_json(j);
  } catch (const bitlin::error& e) {
    throw format_error(::bitlin::detail::concat("GGUF file ", f.path(), ": ", e.what()));
  }
}

// The model's tensors in the Hugging Face layout (packed projections + weight_scale), checked
// against the shapes `c` implies.
inline io::safetensors_writer hf_tensors_from_gguf(const io::gguf_file& f, const bitnet_config& c) {
  io::safetensors_writer w;
  auto require_ne = [&](const std::string& name, std::vector<std::uint64_t> ne) {
    BITLIN_REQUIRE(f.contains(name), format_error, "GGUF file ", f.path(), ": missing tensor '",
                   name, "'");
    const auto& ti = f.info(name);
    std::vector<std::uint64_t> got = ti.ne;
    while (got.size() > ne.size() && got.back() == 1) got.pop_back();
    BITLIN_REQUIRE(got == ne, shape_error, "GGUF file ", f.path(), ": tensor '", name, "' has ne ",
                   io::detail::shape_string({got.begin(), got.end()}), ", expected ",
                   io::detail::shape_string({ne.begin(), ne.end()}));
    return ti;
  };
  auto table = [&](const std::string& gname, const std::string& hname) {
    const auto ti = require_ne(gname, {static_cast<std::uint64_t>(c.hidden_size),
                                       static_cast<std::uint64_t>(c.vocab_size)});
    const std::vector<std::int64_t> shape = {c.vocab_size, c.hidden_size};
    if (ti.type == io::ggml_type::f16 || ti.type == io::ggml_type::bf16 ||
        ti.type == io::ggml_type::f32)
      w.add(hname,
            ti.type == io::ggml_type::f16    ? io::dtype::f16
            : ti.type == io::ggml_type::bf16 ? io::dtype::bf16
                                             : io::dtype::f32,
            shape, f.raw(gname), static_cast<std::size_t>(ti.nbytes));
    else
      throw format_error(::bitlin::detail::concat("GGUF file ", f.path(), ": tensor '", gname,
                                                  "' has type ", io::ggml_type_name(ti.type),
                                                  "; expected F16, BF16 or F32"));
  };
  auto vec = [&](const std::string& gname, const std::string& hname, index_t n) {
    require_ne(gname, {static_cast<std::uint64_t>(n)});
    const std::vector<float> v = f.read_f32(gname);
    w.add_f32(hname, {n}, v.data());
  };
  table("token_embd.weight", "model.embed_tokens.weight");
  const index_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  for (index_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    vec(g + "attn_norm.weight", h + "input_layernorm.weight", H);
    vec(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", H);
    vec(g + "attn_sub_norm.weight", h + "self_attn.attn_sub_norm.weight", Q);
    vec(g + "ffn_sub_norm.weight", h + "mlp.ffn_sub_norm.weight", I);
    const std::pair<const char*, std::pair<index_t, index_t>> projections[] = {
        {"self_attn.q_proj", {Q, H}}, {"self_attn.k_proj", {KV, H}}, {"self_attn.v_proj", {KV, H}},
        {"self_attn.o_proj", {H, Q}}, {"mlp.gate_proj", {I, H}},     {"mlp.up_proj", {I, H}},
        {"mlp.down_proj", {H, I}}};
    for (const auto& [hp, oi] : projections) {
      std::string gname;
      for (const auto& [hn, gn] : detail::gguf_layer_names())
        if (std::string(hn) == hp) gname = g + gn;
      const auto [out, in] = oi;
      require_ne(gname, {static_cast<std::uint64_t>(in), static_cast<std::uint64_t>(out)});
      const io::gguf_ternary t = io::read_ternary(f, gname);
      BITLIN_REQUIRE(t.uniform, format_error, "GGUF file ", f.path(), ": tensor '", gname,
                     "' has differing block scales; bitlin's BitNet model has one scale per "
                     "projection");
      BITLIN_REQUIRE(std::isfinite(t.scale) && t.scale >= 0.0f, format_error, "GGUF file ",
                     f.path(), ": tensor '", gname, "' has scale ", t.scale);
      w.add_matrix<std::uint8_t>(h + hp + ".weight", pack_hf_bitnet(t.trits));
      w.add_f32(h + hp + ".weight_scale", {1}, &t.scale);
    }
  }
  vec("output_norm.weight", "model.norm.weight", H);
  if (!c.tie_word_embeddings) table("output.weight", "lm_head.weight");
  w.set_metadata({{"format", "pt"}});
  return w;
}

// A GGUF BitNet model, assembled by load_bitnet.
inline bitnet_model load_bitnet_gguf(const std::string& path, const load_options& opt = {}) {
  const auto f = io::gguf_file::open(path);
  const bitnet_config c = config_from_gguf(f);
  std::vector<io::safetensors_file> files;
  files.push_back(io::safetensors_file::from_bytes(hf_tensors_from_gguf(f, c).to_bytes(), path));
  return load_bitnet(c, checkpoint::from_files(std::move(files)), opt);
}

// Whether `path` is a GGUF file (by its magic), as opposed to a model directory.
inline bool is_gguf_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_regular_file(path)) return false;
  std::ifstream in(path, std::ios::binary);
  char m[4] = {};
  in.read(m, 4);
  return in.gcount() == 4 && std::memcmp(m, "GGUF", 4) == 0;
}

// A Hugging Face model directory or a GGUF file.
inline bitnet_model load_bitnet_auto(const std::string& path, const load_options& opt = {}) {
  return is_gguf_path(path) ? load_bitnet_gguf(path, opt) : load_bitnet(path, opt);
}

// Hugging Face checkpoint (`config` + `ck`) -> GGUF at `out_path`. `tokenizer_json` (text, may be
// empty) and `chat_template` are carried along.
inline void write_bitnet_gguf(const bitnet_config& c, const checkpoint& ck,
                              const std::string& out_path, const gguf_export_options& opt = {},
                              const std::string& tokenizer_json = {},
                              const std::string& chat_template = {}) {
  c.validate();
  // GGUF's BitNet architectures are b1.58: a b1 model's binary weights and its BitLinear
  // LayerNorm have no representation there, and writing them as trits would change the model.
  BITLIN_REQUIRE(!c.binary() && !c.activation_layer_norm, value_error,
                 "write_bitnet_gguf: ", c.model_kind(),
                 " models (quantization_config.weight_bits / activation_norm) have no GGUF form; "
                 "GGUF holds BitNet b1.58 models");
  BITLIN_REQUIRE(opt.format == io::ggml_type::tq1_0 || opt.format == io::ggml_type::tq2_0 ||
                     opt.format == io::ggml_type::i2_s,
                 value_error, "write_bitnet_gguf: format must be TQ1_0, TQ2_0 or I2_S");
  const std::string& a = opt.arch;
  io::gguf_writer w;
  w.set_string("general.architecture", a);
  w.set("general.alignment", io::gguf_value::of_u32(32));
  if (!opt.name.empty()) w.set_string("general.name", opt.name);
  auto u32 = [&](const char* k, index_t v) {
    w.set_u32(a + "." + k, static_cast<std::uint32_t>(v));
  };
  u32("vocab_size", c.vocab_size);
  u32("context_length", c.max_position_embeddings);
  u32("embedding_length", c.hidden_size);
  u32("feed_forward_length", c.intermediate_size);
  u32("block_count", c.num_hidden_layers);
  u32("attention.head_count", c.num_attention_heads);
  u32("attention.head_count_kv", c.num_key_value_heads);
  u32("rope.dimension_count", c.head_dim);
  if (c.head_dim * c.num_attention_heads != c.hidden_size) {
    u32("attention.key_length", c.head_dim);
    u32("attention.value_length", c.head_dim);
  }
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  w.set_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  if (!tokenizer_json.empty()) {
    const auto bos = c.raw.contains("bos_token_id") && c.raw["bos_token_id"].is_number_integer()
                         ? c.raw["bos_token_id"].get<std::int64_t>()
                         : -1;
    const auto eos = c.raw.contains("eos_token_id") && c.raw["eos_token_id"].is_number_integer()
                         ? c.raw["eos_token_id"].get<std::int64_t>()
                         : -1;
    gguf_set_tokenizer(w, tokenizer_json, bos, eos, chat_template);
  }

  auto table = [&](const std::string& hname, const std::string& gname) {
    const auto& ti = detail::require_tensor(ck, hname);
    detail::require_shape(ti, {c.vocab_size, c.hidden_size}, "vocab_size x hidden_size");
    const auto* p = ck.file(hname).raw(hname);
    w.add_tensor(
        gname, detail::ggml_of(ti.type),
        {static_cast<std::uint64_t>(c.hidden_size), static_cast<std::uint64_t>(c.vocab_size)},
        std::vector<std::uint8_t>(p, p + ti.nbytes()));
  };
  auto vec = [&](const std::string& hname, const std::string& gname, index_t n) {
    w.add_tensor(gname, io::ggml_type::f32, {static_cast<std::uint64_t>(n)},
                 detail::f32_bytes(detail::read_vector(ck, hname, n, "norm")));
  };
  table("model.embed_tokens.weight", "token_embd.weight");
  const index_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  for (index_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    vec(h + "input_layernorm.weight", g + "attn_norm.weight", H);
    vec(h + "post_attention_layernorm.weight", g + "ffn_norm.weight", H);
    vec(h + "self_attn.attn_sub_norm.weight", g + "attn_sub_norm.weight", Q);
    vec(h + "mlp.ffn_sub_norm.weight", g + "ffn_sub_norm.weight", I);
    const std::pair<const char*, std::pair<index_t, index_t>> projections[] = {
        {"self_attn.q_proj", {Q, H}}, {"self_attn.k_proj", {KV, H}}, {"self_attn.v_proj", {KV, H}},
        {"self_attn.o_proj", {H, Q}}, {"mlp.gate_proj", {I, H}},     {"mlp.up_proj", {I, H}},
        {"mlp.down_proj", {H, I}}};
    for (const auto& [hp, oi] : projections) {
      std::string gname;
      for (const auto& [hn, gn] : detail::gguf_layer_names())
        if (std::string(hn) == hp) gname = g + gn;
      const auto [out, in] = oi;
      const ternary_projection p = detail::read_projection(ck, c, h + hp, out, in, "projection");
      const float s = p.convention == scale_convention::multiply
                          ? p.scale
                          : static_cast<float>(1.0 / static_cast<double>(p.scale));
      try {
        w.add_tensor(gname, opt.format,
                     {static_cast<std::uint64_t>(in), static_cast<std::uint64_t>(out)},
                     io::encode_ternary(opt.format, p.trits, s));
      } catch (const bitlin::error& e) {
        throw value_error(::bitlin::detail::concat("write_bitnet_gguf: tensor '", h, hp,
                                                   ".weight' as ", io::ggml_type_name(opt.format),
                                                   ": ", e.what()));
      }
    }
  }
  vec("model.norm.weight", "output_norm.weight", H);
  if (!c.tie_word_embeddings) table("lm_head.weight", "output.weight");
  w.write(out_path);
}

// A Hugging Face model directory -> GGUF; tokenizer.json and tokenizer_config.json's
// chat_template are carried along when present.
inline void convert_to_gguf(const std::string& dir, const std::string& out_path,
                            const gguf_export_options& opt = {}) {
  namespace fs = std::filesystem;
  const auto c = bitnet_config::from_file((fs::path(dir) / "config.json").string());
  const fs::path tok = opt.tokenizer_json_path.empty() ? fs::path(dir) / "tokenizer.json"
                                                       : fs::path(opt.tokenizer_json_path);
  BITLIN_REQUIRE(opt.tokenizer_json_path.empty() || fs::exists(tok), format_error,
                 "convert_to_gguf: tokenizer file ", tok.string(), " does not exist");
  const fs::path tcfg = fs::path(dir) / "tokenizer_config.json";
  std::string chat;
  if (fs::exists(tcfg)) {
    const auto tj = detail::read_json_file(tcfg.string());
    if (tj.contains("chat_template") && tj["chat_template"].is_string())
      chat = tj["chat_template"].get<std::string>();
  }
  write_bitnet_gguf(c, checkpoint::open_dir(dir), out_path, opt,
                    fs::exists(tok) ? detail::read_text_file(tok.string()) : std::string(), chat);
}

// GGUF -> a Hugging Face model directory (config.json, model.safetensors, and tokenizer.json /
// tokenizer_config.json when the file carries a vocabulary).
inline void convert_from_gguf(const std::string& gguf_path, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const auto f = io::gguf_file::open(gguf_path);
  const bitnet_config c = config_from_gguf(f);
  const io::safetensors_writer w = hf_tensors_from_gguf(f, c);
  fs::create_directories(out_dir);
  {
    std::ofstream out(fs::path(out_dir) / "config.json");
    BITLIN_REQUIRE(out.good(), error, "convert_from_gguf: cannot write config.json in ", out_dir);
    out << c.to_json().dump(2) << "\n";
  }
  fs::remove(fs::path(out_dir) / "model.safetensors.index.json");
  w.write((fs::path(out_dir) / "model.safetensors").string());
  const std::string tok = tokenizer_json_from_gguf(f);
  if (!tok.empty()) {
    std::ofstream(fs::path(out_dir) / "tokenizer.json", std::ios::binary) << tok;
    nlohmann::json tc = nlohmann::json::object();
    if (f.has("tokenizer.chat_template"))
      tc["chat_template"] = f.get_string("tokenizer.chat_template");
    const auto& tokens = f.has("tokenizer.ggml.tokens") ? f.get_strings("tokenizer.ggml.tokens")
                                                        : std::vector<std::string>{};
    auto name_of = [&](const char* key) -> std::string {
      if (!f.has(key)) return {};
      const auto id = f.get_uint(key);
      return id < tokens.size() ? tokens[static_cast<std::size_t>(id)] : std::string();
    };
    if (const auto b = name_of("tokenizer.ggml.bos_token_id"); !b.empty()) tc["bos_token"] = b;
    if (const auto e = name_of("tokenizer.ggml.eos_token_id"); !e.empty()) tc["eos_token"] = e;
    std::ofstream(fs::path(out_dir) / "tokenizer_config.json") << tc.dump(2) << "\n";
  }
}

}  // namespace bitlin::model
