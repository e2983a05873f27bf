// Checkpoint handling around the model: float master weights quantized at load, the native
// converter (float master -> packed HF layout) and its round trip, sharded checkpoints, and the
// errors malformed configs and checkpoints must produce (naming the field or tensor at fault).
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "bitlin/model/converter.hpp"
#include "bitlin/model/loader.hpp"
#include "catch.hpp"
#include "model_test_util.hpp"

using namespace bitlin;
using namespace bitlin::model;
namespace fs = std::filesystem;
using bitlin_test::compare;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("bitlin_model_test_" + std::to_string(rd()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j;
  in >> j;
  return j;
}
void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}
void write_json(const std::string& path, const nlohmann::json& j) {
  write_text(path, j.dump(2));
}

index_t out_features(const bitnet_config& c, const std::string& name) {
  if (name.find("q_proj") != std::string::npos) return c.q_size();
  if (name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos)
    return c.kv_size();
  if (name.find("gate_proj") != std::string::npos || name.find("up_proj") != std::string::npos)
    return c.intermediate_size;
  return c.hidden_size;
}

const char* const layer0_q = "model.layers.0.self_attn.q_proj.weight";

// Copies `src` (a packed fixture) into `dir` as a HF directory; `edit` may drop or replace tensors.
void write_packed_dir(const bitlin_test::fixture_triple& fx, const temp_dir& dir,
                      const std::function<bool(const std::string&)>& keep = {},
                      const std::function<void(nlohmann::json&)>& edit_config = {}) {
  nlohmann::json cj = read_json(fx.config);
  if (edit_config) edit_config(cj);
  write_json(dir / "config.json", cj);
  const auto src = io::safetensors_file::open(fx.model);
  io::safetensors_writer w;
  for (const auto& n : src.names()) {
    if (keep && !keep(n)) continue;
    const auto& ti = src.info(n);
    w.add(n, ti.type, ti.shape, src.raw(n), static_cast<std::size_t>(ti.nbytes()));
  }
  w.write(dir / "model.safetensors");
}

