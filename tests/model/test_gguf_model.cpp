// BitNet models through GGUF: both fixture models converted HF -> GGUF (I2_S) -> model and
// GGUF -> HF directory -> model give transformers' logits within the fixture band (and, where the
// numbers cannot change, bit for bit the direct model's); a model whose rows fit TQ1_0/TQ2_0's
// 256-weight blocks goes through all three ternary types, bit-identical to the direct model when
// its scales are exact in binary16; the tokenizer is carried both ways; metadata errors name the
// key.
#include <atomic>
#include <functional>
#include <filesystem>
#include <fstream>
#include <random>

#include "bitlin/model/gguf.hpp"
#include "catch.hpp"
#include "test_util.hpp"
#include "model_test_util.hpp"

using namespace bitlin;
using namespace bitlin::model;
namespace fs = std::filesystem;
using bitlin_test::compare;

namespace {

using bitlin_test::temp_dir;

void copy_fixture(const bitlin_test::fixture_triple& fx, const temp_dir& d) {
  fs::copy_file(fx.config, d / "config.json");
  fs::copy_file(fx.model, d / "model.safetensors");
}

matrix_f ref_logits(const bitlin_test::fixture_triple& fx, std::vector<std::int64_t>* ids) {
  const auto r = io::safetensors_file::open(fx.ref);
  *ids = r.read<std::int64_t>("input_ids");
  return r.read_matrix_f32("logits");
}

// A tiny tokenizer.json (byte-level BPE) that is enough to check it is carried along.
const char* const tiny_tokenizer_json = R"({
  "version": "1.0",
  "added_tokens": [{"id": 3, "content": "<|eot_id|>", "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": true}],
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
     {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|\\s+"},
      "behavior": "Isolated", "invert": false},
     {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
  "model": {"type": "BPE", "ignore_merges": true, "vocab": {"a": 0, "b": 1, "ab": 2},
            "merges": [["a", "b"]]}
})";

// A random packed checkpoint whose projection rows are multiples of 256 long (what TQ1_0/TQ2_0
// need), with scales exact in binary16 when `f16_exact`.
void write_random_dir(const temp_dir& d, bool f16_exact, unsigned seed) {
  nlohmann::json cj = {
      {"model_type", "bitnet"},
      {"vocab_size", 96},
      {"hidden_size", 256},
      {"intermediate_size", 512},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 2},
      {"max_position_embeddings", 64},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"tie_word_embeddings", true},
      {"bos_token_id", 0},
      {"eos_token_id", 3},
      {"quantization_config", {{"quant_method", "bitnet"}, {"linear_class", "autobitlinear"}}}};
  std::ofstream(d / "config.json") << cj.dump(2);
  std::ofstream(d / "tokenizer.json") << tiny_tokenizer_json;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> trit(-1, 1);
  io::safetensors_writer w;
  matrix_f emb(96, 256);
  for (index_t i = 0; i < emb.size(); ++i) emb.data()[i] = u(rng);
  w.add_matrix<float>("model.embed_tokens.weight", emb);
  auto vec = [&](const std::string& n, index_t len) {
    std::vector<float> v(static_cast<std::size_t>(len));
    for (auto& x : v) x = 1.0f + 0.5f * u(rng);
    w.add_f32(n, {len}, v.data());
  };
  auto proj = [&](const std::string& n, index_t out, index_t in) {
    matrix_i8 t(out, in);
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<std::int8_t>(trit(rng));
    w.add_matrix<std::uint8_t>(n + ".weight", pack_hf_bitnet(t));
    float s = 0.01f + 0.05f * std::fabs(u(rng));
    if (f16_exact) s = io::f16_to_f32(io::f32_to_f16(s));
    w.add_f32(n + ".weight_scale", {1}, &s);
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", 256);
    vec(p + "post_attention_layernorm.weight", 256);
    vec(p + "self_attn.attn_sub_norm.weight", 256);
    vec(p + "mlp.ffn_sub_norm.weight", 512);
    proj(p + "self_attn.q_proj", 256, 256);
    proj(p + "self_attn.k_proj", 128, 256);
    proj(p + "self_attn.v_proj", 128, 256);
    proj(p + "self_attn.o_proj", 256, 256);
    proj(p + "mlp.gate_proj", 512, 256);
    proj(p + "mlp.up_proj", 512, 256);
    proj(p + "mlp.down_proj", 256, 512);
  }
  vec("model.norm.weight", 256);
  w.write(d / "model.safetensors");
}

