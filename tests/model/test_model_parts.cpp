// The model's smaller parts: every compiled path of the dense (embedding / lm_head) product
// against the scalar one, BF16 storage, sampling determinism and its limits, the random model
// constructor, and generation's prompt logits.
#include <cmath>
#include <random>
#include <set>

#include "bitlin/model/bitnet.hpp"
#include "bitlin/model/sampling.hpp"
#include "catch.hpp"

using namespace bitlin;
using namespace bitlin::model;

namespace {
matrix_f random_matrix(index_t r, index_t c, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  matrix_f m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = d(g);
  return m;
}

// Double-precision product of the values the table really holds.
matrix_f exact_product(const dense_matrix& W, const matrix_f& X) {
  matrix_f Y(X.rows(), W.rows());
  std::vector<float> row(static_cast<std::size_t>(W.cols()));
  for (index_t n = 0; n < W.rows(); ++n) {
    W.row(n, row.data());
    for (index_t t = 0; t < X.rows(); ++t) {
      double acc = 0;
      for (index_t k = 0; k < W.cols(); ++k)
        acc += static_cast<double>(row[static_cast<std::size_t>(k)]) * X(t, k);
      Y(t, n) = static_cast<float>(acc);
    }
  }
  return Y;
}
}  // namespace

TEST_CASE("dense product: every path agrees with the scalar path", "[model][head][threads]") {
  const auto paths = supported_head_paths();
  REQUIRE(paths.front() == head_path::scalar);
  std::printf("head paths:");
  for (auto p : paths) std::printf(" %s", head_path_name(p));
  std::printf("\n");
  thread_pool pool(2);
  for (const dense_storage st : {dense_storage::f32, dense_storage::bf16}) {
    for (const index_t rows : {1, 3, 37, 130}) {
      for (const index_t cols : {1, 15, 16, 17, 64, 200}) {
        for (const index_t tokens : {1, 3, 4, 9}) {
          CAPTURE(dense_storage_name(st), rows, cols, tokens);
          const dense_matrix W = dense_matrix::from_f32(
              random_matrix(rows, cols, 7u + static_cast<unsigned>(rows * cols)), st);
          const matrix_f X = random_matrix(tokens, cols, 99u + static_cast<unsigned>(tokens));
          const matrix_f want = exact_product(W, X);
          const float tol =
              1e-5f * static_cast<float>(cols) * std::max(1.0f, want.cwiseAbs().maxCoeff());
          for (const head_path p : paths) {
            CAPTURE(head_path_name(p));
            matrix_f Y = matrix_f::Constant(tokens, rows, NAN);
            W.multiply(X.data(), tokens, cols, Y.data(), rows,
                       p == head_path::scalar ? serial() : static_cast<const executor&>(pool), p);
            REQUIRE(Y.allFinite());
            CHECK((Y - want).cwiseAbs().maxCoeff() <= tol);
          }
        }
      }
    }
  }
}

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
    const bitnet_model m = bitnet_model::random(c, 5, dense_storage::bf16);
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

TEST_CASE("int8 head: vector path equals the scalar path exactly, and approximates the product",
          "[model][head][threads]") {
  std::printf("int8 head vector path: %s\n", int8_head_avx512_supported() ? "avx512vnni" : "none");
  thread_pool pool(2);
  for (const index_t rows : {1, 5, 70, 301}) {
    for (const index_t cols : {1, 63, 64, 65, 200, 2560}) {
      CAPTURE(rows, cols);
      const dense_matrix W = dense_matrix::from_f32(
          random_matrix(rows, cols, 3u + static_cast<unsigned>(rows + cols)));
      const matrix_f X = random_matrix(3, cols, 17u + static_cast<unsigned>(cols));
      const int8_head h(W);
      matrix_f a(3, rows), b(3, rows);
      h.multiply(X.data(), 3, cols, a.data(), rows, serial(), false);
      h.multiply(X.data(), 3, cols, b.data(), rows, pool, true);
      CHECK((a - b).cwiseAbs().maxCoeff() == 0.0f);
      const matrix_f want = exact_product(W, X);
      // Two absmax int8 roundings: the error stays a small fraction of the largest output.
      const double err = (a - want).cwiseAbs().maxCoeff();
      const double scale = std::max(1.0f, want.cwiseAbs().maxCoeff());
      CHECK(err <= 0.05 * scale);
    }
  }
}