// A float master checkpoint whose absmean quantization gives back exactly the fixture's trits:
// W = q * c with c = m * numel / nnz, so that mean|W| = m, the original mean|W|. Written as two
// shards with an index. `bf16` stores W in BF16 (c rounded to BF16 first, so W is exact in both).
void write_master_dir(const bitlin_test::fixture_triple& fx, const temp_dir& dir, bool bf16) {
  const bitnet_config c = bitnet_config::from_file(fx.config);
  nlohmann::json cj = read_json(fx.config);
  cj.erase("quantization_config");
  write_json(dir / "config.json", cj);
  const auto src = io::safetensors_file::open(fx.model);
  io::safetensors_writer shard[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  int which = 0;
  for (const auto& n : src.names()) {
    const auto& ti = src.info(n);
    if (n.size() > 13 && n.compare(n.size() - 13, 13, ".weight_scale") == 0) continue;
    io::safetensors_writer& w = shard[which];
    const std::string file =
        which == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    index["weight_map"][n] = file;
    which = 1 - which;
    if (ti.type != io::dtype::u8) {
      w.add(n, ti.type, ti.shape, src.raw(n), static_cast<std::size_t>(ti.nbytes()));
      continue;
    }
    const matrix_i8 q = unpack_hf_bitnet(src.read_matrix<std::uint8_t>(n), out_features(c, n));
    const std::string sname = n.substr(0, n.size() - 6) + "weight_scale";
    const double ws = src.read_f32(sname).at(0);
    const double m = c.convention() == scale_convention::divide ? 1.0 / ws : ws;
    const double nnz = static_cast<double>(q.cwiseAbs().cast<int>().sum());
    float cf = static_cast<float>(m * static_cast<double>(q.size()) / nnz);
    if (bf16) cf = io::bf16_to_f32(io::f32_to_bf16(cf));
    const matrix_f W = q.cast<float>() * cf;
    // The construction must reproduce the trits and (to rounding) the scale.
    const ternary_weights back = absmean_ternary(W);
    REQUIRE((back.q.array() == q.array()).all());
    if (!bf16) REQUIRE(std::fabs(back.scales.values[0] * m - 1.0) < 1e-5);
    if (bf16) {
      std::vector<std::uint16_t> b(static_cast<std::size_t>(W.size()));
      io::f32_to_bf16(W.data(), b.data(), b.size());
      w.add(n, io::dtype::bf16, {W.rows(), W.cols()}, b.data(), b.size() * 2);
    } else {
      w.add_matrix<float>(n, W);
    }
  }
  shard[0].write(dir / "model-00001-of-00002.safetensors");
  shard[1].write(dir / "model-00002-of-00002.safetensors");
  write_json(dir / "model.safetensors.index.json", index);
}

matrix_f fixture_logits(const bitnet_model& m, const bitlin_test::fixture_triple& fx,
                        matrix_f* ref) {
  const auto r = io::safetensors_file::open(fx.ref);
  const auto ids = r.read<std::int64_t>("input_ids");
  *ref = r.read_matrix_f32("logits");
  return m.logits(ids);
}

template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const bitlin::error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("float master weights load, convert, and round-trip to the same model",
          "[model][convert]") {
  const auto fixtures = bitlin_test::model_fixtures();
  REQUIRE(!fixtures.empty());
  for (const auto& fx : fixtures) {
    CAPTURE(fx.tag);
    temp_dir master, packed, packed_auto;
    write_master_dir(fx, master, false);

    matrix_f ref;
    const bitnet_model direct = load_bitnet(master.path.string());
    const matrix_f l_direct = fixture_logits(direct, fx, &ref);
    const auto bd = compare(l_direct, ref);
    std::printf("[%s] float master quantized at load: max %.4f%% median %.4f%%\n", fx.tag.c_str(),
                100 * bd.max_rel, 100 * bd.median_rel);
    CHECK(bd.within());

    std::size_t calls = 0, last_done = 0, total = 0;
    convert_options opt;
    opt.progress = [&](std::size_t done, std::size_t all, const std::string&) {
      CHECK(done == last_done + 1);
      last_done = done;
      total = all;
      ++calls;
    };
    const convert_report rep = convert_checkpoint(master.path.string(), packed.path.string(), opt);
    CHECK(calls == total);
    CHECK(rep.quantized ==
          static_cast<std::size_t>(7 * bitnet_config::from_file(fx.config).num_hidden_layers));

    // The converted projections hold the fixture's trits.
    const auto orig = io::safetensors_file::open(fx.model);
    const auto conv = io::safetensors_file::open(packed / "model.safetensors");
    CHECK(conv.info(layer0_q).type == io::dtype::u8);
    for (const auto& n : orig.names())
      if (orig.info(n).type == io::dtype::u8) {
        CAPTURE(n);
        CHECK(conv.read<std::uint8_t>(n) == orig.read<std::uint8_t>(n));
      }
    const nlohmann::json cj = read_json(packed / "config.json");
    CHECK(cj["quantization_config"]["linear_class"] == "bitlinear");

    const bitnet_model converted = load_bitnet(packed.path.string());
    const matrix_f l_conv = fixture_logits(converted, fx, &ref);
    CHECK(compare(l_conv, ref).within());
    // Same trits, same scale, same convention: bit-identical logits.
    CHECK((l_conv - l_direct).cwiseAbs().maxCoeff() == 0.0f);

    // Converting to the multiplying convention changes only the last bits of the rescale.
    opt.linear_class = "autobitlinear";
    opt.progress = nullptr;
    convert_checkpoint(master.path.string(), packed_auto.path.string(), opt);
    const bitnet_model conv_auto = load_bitnet(packed_auto.path.string());
    const auto ba = compare(fixture_logits(conv_auto, fx, &ref), l_direct);
    std::printf("[%s] converted to autobitlinear vs direct: max %.2e\n", fx.tag.c_str(),
                ba.max_rel);
    CHECK(ba.within(0.01, 0.001));
  }
}

TEST_CASE("BF16 and F32 master weights with equal values give equal logits", "[model][convert]") {
  const auto fx = bitlin_test::model_fixtures().front();
  temp_dir f32dir, bf16dir;
  write_master_dir(fx, bf16dir, true);
  // The F32 twin holds the same (BF16-representable) values.
  {
    const auto c = read_json(bf16dir / "config.json");
    write_json(f32dir / "config.json", c);
    write_text(f32dir / "model.safetensors.index.json",
               read_json(bf16dir / "model.safetensors.index.json").dump());
    for (const char* shard :
         {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
      const auto src = io::safetensors_file::open(bf16dir / shard);
      io::safetensors_writer w;
      for (const auto& n : src.names()) {
        const auto& ti = src.info(n);
        if (ti.type == io::dtype::bf16) {
          const auto v = src.read_f32(n);
          w.add_f32(n, ti.shape, v.data());
        } else {
          w.add(n, ti.type, ti.shape, src.raw(n), static_cast<std::size_t>(ti.nbytes()));
        }
      }
      w.write(f32dir / shard);
    }
  }
  const auto ids = io::safetensors_file::open(fx.ref).read<std::int64_t>("input_ids");
  const matrix_f a = load_bitnet(bf16dir.path.string()).logits(ids);
  const matrix_f b = load_bitnet(f32dir.path.string()).logits(ids);
  CHECK((a - b).cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("malformed configs are rejected naming the field", "[model][errors]") {
  const auto fx = bitlin_test::model_fixtures().front();
  const nlohmann::json good = read_json(fx.config);
  auto msg = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    return error_message([&] { bitnet_config::from_json(j); });
  };
  CHECK(error_message([&] { bitnet_config::from_json(good); }) == "(no error)");
  CHECK_THAT(msg([](auto& j) { j["hidden_act"] = "gelu"; }), Catch::Contains("hidden_act"));
  CHECK_THAT(msg([](auto& j) { j["rope_parameters"]["rope_type"] = "linear"; }),
             Catch::Contains("rope_parameters.rope_type"));
  CHECK_THAT(msg([](auto& j) {
               j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
             }),
             Catch::Contains("rope_scaling.type"));
  // heads + 1 never divides the head count, whatever the fixture.
  CHECK_THAT(msg([](auto& j) {
               j["num_key_value_heads"] = j["num_attention_heads"].template get<int>() + 1;
             }),
             Catch::Contains("num_key_value_heads"));
  CHECK_THAT(msg([](auto& j) { j.erase("hidden_size"); }), Catch::Contains("hidden_size"));
  CHECK_THAT(msg([](auto& j) { j["vocab_size"] = "many"; }), Catch::Contains("vocab_size"));
  CHECK_THAT(msg([](auto& j) { j["quantization_config"]["linear_class"] = "fp8"; }),
             Catch::Contains("quantization_config.linear_class"));
  CHECK_THAT(msg([](auto& j) { j["rope_parameters"]["rope_theta"] = -1.0; }),
             Catch::Contains("rope_theta"));
  // Top-level rope_theta (older config files) is honoured.
  nlohmann::json old = good;
  old.erase("rope_parameters");
  old["rope_theta"] = 10000.0;
  CHECK(bitnet_config::from_json(old).rope_theta == 10000.0);
}

TEST_CASE("malformed checkpoints are rejected naming the tensor", "[model][errors]") {
  for (const auto& fx : bitlin_test::model_fixtures()) {
    CAPTURE(fx.tag);
    {
      temp_dir d;
      const std::string missing = "model.layers.1.mlp.ffn_sub_norm.weight";
      write_packed_dir(fx, d, [&](const std::string& n) { return n != missing; });
      CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }), Catch::Contains(missing));
    }
    {
      temp_dir d;
      const std::string scale = "model.layers.0.self_attn.k_proj.weight_scale";
      write_packed_dir(fx, d, [&](const std::string& n) { return n != scale; });
      CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }), Catch::Contains(scale));
    }
    {
      temp_dir d;  // the config disagrees with the tensors' shapes
      write_packed_dir(fx, d, {}, [](nlohmann::json& j) { j["intermediate_size"] = 64; });
      const std::string m = error_message([&] { load_bitnet(d.path.string()); });
      CHECK_THAT(m, Catch::Contains("model.layers.0.") && Catch::Contains("shape"));
    }
    {
      temp_dir d;  // untied head without lm_head.weight
      write_packed_dir(
          fx, d, [](const std::string& n) { return n != "lm_head.weight"; },
          [](nlohmann::json& j) { j["tie_word_embeddings"] = false; });
      CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
                 Catch::Contains("lm_head.weight"));
    }
  }
  const auto fx = bitlin_test::model_fixtures().front();
  {
    temp_dir d;
    write_packed_dir(fx, d);
    write_text(d / "model.safetensors.index.json", "{ not json");
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
               Catch::Contains("model.safetensors.index.json"));
    write_json(d / "model.safetensors.index.json", {{"metadata", nlohmann::json::object()}});
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }), Catch::Contains("weight_map"));
    write_json(
        d / "model.safetensors.index.json",
        {{"weight_map",
          {{"model.norm.weight", "model.safetensors"}, {"extra.weight", "model.safetensors"}}}});
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
               Catch::Contains("extra.weight"));
    write_json(d / "model.safetensors.index.json", {{"weight_map", {{"model.norm.weight", 7}}}});
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
               Catch::Contains("weight_map.model.norm.weight"));
  }
  {
    temp_dir d;
    write_packed_dir(fx, d);
    write_text(d / "config.json", "{\"hidden_size\": ");
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
               Catch::Contains("config.json"));
  }
  temp_dir empty;
  write_json(empty / "config.json", read_json(fx.config));
  CHECK_THAT(error_message([&] { load_bitnet(empty.path.string()); }),
             Catch::Contains("model.safetensors"));
}
