// Numerical and shape limits of the model, each a clear error naming what is wrong: sequences
// longer than max_position_embeddings (one prompt, or a KV cache filled step by step), NaN and
// Inf in loaded weights, norms and tables (refused at load, naming the tensor, rather than found
// later as NaN logits), zero-size tensors, configuration sizes whose products would overflow, and
// model files that are links out of the model directory.
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bitlin/core/half.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/model/sampling.hpp"
#include "bitlin/testing/random_model.hpp"
#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;
using namespace bitlin::model;
namespace fs = std::filesystem;

namespace {

using bitlin_test::temp_dir;

bitnet_config small_config(index_t max_positions) {
  bitnet_config c;
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.max_position_embeddings = max_positions;
  return c;
}

// A packed checkpoint of small_config as tensors one can edit before writing.
struct tensor {
  std::string name;
  io::dtype type;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
  void set_f32(std::size_t i, float v) {
    REQUIRE(type == io::dtype::f32);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  void set_bf16(std::size_t i, float v) {
    REQUIRE(type == io::dtype::bf16);
    const std::uint16_t b = io::f32_to_bf16(v);
    std::memcpy(bytes.data() + 2 * i, &b, 2);
  }
};

std::vector<tensor> small_checkpoint(bool bf16_embed) {
  const bitnet_config c = small_config(64);
  std::vector<tensor> t;
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  auto floats = [&](const std::string& name, std::vector<std::int64_t> shape, float base) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    tensor x{name, io::dtype::f32, shape, std::vector<std::uint8_t>(4 * n)};
    for (std::size_t i = 0; i < n; ++i) x.set_f32(i, base + nd(rng));
    t.push_back(std::move(x));
  };
  if (bf16_embed) {
    tensor e{"model.embed_tokens.weight",
             io::dtype::bf16,
             {c.vocab_size, c.hidden_size},
             std::vector<std::uint8_t>(static_cast<std::size_t>(2 * c.vocab_size * c.hidden_size))};
    for (std::size_t i = 0; i < e.bytes.size() / 2; ++i) e.set_bf16(i, nd(rng));
    t.push_back(std::move(e));
  } else {
    floats("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, 0.0f);
  }
  for (index_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    floats(p + "input_layernorm.weight", {c.hidden_size}, 1.0f);
    floats(p + "post_attention_layernorm.weight", {c.hidden_size}, 1.0f);
    floats(p + "self_attn.attn_sub_norm.weight", {c.q_size()}, 1.0f);
    floats(p + "mlp.ffn_sub_norm.weight", {c.intermediate_size}, 1.0f);
    const std::pair<const char*, std::pair<index_t, index_t>> projs[] = {
        {"self_attn.q_proj", {c.q_size(), c.hidden_size}},
        {"self_attn.k_proj", {c.kv_size(), c.hidden_size}},
        {"self_attn.v_proj", {c.kv_size(), c.hidden_size}},
        {"self_attn.o_proj", {c.hidden_size, c.q_size()}},
        {"mlp.gate_proj", {c.intermediate_size, c.hidden_size}},
        {"mlp.up_proj", {c.intermediate_size, c.hidden_size}},
        {"mlp.down_proj", {c.hidden_size, c.intermediate_size}}};
    for (const auto& [n, dims] : projs) {
      const auto rows = static_cast<std::size_t>((dims.first + 3) / 4),
                 cols = static_cast<std::size_t>(dims.second);
      tensor w{p + n + ".weight",
               io::dtype::u8,
               {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)},
               std::vector<std::uint8_t>(rows * cols)};
      for (auto& b : w.bytes)  // four 2-bit codes in 0..2 (trits -1..1)
        b = static_cast<std::uint8_t>(rng() % 3 | (rng() % 3) << 2 | (rng() % 3) << 4 |
                                      (rng() % 3) << 6);
      t.push_back(std::move(w));
      floats(p + n + ".weight_scale", {1}, 40.0f);
    }
  }
  floats("model.norm.weight", {c.hidden_size}, 1.0f);
  return t;
}

nlohmann::json small_config_json(index_t max_positions) {
  const bitnet_config c = small_config(max_positions);
  return {{"model_type", "bitnet"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads},
          {"max_position_embeddings", c.max_position_embeddings},
          {"quantization_config", {{"quant_method", "bitnet"}, {"linear_class", "bitlinear"}}}};
}

void write_model(const fs::path& dir, const std::vector<tensor>& t,
                 const nlohmann::json& config = small_config_json(64)) {
  io::safetensors_writer w;
  for (const auto& x : t) w.add(x.name, x.type, x.shape, x.bytes.data(), x.bytes.size());
  w.write((dir / "model.safetensors").string());
  std::ofstream(dir / "config.json") << config.dump();
}

tensor& find(std::vector<tensor>& t, const std::string& name) {
  for (auto& x : t)
    if (x.name == name) return x;
  FAIL("no tensor " << name);
  return t.front();
}

template <class E, class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  FAIL("no error");
  return {};
}

}  // namespace