float max_abs_diff(const matrix_f& a, const matrix_f& b) {
  return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("gguf model: both fixtures through I2_S GGUF and back to HF give transformers' logits",
          "[model][gguf]") {
  const auto fixtures = bitlin_test::model_fixtures();
  REQUIRE(!fixtures.empty());
  for (const auto& fx : fixtures) {
    CAPTURE(fx.tag);
    temp_dir src, back;
    copy_fixture(fx, src);
    std::vector<std::int64_t> ids;
    const matrix_f ref = ref_logits(fx, &ids);
    const bitnet_model direct = load_bitnet(src.path.string());
    const matrix_f l_direct = direct.logits(ids);

    const std::string gguf = src / "model.gguf";
    convert_to_gguf(src.path.string(), gguf);
    CHECK(is_gguf_path(gguf));
    CHECK_FALSE(is_gguf_path(src.path.string()));
    const auto f = io::gguf_file::open(gguf);
    CHECK(f.get_string("general.architecture") == "bitnet-b1.58");
    const bitnet_config c = bitnet_config::from_file(fx.config);
    CHECK(f.get_uint("bitnet-b1.58.block_count") ==
          static_cast<std::uint64_t>(c.num_hidden_layers));
    CHECK(f.get_uint("bitnet-b1.58.attention.head_count_kv") ==
          static_cast<std::uint64_t>(c.num_key_value_heads));
    CHECK(f.info("blk.0.attn_q.weight").type == io::ggml_type::i2_s);
    CHECK(f.info("blk.0.attn_norm.weight").type == io::ggml_type::f32);
    CHECK(f.contains("output.weight") == !c.tie_word_embeddings);

    const bitnet_model from_gguf = load_bitnet_auto(gguf);
    CHECK(from_gguf.config().linear_class == "autobitlinear");
    const matrix_f l_gguf = from_gguf.logits(ids);
    const auto bd = compare(l_gguf, ref);
    std::printf("[%s] HF -> I2_S GGUF: max %.4f%% median %.4f%% of max|logit|\n", fx.tag.c_str(),
                100 * bd.max_rel, 100 * bd.median_rel);
    CHECK(bd.within());
    if (c.convention() == scale_convention::multiply)
      CHECK(max_abs_diff(l_gguf, l_direct) == 0.0f);  // same trits, scale, convention, tables

    convert_from_gguf(gguf, back.path.string());
    const bitnet_model from_back = load_bitnet_auto(back.path.string());
    CHECK(max_abs_diff(from_back.logits(ids), l_gguf) == 0.0f);
    CHECK(compare(from_back.logits(ids), ref).within());

    // TQ1_0 / TQ2_0 need rows of 256k weights; the fixtures' 128-wide rows cannot be stored.
    for (auto ty : {io::ggml_type::tq1_0, io::ggml_type::tq2_0}) {
      gguf_export_options o;
      o.format = ty;
      CHECK_THROWS_WITH(convert_to_gguf(src.path.string(), src / "tq.gguf", o),
                        Catch::Contains("not a multiple of 256"));
    }
  }
}

TEST_CASE("gguf model: TQ1_0, TQ2_0 and I2_S round trips are exact when scales fit binary16",
          "[model][gguf]") {
  for (bool exact : {true, false}) {
    CAPTURE(exact);
    temp_dir d;
    write_random_dir(d, exact, exact ? 1u : 2u);
    const bitnet_model direct = load_bitnet(d.path.string());
    const std::vector<std::int64_t> ids = {0, 5, 17, 42, 95, 3, 7};
    const matrix_f l_direct = direct.logits(ids);
    for (auto ty : {io::ggml_type::tq1_0, io::ggml_type::tq2_0, io::ggml_type::i2_s}) {
      CAPTURE(io::ggml_type_name(ty));
      gguf_export_options o;
      o.format = ty;
      const std::string path = d / (std::string(io::ggml_type_name(ty)) + ".gguf");
      convert_to_gguf(d.path.string(), path, o);
      const matrix_f l = load_bitnet_gguf(path).logits(ids);
      const float scale = l_direct.cwiseAbs().maxCoeff();
      if (exact || ty == io::ggml_type::i2_s) {
        CHECK(max_abs_diff(l, l_direct) == 0.0f);
      } else {
        // Only the f16 rounding of each scale (<= 2^-11 relative) differs; an int8 activation
        // step can flip downstream, so compare in the fixture band's units.
        CHECK(max_abs_diff(l, l_direct) <= 0.03f * scale);
        CHECK(max_abs_diff(l, l_direct) > 0.0f);
      }
      temp_dir back;
      convert_from_gguf(path, back.path.string());
      CHECK(max_abs_diff(load_bitnet(back.path.string()).logits(ids), l) == 0.0f);
    }
  }
}

TEST_CASE("gguf model: the tokenizer is carried along both ways", "[model][gguf]") {
  temp_dir d, back;
  write_random_dir(d, true, 3);
  std::ofstream(d / "tokenizer_config.json")
      << R"({"chat_template": "{% for m in messages %}{{ m.role }}{% endfor %}"})";
  const std::string path = d / "m.gguf";
  convert_to_gguf(d.path.string(), path);
  const auto f = io::gguf_file::open(path);
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_strings("tokenizer.ggml.tokens") ==
        std::vector<std::string>{"a", "b", "ab", "<|eot_id|>"});
  CHECK(f.get_ints("tokenizer.ggml.token_type") == std::vector<std::int64_t>{1, 1, 1, 3});
  CHECK(f.get_strings("tokenizer.ggml.merges") == std::vector<std::string>{"a b"});
  CHECK(f.get_uint("tokenizer.ggml.bos_token_id") == 0);
  CHECK(f.get_uint("tokenizer.ggml.eos_token_id") == 3);
  CHECK(f.get_string("tokenizer.chat_template").find("m.role") != std::string::npos);
  CHECK(f.get_string("tokenizer.huggingface.json") == tiny_tokenizer_json);
  convert_from_gguf(path, back.path.string());
  std::ifstream in(back / "tokenizer.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == tiny_tokenizer_json);

  // Without the verbatim copy, a tokenizer.json is assembled from tokenizer.ggml.*.
  io::gguf_writer w;
  for (const auto& kv : f.metadata())
    if (kv.first != "tokenizer.huggingface.json") w.set(kv.first, kv.second);
  for (const auto& ti : f.tensors())
    w.add_tensor(ti.name, ti.type, ti.ne,
                 std::vector<std::uint8_t>(f.raw(ti.name), f.raw(ti.name) + ti.nbytes));
  const auto g = io::gguf_file::from_bytes(w.to_bytes());
  const auto tj = nlohmann::json::parse(tokenizer_json_from_gguf(g));
  CHECK(tj["model"]["vocab"]["ab"] == 2);
  CHECK(tj["model"]["merges"][0] == "a b");
  CHECK(tj["added_tokens"][0]["content"] == "<|eot_id|>");
  CHECK(tj["added_tokens"][0]["special"] == true);
  CHECK(tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == llama3_pretokenizer_regex());
}

TEST_CASE("gguf model: metadata and tensor errors name what is wrong", "[model][gguf]") {
  temp_dir d;
  write_random_dir(d, true, 4);
  const std::string path = d / "m.gguf";
  convert_to_gguf(d.path.string(), path);
  const auto f = io::gguf_file::open(path);
  auto rewrite = [&](const std::function<bool(const std::string&)>& keep_key,
                     const std::function<bool(const std::string&)>& keep_tensor) {
    io::gguf_writer w;
    for (const auto& kv : f.metadata())
      if (keep_key(kv.first)) w.set(kv.first, kv.second);
    for (const auto& ti : f.tensors())
      if (keep_tensor(ti.name))
        w.add_tensor(ti.name, ti.type, ti.ne,
                     std::vector<std::uint8_t>(f.raw(ti.name), f.raw(ti.name) + ti.nbytes));
    w.write(d / "bad.gguf");
    return d / "bad.gguf";
  };
  auto all = [](const std::string&) { return true; };
  CHECK_THROWS_WITH(load_bitnet_gguf(rewrite(
                        [](const std::string& k) { return k != "bitnet-b1.58.block_count"; }, all)),
                    Catch::Contains("bitnet-b1.58.block_count"));
  CHECK_THROWS_WITH(load_bitnet_gguf(rewrite(
                        all, [](const std::string& t) { return t != "blk.1.ffn_up.weight"; })),
                    Catch::Contains("blk.1.ffn_up.weight"));
  {
    io::gguf_writer w;
    w.set_string("general.architecture", "llama");
    w.write(d / "llama.gguf");
    CHECK_THROWS_WITH(load_bitnet_gguf(d / "llama.gguf"), Catch::Contains("\"llama\""));
  }
}