TEST_CASE("vectorized activation quantization is bit-identical to absmax_quantize_row",
          "[model][quant]") {
  std::mt19937_64 g(123);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<index_t> lengths;
  for (index_t k = 0; k <= 70; ++k) lengths.push_back(k);
  lengths.push_back(2560);
  lengths.push_back(6912);
  int rows = 0;
  for (const index_t k : lengths) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> x(static_cast<std::size_t>(k));
      for (auto& v : x) v = d(g);
      if (variant == 1 && k > 0) {
        // Exact ties after scaling: max |x| = 127 makes s = 1, so x.5 values tie.
        for (std::size_t i = 0; i < x.size(); ++i)
          x[i] = static_cast<float>(static_cast<int>(i % 9) - 4) + 0.5f;
        x[0] = 127.0f;
      }
      if (variant == 2) std::fill(x.begin(), x.end(), 0.0f);
      if (variant == 3)
        for (auto& v : x) v *= 1e-7f;  // below the 1e-5 floor of max|x|
      std::vector<std::int8_t> a(x.size() + 1, 77), b(x.size() + 1, 77);
      const float sa = absmax_quantize_row(x.data(), k, a.data());
      const float sb = absmax_i8_row(x.data(), k, b.data());
      CAPTURE(k, variant);
      CHECK(sa == sb);
      CHECK(a == b);  // includes the untouched guard byte
      ++rows;
    }
  }
  CHECK(rows > 0);
  std::vector<float> bad(40, 1.0f);
  bad[33] = NAN;
  std::vector<std::int8_t> q(40);
  CHECK_THROWS_AS(absmax_i8_row(bad.data(), 40, q.data()), value_error);
  bad[33] = INFINITY;
  CHECK_THROWS_AS(absmax_i8_row(bad.data(), 40, q.data()), value_error);
}

TEST_CASE("vectorized attention agrees with the Eigen path", "[model][attention]") {
  for (const index_t d : {32, 64, 96, 128, 48}) {
    for (const index_t pos0 : {0, 1, 13}) {
      for (const index_t T : {1, 2, 5, 17}) {
        CAPTURE(d, pos0, T);
        const index_t L = pos0 + T, ld = 3 * d;  // strided rows, as in the fused qkv / KV cache
        const matrix_f Q = random_matrix(T, ld, 1u + static_cast<unsigned>(d + T));
        const matrix_f K = random_matrix(L, ld, 2u + static_cast<unsigned>(L));
        const matrix_f V = random_matrix(L, ld, 3u + static_cast<unsigned>(L + d));
        matrix_f O1 = matrix_f::Zero(T, ld), O2 = matrix_f::Zero(T, ld);
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        attend_head({Q.data() + d, ld, K.data() + d, V.data() + d, ld, O1.data() + d, ld, T, pos0,
                     d, scale},
                    false);
        attend_head({Q.data() + d, ld, K.data() + d, V.data() + d, ld, O2.data() + d, ld, T, pos0,
                     d, scale},
                    true);
        CHECK((O1 - O2).cwiseAbs().maxCoeff() <= 1e-5f * std::max(1.0f, O1.cwiseAbs().maxCoeff()));
        CHECK(O1.leftCols(d).cwiseAbs().maxCoeff() == 0.0f);  // nothing written outside the head
        CHECK(O2.leftCols(d).cwiseAbs().maxCoeff() == 0.0f);
        CHECK(O2.rightCols(d).cwiseAbs().maxCoeff() == 0.0f);
        // The first query of an empty cache sees only itself: its output is its own value row.
        if (pos0 == 0)
          CHECK((O2.row(0).segment(d, d) - V.row(0).segment(d, d)).cwiseAbs().maxCoeff() <= 1e-6f);
      }
    }
  }
}