TEST_CASE("the small checkpoint loads and runs", "[model][limits]") {
  temp_dir d;
  write_model(d.path, small_checkpoint(false));
  const bitnet_model m = load_bitnet(d.path.string());
  const matrix_f logits = m.logits({1, 2, 3});
  CHECK(logits.rows() == 3);
  CHECK(logits.allFinite());
}

TEST_CASE("sequences longer than max_position_embeddings are refused", "[model][limits]") {
  const bitnet_model m = random_bitnet_model(small_config(8), 3, dense_storage::f32);
  const std::vector<std::int64_t> nine(9, 1), six(6, 1), three(3, 1), two(2, 1);
  // One prompt over the limit.
  CHECK_THAT(error_of<value_error>([&] { (void)m.logits(nine); }),
             Catch::Contains("max_position_embeddings") && Catch::Contains("9 tokens"));
  CHECK(m.logits(std::vector<std::int64_t>(8, 1)).rows() == 8);
  // A cache filled step by step: the step that would pass the limit fails, and the cache stays
  // usable for steps that fit.
  kv_cache cache = m.new_cache();
  (void)m.forward(six.data(), 6, cache);
  CHECK_THAT(error_of<value_error>([&] { (void)m.forward(three.data(), 3, cache); }),
             Catch::Contains("at position 6"));
  CHECK(cache.size() == 6);
  CHECK(m.forward(two.data(), 2, cache).allFinite());
  CHECK(cache.size() == 8);
  CHECK_THROWS_AS(m.forward(two.data(), 1, cache), value_error);
  // The cache itself refuses to grow past the model's positions.
  kv_cache c2 = m.new_cache();
  CHECK_THAT(error_of<value_error>([&] { c2.reserve(9); }), Catch::Contains("kv_cache"));
  // generate() checks prompt + new tokens before doing any work.
  sampler s;
  CHECK_THAT(error_of<value_error>([&] { (void)generate(m, six, 3, s); }),
             Catch::Contains("max_position_embeddings"));
  CHECK(generate(m, six, 2, s).size() == 8);
}

TEST_CASE("NaN and Inf in loaded tensors are refused at load, naming the tensor",
          "[model][limits]") {
  const float bad_values[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity()};
  const char* const f32_names[] = {"model.layers.0.input_layernorm.weight",
                                   "model.layers.1.post_attention_layernorm.weight",
                                   "model.layers.0.self_attn.attn_sub_norm.weight",
                                   "model.layers.1.mlp.ffn_sub_norm.weight",
                                   "model.norm.weight",
                                   "model.embed_tokens.weight"};
  for (const float bad : bad_values) {
    for (const char* name : f32_names) {
      CAPTURE(bad, name);
      temp_dir d;
      auto t = small_checkpoint(false);
      find(t, name).set_f32(3, bad);
      write_model(d.path, t);
      CHECK_THAT(error_of<value_error>([&] { (void)load_bitnet(d.path.string()); }),
                 Catch::Contains(name) && Catch::Contains("element 3"));
    }
    {
      temp_dir d;  // BF16 embedding table, kept as BF16
      auto t = small_checkpoint(true);
      find(t, "model.embed_tokens.weight").set_bf16(100, bad);
      write_model(d.path, t);
      CHECK_THAT(error_of<value_error>([&] { (void)load_bitnet(d.path.string()); }),
                 Catch::Contains("model.embed_tokens.weight") && Catch::Contains("element 100"));
    }
    {
      temp_dir d;  // an untied head
      auto t = small_checkpoint(false);
      tensor head = find(t, "model.embed_tokens.weight");
      head.name = "lm_head.weight";
      head.set_f32(7, bad);
      t.push_back(head);
      nlohmann::json cfg = small_config_json(64);
      cfg["tie_word_embeddings"] = false;
      write_model(d.path, t, cfg);
      CHECK_THAT(error_of<value_error>([&] { (void)load_bitnet(d.path.string()); }),
                 Catch::Contains("lm_head.weight"));
    }
    {
      temp_dir d;  // a float master projection (quantized at load)
      auto t = small_checkpoint(false);
      tensor& q = find(t, "model.layers.1.self_attn.q_proj.weight");
      q.type = io::dtype::f32;
      q.shape = {16, 16};
      q.bytes.assign(16 * 16 * 4, 0);
      for (std::size_t i = 0; i < 256; ++i) q.set_f32(i, 0.01f * static_cast<float>(i % 7) - 0.03f);
      q.set_f32(200, bad);
      write_model(d.path, t);
      CHECK_THAT(error_of<value_error>([&] { (void)load_bitnet(d.path.string()); }),
                 Catch::Contains("model.layers.1.self_attn.q_proj.weight"));
    }
    {
      temp_dir d;  // a packed projection's scale
      auto t = small_checkpoint(false);
      find(t, "model.layers.0.mlp.up_proj.weight_scale").set_f32(0, bad);
      write_model(d.path, t);
      CHECK_THAT(error_of<value_error>([&] { (void)load_bitnet(d.path.string()); }),
                 Catch::Contains("model.layers.0.mlp.up_proj.weight_scale"));
    }
  }
}

