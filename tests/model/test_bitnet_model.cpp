// The whole BitNet b1.58 model against transformers' golden runs: for every fixture triple, the
// logits and each hidden state within the band the fixture README states, the KV-cache decode
// against the full forward pass, and the greedy continuation.
// Its own program: the AArch64 stage runs it under qemu (the whole model on NEON) and then builds
// it alone instead of all of tests/model/.
// bitlin-test: own program
#include <cstdio>

#include "bitlin/model/loader.hpp"
#include "bitlin/model/sampling.hpp"
#include "catch.hpp"
#include "model_test_util.hpp"

using namespace bitlin;
using namespace bitlin::model;
using bitlin_test::compare;

namespace {

matrix_f ref_matrix(const io::safetensors_file& f, const std::string& name) {
  const auto& ti = f.info(name);
  matrix_f m = f.read_matrix_f32(name);
  if (ti.shape.size() == 3) m.resize(ti.shape[1], ti.shape[2]);
  return m;
}

// Logits band against `logits` or `logits_f64`, whichever is closer (the README's criterion).
bitlin_test::band logits_band(const matrix_f& got, const io::safetensors_file& ref) {
  bitlin_test::band best = compare(got, ref_matrix(ref, "logits"));
  if (ref.contains("logits_f64")) {
    const auto b = compare(got, ref_matrix(ref, "logits_f64"));
    if (b.max_rel < best.max_rel) best = b;
  }
  return best;
}

}  // namespace

TEST_CASE("fixture directory holds at least one model triple", "[model]") {
  REQUIRE(!bitlin_test::model_fixtures().empty());
}

TEST_CASE("BitNet forward matches transformers on every fixture model", "[model][threads]") {
  for (const auto& fx : bitlin_test::model_fixtures()) {
    CAPTURE(fx.tag);
    const bitnet_model m = load_bitnet(fx.config, {fx.model});
    const auto ref = io::safetensors_file::open(fx.ref);
    const std::vector<std::int64_t> ids = ref.read<std::int64_t>("input_ids");
    const index_t T = static_cast<index_t>(ids.size());

    kv_cache cache = m.new_cache();
    std::vector<matrix_f> hidden;
    const matrix_f logits = m.forward(ids.data(), T, cache, logits_for::all, serial(), &hidden);
    const auto lb = logits_band(logits, ref);
    std::printf("[%s] logits: max %.4f%% median %.4f%% of max|logit|\n", fx.tag.c_str(),
                100 * lb.max_rel, 100 * lb.median_rel);
    CHECK(lb.within());

    REQUIRE(static_cast<index_t>(hidden.size()) == m.config().num_hidden_layers + 1);
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      const std::string name = "hidden_states." + std::to_string(i);
      if (!ref.contains(name)) continue;
      CAPTURE(name);
      const auto hb = compare(hidden[i], ref_matrix(ref, name));
      std::printf("[%s] %s: max %.4f%% median %.4f%%\n", fx.tag.c_str(), name.c_str(),
                  100 * hb.max_rel, 100 * hb.median_rel);
      CHECK(hb.within());
    }

    // Two threads give the same logits as one (the kernels promise executor independence).
    thread_pool pool(2);
    const matrix_f logits2 = m.logits(ids, pool);
    CHECK((logits2 - logits).cwiseAbs().maxCoeff() == 0.0f);

    // Incremental decoding: a prefix, then one token at a time through the KV cache.
    kv_cache inc = m.new_cache();
    const index_t split = T / 3;
    matrix_f step_logits(T, m.config().vocab_size);
    step_logits.topRows(split) = m.forward(ids.data(), split, inc, logits_for::all);
    for (index_t t = split; t < T; ++t)
      step_logits.row(t) = m.forward(&ids[static_cast<std::size_t>(t)], 1, inc);
    CHECK(inc.size() == T);
    const auto kb = compare(step_logits, logits);
    std::printf("[%s] KV-cache decode vs full forward: max %.2e median %.2e of max|logit|\n",
                fx.tag.c_str(), kb.max_rel, kb.median_rel);
    CHECK(kb.within(0.01, 0.001));
  }
}

