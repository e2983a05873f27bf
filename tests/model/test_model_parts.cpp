// The model's smaller parts: BF16 storage, sampling determinism and its limits, the random model
// constructor, and generation's prompt logits. The ops' ISA paths are tested in
// tests/kernels/test_kernels_ops.cpp.
#include <algorithm>
#include <iterator>
#include <set>

#include "bitlin/model/bitnet.hpp"
#include "bitlin/testing/random_model.hpp"
#include "bitlin/model/sampling.hpp"
#include "catch.hpp"

using namespace bitlin;
using namespace bitlin::model;

TEST_CASE("dense_matrix BF16 storage rounds to nearest and widens exactly", "[model][head]") {
  matrix_f m(1, 3);
  m << 1.0f, 1.00390625f /* tie: rounds to even (1.0) */, -3.0f;
  const dense_matrix d = dense_matrix::from_f32(m, dense_storage::bf16);
  float row[3];
  d.row(0, row);
  CHECK(row[0] == 1.0f);
  CHECK(row[1] == 1.0f);
  CHECK(row[2] == -3.0f);
  CHECK(d.bytes() == 6);
  CHECK_THROWS_AS(d.row(1, row), value_error);
}

TEST_CASE("sampling: greedy, determinism, top-k and top-p limits", "[model][sampling]") {
  const std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f, 2.0f, 0.5f};
  sampler greedy;
  CHECK(greedy.sample(logits.data(), 6) == 1);  // ties go to the lower index

  sampling_options o;
  o.temperature = 1.0f;
  o.seed = 42;
  sampler a(o), b(o);
  std::vector<index_t> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(logits.data(), 6));
    sb.push_back(b.sample(logits.data(), 6));
  }
  CHECK(sa == sb);
  CHECK(std::set<index_t>(sa.begin(), sa.end()).size() >= 4);  // temperature 1 really samples

  o.top_k = 2;
  sampler k2(o);
  for (int i = 0; i < 200; ++i) {
    const index_t s = k2.sample(logits.data(), 6);
    CHECK((s == 1 || s == 4));
  }
  o.top_k = 0;
  o.top_p = 0.5f;  // the two 2.0 logits hold ~0.55 of the mass at temperature 1
  sampler p(o);
  for (int i = 0; i < 200; ++i) {
    const index_t s = p.sample(logits.data(), 6);
    CHECK((s == 1 || s == 4));
  }
  o.top_p = 1e-6f;  // nucleus of one token
  sampler p1(o);
  for (int i = 0; i < 20; ++i) CHECK(p1.sample(logits.data(), 6) == 1);

  sampling_options bad;
  bad.temperature = -1.0f;
  CHECK_THROWS_AS(sampler(bad), value_error);
  bad = {};
  bad.top_p = 0.0f;
  CHECK_THROWS_AS(sampler(bad), value_error);
}

TEST_CASE("random model: shapes, generation and prompt logits", "[model]") {
  bitnet_config c;
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 64;
  for (const bool tied : {true, false}) {
    c.tie_word_embeddings = tied;
    const bitnet_model m = random_bitnet_model(c, 5, dense_storage::bf16);
    CHECK(m.resident_bytes() > 0);
    const std::vector<std::int64_t> prompt = {3, 1, 4, 1, 5};
    sampler s;
    matrix_f pl;
    generation_stats st;
    const auto out = generate(m, prompt, 6, s, serial(), &st, -1, {}, &pl);
    CHECK(out.size() == 11);
    CHECK(st.generated_tokens == 6);
    const matrix_f full = m.logits(prompt);
    CHECK((pl - full).cwiseAbs().maxCoeff() == 0.0f);
    CHECK(out[5] == argmax(full.row(4).data(), c.vocab_size));
    // Token ids outside the vocabulary are refused.
    kv_cache cache = m.new_cache();
    const std::int64_t bad = 97;
    CHECK_THROWS_AS(m.forward(&bad, 1, cache), value_error);
  }
}

TEST_CASE("embedding lookup gathers widened rows and names a bad id", "[model][embedding]") {
  matrix_f m(3, 2);
  m << 1.0f, 2.0f, -3.0f, 4.5f, 0.25f, -0.0f;
  for (const dense_storage st : {dense_storage::f32, dense_storage::bf16}) {
    const dense_matrix d = dense_matrix::from_f32(m, st);
    const std::int64_t ids[] = {2, 0, 2};
    float out[3 * 4];
    std::fill(std::begin(out), std::end(out), 9.0f);
    embedding_lookup(d, ids, 3, out, 4);
    for (int t = 0; t < 3; ++t) {
      CHECK(out[4 * t] == m(ids[t], 0));
      CHECK(out[4 * t + 1] == m(ids[t], 1));
      CHECK(out[4 * t + 2] == 9.0f);  // past the row: untouched
    }
    const std::int64_t bad[] = {1, 3};
    CHECK_THROWS_AS(embedding_lookup(d, bad, 2, out, 4), value_error);
    const std::int64_t neg[] = {-1};
    CHECK_THROWS_AS(embedding_lookup(d, neg, 1, out, 4), value_error);
    CHECK_THROWS_AS(embedding_lookup(d, ids, 1, out, 1), shape_error);
  }
}