TEST_CASE("zero-size tensors are refused naming the tensor", "[model][limits]") {
  struct edit {
    const char* name;
    std::vector<std::int64_t> shape;
  };
  const edit edits[] = {{"model.norm.weight", {0}},
                        {"model.layers.0.input_layernorm.weight", {0}},
                        {"model.embed_tokens.weight", {0, 16}},
                        {"model.layers.1.self_attn.q_proj.weight", {0, 16}},
                        {"model.layers.1.self_attn.q_proj.weight_scale", {0}}};
  for (const auto& e : edits) {
    CAPTURE(e.name);
    temp_dir d;
    auto t = small_checkpoint(false);
    tensor& x = find(t, e.name);
    x.shape = e.shape;
    x.bytes.clear();
    write_model(d.path, t);
    const std::string msg = error_of<bitlin::error>([&] { (void)load_bitnet(d.path.string()); });
    CHECK_THAT(msg, Catch::Contains(e.name) && Catch::Contains("[0"));
  }
}

TEST_CASE("configuration sizes are bounded before anything is allocated", "[model][limits]") {
  auto load_with = [](const std::function<void(nlohmann::json&)>& edit) {
    temp_dir d;
    nlohmann::json cfg = small_config_json(64);
    edit(cfg);
    write_model(d.path, small_checkpoint(false), cfg);
    return error_of<bitlin::error>([&] { (void)load_bitnet(d.path.string()); });
  };
  // A layer count far beyond what the file holds: a missing tensor, not an allocation failure.
  CHECK_THAT(load_with([](auto& j) { j["num_hidden_layers"] = 1000000000000LL; }),
             Catch::Contains("num_hidden_layers") || Catch::Contains("model.layers.2."));
  CHECK_THAT(load_with([](auto& j) { j["num_hidden_layers"] = 3; }),
             Catch::Contains("model.layers.2."));
  CHECK_THAT(load_with([](auto& j) { j["vocab_size"] = std::int64_t{1} << 40; }),
             Catch::Contains("vocab_size"));
  CHECK_THAT(load_with([](auto& j) {
               j["num_attention_heads"] = std::int64_t{1} << 30;
               j["num_key_value_heads"] = std::int64_t{1} << 30;
               j["head_dim"] = std::int64_t{1} << 30;
             }),
             Catch::Contains("head_dim"));
  CHECK_THAT(load_with([](auto& j) { j["max_position_embeddings"] = 0; }),
             Catch::Contains("max_position_embeddings"));
  CHECK_THAT(load_with([](auto& j) { j["max_position_embeddings"] = -5; }),
             Catch::Contains("max_position_embeddings"));
  // Deep nesting in config.json stops at the nesting cap.
  temp_dir d;
  write_model(d.path, small_checkpoint(false));
  std::ofstream(d.path / "config.json")
      << "{\"x\": " << std::string(100000, '[') << std::string(100000, ']') << "}";
  CHECK_THAT(error_of<format_error>([&] { (void)load_bitnet(d.path.string()); }),
             Catch::Contains("nests deeper"));
}

TEST_CASE("config.json and weights linked from outside the model directory need an opt-in",
          "[model][limits]") {
  temp_dir src, model;
  write_model(src.path, small_checkpoint(false));
  fs::create_symlink(src.path / "config.json", model.path / "config.json");
  fs::create_symlink(src.path / "model.safetensors", model.path / "model.safetensors");
  CHECK_THAT(error_of<format_error>([&] { (void)load_bitnet(model.path.string()); }),
             Catch::Contains("outside the model directory"));
  load_options opt;
  opt.follow_external_links = true;
  CHECK(load_bitnet(model.path.string(), opt).config().vocab_size == 32);
}

TEST_CASE("an invalid packed code is refused naming the tensor", "[model][limits]") {
  temp_dir d;
  auto t = small_checkpoint(false);
  find(t, "model.layers.1.mlp.gate_proj.weight").bytes[5] = 0xff;
  write_model(d.path, t);
  CHECK_THAT(error_of<format_error>([&] { (void)load_bitnet(d.path.string()); }),
             Catch::Contains("model.layers.1.mlp.gate_proj.weight") && Catch::Contains("code 3"));
}

TEST_CASE("two threads decode the small checkpoint like one", "[model][limits][threads]") {
  temp_dir d;
  write_model(d.path, small_checkpoint(false));
  const bitnet_model m = load_bitnet(d.path.string());
  thread_pool pool(2);
  sampler s1, s2;
  const std::vector<std::int64_t> prompt = {1, 5, 9, 30};
  CHECK(generate(m, prompt, 8, s1, serial()) == generate(m, prompt, 8, s2, pool));
}