TEST_CASE("the optional 8-bit head keeps the fixture logits in the band", "[model]") {
  for (const auto& fx : bitlin_test::model_fixtures()) {
    CAPTURE(fx.tag);
    load_options opt;
    opt.int8_head = true;
    const bitnet_model m = load_bitnet(fx.config, {fx.model}, opt);
    REQUIRE(m.uses_int8_head());
    const auto ref = io::safetensors_file::open(fx.ref);
    const matrix_f logits = m.logits(ref.read<std::int64_t>("input_ids"));
    const auto lb = logits_band(logits, ref);
    std::printf("[%s] logits with the int8 head: max %.4f%% median %.4f%% of max|logit|\n",
                fx.tag.c_str(), 100 * lb.max_rel, 100 * lb.median_rel);
    CHECK(lb.within());
  }
}

TEST_CASE("the 1.6-bit base3 layout gives the i2 layout's logits bit for bit, every path",
          "[model]") {
  for (const auto& fx : bitlin_test::model_fixtures()) {
    CAPTURE(fx.tag);
    const auto ids = io::safetensors_file::open(fx.ref).read<std::int64_t>("input_ids");
    for (isa path : supported_isas()) {
      CAPTURE(isa_name(path));
      // Same ISA for both: the float ops (head, attention) may sum in another order per path.
      set_active_isa(path);
      load_options opt;
      opt.target = path;
      const bitnet_model i2 = load_bitnet(fx.config, {fx.model}, opt);
      const matrix_f want = i2.logits(ids);
      opt.layout = ternary_layout::base3;
      const bitnet_model b3 = load_bitnet(fx.config, {fx.model}, opt);
      REQUIRE(b3.block(0).qkv().layout() == ternary_layout::base3);
      // The products run on the base3 kernel of this path's lineage (tiny keeps its weights
      // packed).
      if (fx.tag == "tiny")
        CHECK(b3.block(0).down().kernel_path() == gemm_kernel_path<base3_tile>(path));
      CHECK((b3.logits(ids) - want).cwiseAbs().maxCoeff() == 0.0f);
      // Decode (one token at a time: the GEMV kernels) after a prefix (the GEMM kernels).
      kv_cache a = i2.new_cache(), b = b3.new_cache();
      const index_t split = static_cast<index_t>(ids.size()) / 2;
      i2.forward(ids.data(), split, a);
      b3.forward(ids.data(), split, b);
      for (std::size_t t = static_cast<std::size_t>(split); t < ids.size(); ++t)
        CHECK((b3.forward(&ids[t], 1, b) - i2.forward(&ids[t], 1, a)).cwiseAbs().maxCoeff() ==
              0.0f);
    }
    reset_active_isa();
  }
}

TEST_CASE("greedy continuation agrees with transformers", "[model]") {
  for (const auto& fx : bitlin_test::model_fixtures()) {
    CAPTURE(fx.tag);
    const bitnet_model m = load_bitnet(fx.config, {fx.model});
    const auto ref = io::safetensors_file::open(fx.ref);
    if (!ref.contains("prompt_ids") || !ref.contains("greedy_ids")) continue;
    const auto prompt = ref.read<std::int64_t>("prompt_ids");
    const auto want = ref.read<std::int64_t>("greedy_ids");
    REQUIRE(want.size() > prompt.size());
    const index_t n_new = static_cast<index_t>(want.size() - prompt.size());
    sampler greedy;
    const auto got = generate(m, prompt, n_new, greedy);
    REQUIRE(got.size() == want.size());
    index_t agree = 0, first_diff = -1;
    for (std::size_t i = prompt.size(); i < want.size(); ++i) {
      if (got[i] == want[i])
        ++agree;
      else if (first_diff < 0)
        first_diff = static_cast<index_t>(i);
    }
    std::printf("[%s] greedy agreement: %ld / %ld new tokens (first difference at %ld)\n",
                fx.tag.c_str(), static_cast<long>(agree), static_cast<long>(n_new),
                static_cast<long>(first_diff));
    CHECK(got[prompt.size()] == want[prompt.size()]);
    if (first_diff >= 0) {
      // Where the sequences part, transformers' choice must be a near tie in our logits.
      const std::vector<std::int64_t> prefix(got.begin(), got.begin() + first_diff);
      const matrix_f l = m.logits(prefix);
      const float top = l.row(l.rows() - 1).maxCoeff();
      const float theirs =
          l(l.rows() - 1, static_cast<index_t>(want[static_cast<std::size_t>(first_diff)]));
      const float scale = l.cwiseAbs().maxCoeff();
      std::printf("[%s] at the first difference: top logit %.5f, transformers' token %.5f\n",
                  fx.tag.c_str(), top, theirs);
      CHECK(top - theirs <= 0.03f * scale);
    }
  }
}
