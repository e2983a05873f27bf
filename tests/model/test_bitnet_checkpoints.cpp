// Checkpoint handling around the model: float master weights quantized at load, the native
// converter (float master -> packed HF layout) and its round trip, sharded checkpoints, and the
// errors malformed configs and checkpoints must produce (naming the field or tensor at fault).
// BitNet b1 (binary weights, quantization_config.weight_bits = 1): random models written in the
// test, run against a float reference forward written here, and their save -> load round trips.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "bitlin/model/converter.hpp"
#include "bitlin/model/gguf.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/testing/random_model.hpp"
#include "catch.hpp"
#include "test_util.hpp"
#include "model_test_util.hpp"

using namespace bitlin;
using namespace bitlin::model;
namespace fs = std::filesystem;
using bitlin_test::compare;

namespace {

using bitlin_test::temp_dir;

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

// ---- BitNet b1 ----

// A small b1 config (q 64, kv 32, intermediate 96: 16-row groups divide every projection).
nlohmann::json b1_config_json(bool layer_norm, index_t group_rows = 0) {
  nlohmann::json qc = {{"quant_method", "bitnet"},
                       {"linear_class", "autobitlinear"},
                       {"quantization_mode", "online"},
                       {"weight_bits", 1}};
  if (!layer_norm) qc["activation_norm"] = "none";  // the default for weight_bits 1: layer_norm
  if (group_rows > 0) qc["weight_group_rows"] = group_rows;
  return {{"model_type", "bitnet"},      {"vocab_size", 80},
          {"hidden_size", 64},           {"intermediate_size", 96},
          {"num_hidden_layers", 2},      {"num_attention_heads", 4},
          {"num_key_value_heads", 2},    {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-5},        {"rope_theta", 10000.0},
          {"tie_word_embeddings", true}, {"hidden_act", "relu2"},
          {"quantization_config", qc}};
}

// Float masters for `cj` (normal projections, gains in [0.5, 2.5], an embedding with a non-zero
// mean so that the LayerNorm's centring matters) as model.safetensors.
void write_b1_masters(const temp_dir& dir, const nlohmann::json& cj, unsigned seed) {
  const bitnet_config c = bitnet_config::from_json(cj);
  write_json(dir / "config.json", cj);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> gain(0.5f, 2.5f);
  io::safetensors_writer w;
  auto mat = [&](const std::string& n, index_t rows, index_t cols, float scale, float mean) {
    matrix_f m(rows, cols);
    for (index_t i = 0; i < m.size(); ++i) m.data()[i] = mean + scale * normal(rng);
    w.add_matrix<float>(n, m);
  };
  auto vec = [&](const std::string& n, index_t len) {
    std::vector<float> v(static_cast<std::size_t>(len));
    for (auto& x : v) x = gain(rng);
    w.add_f32(n, {len}, v.data());
  };
  const index_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_size(), KV = c.kv_size();
  mat("model.embed_tokens.weight", c.vocab_size, H, 0.5f, 0.3f);
  for (index_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", H);
    vec(p + "post_attention_layernorm.weight", H);
    vec(p + "self_attn.attn_sub_norm.weight", Q);
    vec(p + "mlp.ffn_sub_norm.weight", I);
    mat(p + "self_attn.q_proj.weight", Q, H, 0.05f, 0.01f);
    mat(p + "self_attn.k_proj.weight", KV, H, 0.05f, -0.01f);
    mat(p + "self_attn.v_proj.weight", KV, H, 0.05f, 0.0f);
    mat(p + "self_attn.o_proj.weight", H, Q, 0.05f, 0.0f);
    mat(p + "mlp.gate_proj.weight", I, H, 0.05f, 0.02f);
    mat(p + "mlp.up_proj.weight", I, H, 0.05f, 0.0f);
    mat(p + "mlp.down_proj.weight", H, I, 0.05f, 0.0f);
  }
  vec("model.norm.weight", H);
  w.write(dir / "model.safetensors");
}

// The b1 forward written out plainly from the masters, in double where it can be: RMSNorm with
// gains, then (layer_norm) the affine-free LayerNorm, 8-bit absmax per token, and the product with
// the dequantized binary weights sign(W - alpha) * beta (per tensor or per group of rows); float
// dequantized activations, no fused layers, no kernels.
matrix_f b1_reference_logits(const std::string& dir, const std::vector<std::int64_t>& ids,
                             bool layer_norm) {
  const bitnet_config c = bitnet_config::from_file(dir + "/config.json");
  const auto f = io::safetensors_file::open(dir + "/model.safetensors");
  const index_t T = static_cast<index_t>(ids.size()), H = c.hidden_size, d = c.head_dim;
  using mat = Eigen::MatrixXd;
  auto rms = [&](const mat& x, const std::vector<float>& g) {
    mat y(x.rows(), x.cols());
    for (index_t t = 0; t < x.rows(); ++t) {
      const double r =
          1.0 / std::sqrt(x.row(t).squaredNorm() / static_cast<double>(x.cols()) + c.rms_norm_eps);
      for (index_t i = 0; i < x.cols(); ++i) y(t, i) = x(t, i) * r * g[static_cast<size_t>(i)];
    }
    return y;
  };
  auto ln = [&](mat x) {
    if (!layer_norm) return x;
    for (index_t t = 0; t < x.rows(); ++t) {
      const double m = x.row(t).mean();
      x.row(t).array() -= m;
      x.row(t) /=
          std::sqrt(x.row(t).squaredNorm() / static_cast<double>(x.cols()) + c.activation_norm_eps);
    }
    return x;
  };
  auto quant = [](const mat& x) {  // 8-bit absmax per token, dequantized
    const matrix_f xf = x.cast<float>();
    return dequantize(absmax_quantize(xf, 8, scale_groups::per_row())).cast<double>().eval();
  };
  auto linear = [&](const mat& xq, const std::string& name) {
    const matrix_f W = f.read_matrix_f32(name);
    const index_t g = c.weight_group_rows;
    const binary_weights bw =
        sign_binary(W, g == 0 ? scale_groups::per_tensor() : scale_groups::row_groups(g));
    return (xq * dequantize(bw).cast<double>().transpose()).eval();
  };
  auto vecf = [&](const std::string& n) { return f.read_f32(n); };
  const matrix_f E = f.read_matrix_f32("model.embed_tokens.weight");
  mat x(T, H);
  for (index_t t = 0; t < T; ++t) x.row(t) = E.row(ids[static_cast<size_t>(t)]).cast<double>();
  const rope_angles rope(c, 0, T);
  auto rotate = [&](mat& m, index_t heads) {
    for (index_t t = 0; t < T; ++t)
      for (index_t h = 0; h < heads; ++h)
        for (index_t i = 0; i < d / 2; ++i) {
          const double a = m(t, h * d + i), b = m(t, h * d + i + d / 2);
          m(t, h * d + i) = a * rope.cos(t, i) - b * rope.sin(t, i);
          m(t, h * d + i + d / 2) = b * rope.cos(t, i) + a * rope.sin(t, i);
        }
  };
  for (index_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const mat xq = quant(ln(rms(x, vecf(p + "input_layernorm.weight"))));
    mat q = linear(xq, p + "self_attn.q_proj.weight"),
        k = linear(xq, p + "self_attn.k_proj.weight");
    const mat v = linear(xq, p + "self_attn.v_proj.weight");
    rotate(q, c.num_attention_heads);
    rotate(k, c.num_key_value_heads);
    mat att = mat::Zero(T, c.q_size());
    const index_t group = c.num_attention_heads / c.num_key_value_heads;
    for (index_t h = 0; h < c.num_attention_heads; ++h) {
      const index_t g = h / group;
      for (index_t t = 0; t < T; ++t) {
        std::vector<double> s(static_cast<size_t>(t + 1));
        double mx = -1e300, sum = 0.0;
        for (index_t u = 0; u <= t; ++u) {
          s[static_cast<size_t>(u)] =
              q.row(t).segment(h * d, d).dot(k.row(u).segment(g * d, d)) / std::sqrt(double(d));
          mx = std::max(mx, s[static_cast<size_t>(u)]);
        }
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (index_t u = 0; u <= t; ++u)
          att.row(t).segment(h * d, d) +=
              s[static_cast<size_t>(u)] / sum * v.row(u).segment(g * d, d);
      }
    }
    x += linear(quant(ln(rms(att, vecf(p + "self_attn.attn_sub_norm.weight")))),
                p + "self_attn.o_proj.weight");
    const mat xq2 = quant(ln(rms(x, vecf(p + "post_attention_layernorm.weight"))));
    const mat gate = linear(xq2, p + "mlp.gate_proj.weight"),
              up = linear(xq2, p + "mlp.up_proj.weight");
    mat act(T, c.intermediate_size);
    for (index_t i = 0; i < act.size(); ++i) {
      const double r = std::max(0.0, gate.data()[i]);
      act.data()[i] = r * r * up.data()[i];
    }
    x += linear(quant(ln(rms(act, vecf(p + "mlp.ffn_sub_norm.weight")))),
                p + "mlp.down_proj.weight");
  }
  const mat h = rms(x, vecf("model.norm.weight"));
  return (h * E.cast<double>().transpose()).cast<float>();
}

const std::vector<std::int64_t> b1_ids = {3, 17, 42, 5, 79, 0, 11, 64, 23, 8};

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

TEST_CASE("BitNet b1: binary models match the float reference and round-trip through packing",
          "[model][b1]") {
  for (const bool layer_norm : {true, false}) {
    for (const index_t group_rows : {index_t{0}, index_t{16}}) {
      CAPTURE(layer_norm, group_rows);
      temp_dir master, packed;
      const nlohmann::json cj = b1_config_json(layer_norm, group_rows);
      write_b1_masters(master, cj, 11u + static_cast<unsigned>(group_rows));
      const bitnet_model m = load_bitnet(master.path.string());
      CHECK(m.config().binary());
      CHECK(m.config().activation_layer_norm == layer_norm);
      CHECK(m.block(0).is_binary());
      CHECK(m.block(0).qkv().kernel_path() == gemm_kernel_path<b1_tile>(active_isa()));
      // Row groups of the fused q/k/v: per tensor, one beta per 32 rows (the gcd of 64, 32, 32);
      // with groups, one per group of 16 rows.
      CHECK(m.block(0).qkv().scales().values.size() ==
            (group_rows == 0 ? std::size_t{4} : std::size_t{8}));
      const matrix_f got = m.logits(b1_ids);
      const matrix_f ref = b1_reference_logits(master.path.string(), b1_ids, layer_norm);
      const auto b = compare(got, ref);
      std::printf("[b1 ln=%d groups=%ld] model vs float reference: max %.2e median %.2e\n",
                  layer_norm ? 1 : 0, static_cast<long>(group_rows), b.max_rel, b.median_rel);
      CHECK(b.within(2e-3, 2e-4));
      // The reference with the other norm choice is far off: the LayerNorm is really applied
      // (or really not).
      CHECK_FALSE(
          compare(got, b1_reference_logits(master.path.string(), b1_ids, !layer_norm)).within());

      // Save -> load: the converter's 1-bit packed form gives the same logits bit for bit.
      const convert_report rep = convert_checkpoint(master.path.string(), packed.path.string());
      CHECK(rep.quantized == 14);
      const auto pf = io::safetensors_file::open(packed / "model.safetensors");
      CHECK(pf.info(layer0_q).type == io::dtype::u8);
      CHECK(pf.info(layer0_q).shape == std::vector<std::int64_t>{64, 8});  // [out, in / 8]
      CHECK(pf.info("model.layers.0.mlp.down_proj.weight").shape ==
            std::vector<std::int64_t>{64, 12});
      CHECK(pf.info("model.layers.0.self_attn.k_proj.weight_scale").numel() ==
            (group_rows == 0 ? 1 : 2));
      const nlohmann::json pj = read_json(packed / "config.json");
      CHECK(pj["quantization_config"]["weight_bits"] == 1);
      CHECK(pj["quantization_config"]["quantization_mode"] == "offline");
      CHECK(pj["quantization_config"]["activation_norm"] == (layer_norm ? "layer_norm" : "none"));
      const bitnet_model mp = load_bitnet(packed.path.string());
      CHECK(mp.config().binary());
      const matrix_f got_packed = mp.logits(b1_ids);
      CHECK((got_packed - got).cwiseAbs().maxCoeff() == 0.0f);
      // 1 bit per weight in the model too (the b1_tile layout pads rows to 16 and K to 32).
      CHECK(mp.block(0).qkv().weight_bytes() == std::size_t{128 * 64 / 8});
      // Packed -> packed (kept as is) and a second load: still the same.
      temp_dir again;
      convert_checkpoint(packed.path.string(), again.path.string());
      CHECK((load_bitnet(again.path.string()).logits(b1_ids) - got).cwiseAbs().maxCoeff() == 0.0f);
      // Every ISA gives the same logits (the kernels are exact; the rest is shared float code).
      for (const isa i : supported_isas()) {
        CAPTURE(isa_name(i));
        load_options lo;
        lo.target = i;
        CHECK((load_bitnet(packed.path.string(), lo).logits(b1_ids) - got).cwiseAbs().maxCoeff() ==
              0.0f);
      }
    }
  }
}

TEST_CASE("BitNet b1: the config key, and b1.58 checkpoints read as before", "[model][b1]") {
  // Without weight_bits nothing changes: the fixtures are b1.58 and run ternary.
  for (const auto& fx : bitlin_test::model_fixtures()) {
    const bitnet_config c = bitnet_config::from_file(fx.config);
    CHECK_FALSE(c.binary());
    CHECK_FALSE(c.activation_layer_norm);
    CHECK_FALSE(c.to_json()["quantization_config"].contains("weight_bits"));
    CHECK_FALSE(load_bitnet(fx.config, {fx.model}).block(0).is_binary());
  }
  nlohmann::json cj = b1_config_json(true);
  CHECK(bitnet_config::from_json(cj).binary());
  CHECK(bitnet_config::from_json(cj).activation_layer_norm);  // b1's default
  CHECK(bitnet_config::from_json(bitnet_config::from_json(cj).to_json()).binary());
  cj["quantization_config"]["weight_bits"] = 2;
  CHECK_THAT(error_message([&] { bitnet_config::from_json(cj); }),
             Catch::Contains("quantization_config.weight_bits"));
  cj["quantization_config"]["weight_bits"] = 1.58;
  CHECK_FALSE(bitnet_config::from_json(cj).binary());
  cj["quantization_config"]["weight_group_rows"] = 16;
  CHECK_THAT(error_message([&] { bitnet_config::from_json(cj); }),
             Catch::Contains("weight_group_rows"));
  cj = b1_config_json(true);
  cj["quantization_config"]["activation_norm"] = "rms_norm";
  CHECK_THAT(error_message([&] { bitnet_config::from_json(cj); }),
             Catch::Contains("quantization_config.activation_norm"));
  // A random b1 model (testing/random_model.hpp) holds +-1 weights and runs.
  const bitnet_model r = random_bitnet_model(bitnet_config::from_json(b1_config_json(true)), 5);
  CHECK(r.block(1).is_binary());
  CHECK((r.block(1).down().weights().array().abs() == 1).all());
  CHECK(r.logits(b1_ids).allFinite());
}

TEST_CASE("BitNet b1: malformed binary checkpoints are refused naming the tensor",
          "[model][b1][errors]") {
  temp_dir master, packed;
  write_b1_masters(master, b1_config_json(true), 3);
  convert_checkpoint(master.path.string(), packed.path.string());
  const auto src = io::safetensors_file::open(packed / "model.safetensors");
  const std::string k = "model.layers.1.self_attn.k_proj";
  // Rewrites packed/ with tensor `name` replaced by (type, shape, bytes).
  auto with = [&](const std::string& name, io::dtype type, std::vector<std::int64_t> shape,
                  const std::vector<std::uint8_t>& bytes) {
    temp_dir d;
    write_json(d / "config.json", read_json(packed / "config.json"));
    io::safetensors_writer w;
    for (const auto& n : src.names()) {
      const auto& ti = src.info(n);
      if (n == name)
        w.add(n, type, shape, bytes.data(), bytes.size());
      else
        w.add(n, ti.type, ti.shape, src.raw(n), static_cast<std::size_t>(ti.nbytes()));
    }
    w.write(d / "model.safetensors");
    return error_message([&] { load_bitnet(d.path.string()); });
  };
  // The 2-bit b1.58 layout ([ceil(out/4), in]) in a b1 checkpoint.
  CHECK_THAT(with(k + ".weight", io::dtype::u8, {8, 64}, std::vector<std::uint8_t>(512, 0x55)),
             Catch::Contains(k + ".weight") && Catch::Contains("1 bit"));
  // 64 features = 8 whole bytes: no padding; at 60 features the last 4 bits of a row must be 0.
  {
    nlohmann::json cj = b1_config_json(true);
    cj["num_attention_heads"] = 2;
    cj["num_key_value_heads"] = 1;
    cj["head_dim"] = 30;  // q 60 features: o_proj rows have 60 bits, 4 of padding
    temp_dir m2, p2;
    write_b1_masters(m2, cj, 4);
    convert_checkpoint(m2.path.string(), p2.path.string());
    CHECK(load_bitnet(p2.path.string()).logits(b1_ids).allFinite());
    const auto s2 = io::safetensors_file::open(p2 / "model.safetensors");
    const std::string o = "model.layers.0.self_attn.o_proj.weight";
    std::vector<std::uint8_t> bytes(s2.raw(o), s2.raw(o) + s2.info(o).nbytes());
    bytes[7] |= 0x80;  // row 0, bit 63
    io::safetensors_writer w;
    for (const auto& n : s2.names()) {
      const auto& ti = s2.info(n);
      w.add(n, ti.type, ti.shape, n == o ? static_cast<const void*>(bytes.data()) : s2.raw(n),
            static_cast<std::size_t>(ti.nbytes()));
    }
    w.write(p2 / "model.safetensors");
    CHECK_THAT(error_message([&] { load_bitnet(p2.path.string()); }),
               Catch::Contains(o) && Catch::Contains("padding"));
  }
  // Three scales cannot split 32 rows; a negative scale is not usable.
  std::vector<std::uint8_t> three(12, 0);
  CHECK_THAT(with(k + ".weight_scale", io::dtype::f32, {3}, three),
             Catch::Contains(k + ".weight_scale"));
  const float neg[2] = {0.5f, -1.0f};
  std::vector<std::uint8_t> nb(8);
  std::memcpy(nb.data(), neg, 8);
  CHECK_THAT(with(k + ".weight_scale", io::dtype::f32, {2}, nb),
             Catch::Contains(k + ".weight_scale") && Catch::Contains("-1"));
  // Masters whose rows the configured groups do not split.
  {
    temp_dir d;
    write_b1_masters(d, b1_config_json(true, 24), 5);  // 24 divides 96 but not 64
    CHECK_THAT(error_message([&] { load_bitnet(d.path.string()); }),
               Catch::Contains("q_proj.weight") && Catch::Contains("weight_group_rows"));
  }
  // No GGUF form, and no tensor parallelism, for b1 models.
  CHECK_THAT(error_message([&] {
               write_bitnet_gguf(bitnet_config::from_file(packed / "config.json"),
                                 checkpoint::open_dir(packed.path.string()), packed / "model.gguf");
             }),
             Catch::Contains("BitNet b1"));
}
