// Quantizer invariants, tie rounding and edge cases. Expected values come from the definitions
// (hand-computed small cases) or from an independent formulation, never from the code under test.
#include <cfenv>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <bitlin/bitlin.hpp>

#include "catch.hpp"

using namespace bitlin;

namespace {
matrix_f random_matrix(index_t r, index_t c, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  matrix_f m(r, c);
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < c; ++j) m(i, j) = d(rng);
  return m;
}
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
}  // namespace

TEST_CASE("round_half_even follows the definition", "[rounding]") {
  CHECK(round_half_even(0.5f) == 0.0f);
  CHECK(round_half_even(1.5f) == 2.0f);
  CHECK(round_half_even(2.5f) == 2.0f);
  CHECK(round_half_even(-0.5f) == 0.0f);
  CHECK(round_half_even(-1.5f) == -2.0f);
  CHECK(round_half_even(-2.5f) == -2.0f);
  CHECK(round_half_even(0.49999997f) == 0.0f);
  CHECK(round_half_even(63.5f) == 64.0f);
  CHECK(round_half_even(62.5f) == 62.0f);
  CHECK(round_half_even(1e10f) == 1e10f);
  CHECK(std::isnan(round_half_even(kNaN)));
  CHECK(round_half_even(-kInf) == -kInf);
  // Against the C library under the default rounding mode, over many magnitudes.
  REQUIRE(std::fegetround() == FE_TONEAREST);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = u(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 30) - 4);
    REQUIRE(round_half_even(x) == std::nearbyint(x));
    const float half = std::floor(x) + 0.5f;  // exact ties too
    REQUIRE(round_half_even(half) == std::nearbyint(half));
  }
}

TEST_CASE("absmean ternary: definition, ties and granularities", "[ternary]") {
  SECTION("hand-computed ties: mean|W| = 1 so s = 1; half-even sends +-0.5 to 0") {
    matrix_f W(1, 4);
    W << 0.5f, -0.5f, 1.5f, -1.5f;
    const auto t = absmean_ternary(W);
    CHECK(t.scales.values.at(0) == 1.0f);
    CHECK(t.scales.convention == scale_convention::divide);
    CHECK(t.q(0, 0) == 0);
    CHECK(t.q(0, 1) == 0);
    CHECK(t.q(0, 2) == 1);
    CHECK(t.q(0, 3) == -1);
  }
  SECTION("values are ternary and follow sign(W) above half a step") {
    const matrix_f W = random_matrix(37, 53, 1);
    const auto t = absmean_ternary(W);
    const float s = t.scales.values.at(0);
    double mean = 0;
    for (index_t i = 0; i < W.size(); ++i) mean += std::fabs(W.data()[i]);
    mean /= static_cast<double>(W.size());
    CHECK(std::fabs(s - static_cast<float>(1.0 / mean)) <= 1e-6f * s);
    for (index_t i = 0; i < W.rows(); ++i)
      for (index_t j = 0; j < W.cols(); ++j) {
        const float v = W(i, j) * s;
        const int expect = std::fabs(v) > 0.5f ? (v > 0 ? 1 : -1) : 0;
        if (std::fabs(std::fabs(v) - 0.5f) > 1e-6f) REQUIRE(t.q(i, j) == expect);
      }
  }
  SECTION("the branch-free code equals clamp(round_half_even(w s), -1, 1)") {
    // Every tie and its float neighbours, both signs, plus random and extreme products.
    std::vector<float> ps = {0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f, kInf, -kInf};
    for (float t : {0.5f, 1.0f, 1.5f, 2.5f, 8388608.0f})
      for (float sign : {1.0f, -1.0f}) {
        const float v = sign * t;
        ps.insert(ps.end(), {v, std::nextafter(v, 0.0f), std::nextafter(v, 2.0f * v)});
      }
    const matrix_f R = random_matrix(1, 4000, 9) * 3.0f;
    for (index_t i = 0; i < R.size(); ++i) ps.push_back(R.data()[i]);
    for (float p : ps)
      for (float s : {1.0f, 0.75f, 3.0f}) {
        const float w = p / s;  // the code sees w * s, which may differ from p by rounding
        const float r = round_half_even(w * s);
        const int expect = r > 1.0f ? 1 : (r < -1.0f ? -1 : static_cast<int>(r));
        CAPTURE(p, s);
        REQUIRE(static_cast<int>(bitlin::detail::ternary_code(w, s)) == expect);
      }
  }
  SECTION("all-zero matrix: zeros with the capped scale 1/1e-5") {
    const auto t = absmean_ternary(matrix_f::Zero(3, 5));
    CHECK(t.q.cwiseAbs().maxCoeff() == 0);
    CHECK(t.scales.values.at(0) == 1.0f / 1e-5f);
  }
  SECTION("per row and K blocks equal per-tensor quantization of each piece") {
    const matrix_f W = random_matrix(9, 50, 2);
    const auto rows = absmean_ternary(W, scale_groups::per_row());
    REQUIRE(rows.scales.values.size() == 9);
    for (index_t r = 0; r < 9; ++r) {
      const auto one = absmean_ternary(W.row(r));
      CHECK(rows.scales.values[static_cast<std::size_t>(r)] == one.scales.values[0]);
      CHECK(rows.q.row(r) == one.q);
    }
    const auto tiles = absmean_ternary(W, scale_groups::tiles(4, 16));  // ragged in both directions
    REQUIRE(tiles.scales.layout.row_groups == 3);
    REQUIRE(tiles.scales.layout.col_groups == 4);
    for (index_t r0 = 0; r0 < 9; r0 += 4)
      for (index_t c0 = 0; c0 < 50; c0 += 16) {
        const index_t nr = std::min<index_t>(4, 9 - r0), nc = std::min<index_t>(16, 50 - c0);
        const matrix_f block = W.block(r0, c0, nr, nc);
        const auto one = absmean_ternary(block);
        CHECK(tiles.scales.values[static_cast<std::size_t>(tiles.scales.layout.index(r0, c0))] ==
              one.scales.values[0]);
        CHECK(matrix_i8(tiles.q.block(r0, c0, nr, nc)) == one.q);
      }
  }
  SECTION("NaN and Inf are rejected") {
    matrix_f W = random_matrix(2, 3, 3);
    W(1, 2) = kNaN;
    CHECK_THROWS_AS(absmean_ternary(W), value_error);
    W(1, 2) = kInf;
    CHECK_THROWS_AS(absmedian_ternary(W), value_error);
  }
  SECTION("bad group sizes are rejected") {
    CHECK_THROWS_AS(absmean_ternary(random_matrix(2, 2, 4), scale_groups{-1, 0}), shape_error);
  }
}

TEST_CASE("absmedian ternary uses the lower middle |W|", "[ternary]") {
  matrix_f W(1, 4);
  W << -4.0f, 1.0f, 2.0f, 0.25f;  // |W| sorted: 0.25 1 2 4 -> lower middle 1
  const auto t = absmedian_ternary(W);
  CHECK(t.scales.values.at(0) == 1.0f);
  CHECK(t.q(0, 0) == -1);
  CHECK(t.q(0, 1) == 1);
  CHECK(t.q(0, 2) == 1);
  CHECK(t.q(0, 3) == 0);
  matrix_f odd(1, 3);
  odd << 3.0f, -0.1f, 0.5f;  // median 0.5 -> s = 2
  CHECK(absmedian_ternary(odd).scales.values.at(0) == 2.0f);
}

TEST_CASE("sign binarization: alpha centres, sign(0) = -1, beta = mean|W|", "[binary]") {
  matrix_f W(2, 3);
  W << 1.0f, 2.0f, 3.0f, -1.0f, 0.0f, 1.0f;  // per row: alpha 2 / 0, beta 2 / 2/3
  const auto b = sign_binary(W, scale_groups::per_row());
  CHECK(b.alpha.at(0) == 2.0f);
  CHECK(b.alpha.at(1) == 0.0f);
  CHECK(b.scales.values.at(0) == 2.0f);
  CHECK(b.scales.values.at(1) == Approx(2.0 / 3.0));
  CHECK(b.scales.convention == scale_convention::multiply);
  CHECK(b.q(0, 0) == -1);
  CHECK(b.q(0, 1) == -1);  // W - alpha == 0 -> -1
  CHECK(b.q(0, 2) == 1);
  CHECK(b.q(1, 1) == -1);
  CHECK(b.q(1, 2) == 1);
  const auto zero = sign_binary(matrix_f::Zero(2, 2));
  CHECK(zero.q.minCoeff() == -1);
  CHECK(zero.q.maxCoeff() == -1);
  CHECK(zero.scales.values.at(0) == 0.0f);
  matrix_f bad = W;
  bad(0, 0) = -kInf;
  CHECK_THROWS_AS(sign_binary(bad), value_error);
}

TEST_CASE("absmax activations: the transformers/bitnet.cpp form", "[activation]") {
  SECTION("ties round half to even; the max maps to Q") {
    matrix_f X(1, 7);
    X << 127.0f, 63.5f, 62.5f, -0.5f, 0.5f, 1.5f, -127.0f;  // max 127 -> s = 1
    const auto a = absmax_quantize(X);
    CHECK(a.scales.at(0) == 1.0f);
    const int expect[] = {127, 64, 62, 0, 0, 2, -127};
    for (int i = 0; i < 7; ++i) CHECK(a.q(0, i) == expect[i]);
  }
  SECTION("every bit width keeps the range [-2^(b-1), 2^(b-1)-1]") {
    const matrix_f X = random_matrix(5, 200, 5, 3.0f);
    for (int bits = 2; bits <= 8; ++bits) {
      const auto a = absmax_quantize(X, bits);
      const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
      CHECK(a.q.cast<int>().minCoeff() >= lo);
      CHECK(a.q.cast<int>().maxCoeff() <= hi);
      for (index_t t = 0; t < X.rows(); ++t)  // the largest magnitude maps to +-hi exactly
        CHECK(a.q.row(t).cast<int>().cwiseAbs().maxCoeff() == hi);
    }
    CHECK_THROWS_AS(absmax_quantize(X, 1), value_error);
    CHECK_THROWS_AS(absmax_quantize(X, 9), value_error);
  }
  SECTION("an all-zero token has q = 0 and the capped scale") {
    matrix_f X = random_matrix(3, 16, 6);
    X.row(1).setZero();
    const auto a = absmax_quantize(X);
    CHECK(a.q.row(1).cwiseAbs().maxCoeff() == 0);
    CHECK(a.scales.at(1) == 127.0f / 1e-5f);
  }
  SECTION("row form and K groups agree with per-row quantization of pieces") {
    const matrix_f X = random_matrix(4, 70, 7);
    const auto rows = absmax_quantize(X);
    std::vector<std::int8_t> q(70);
    for (index_t t = 0; t < 4; ++t) {
      const float s = absmax_quantize_row(X.row(t).data(), 70, q.data());
      CHECK(s == rows.scales[static_cast<std::size_t>(t)]);
      for (index_t k = 0; k < 70; ++k) CHECK(q[static_cast<std::size_t>(k)] == rows.q(t, k));
    }
    const auto groups = absmax_quantize(X, 8, scale_groups::k_blocks(32));
    REQUIRE(groups.layout.col_groups == 3);
    for (index_t t = 0; t < 4; ++t)
      for (index_t c0 = 0; c0 < 70; c0 += 32) {
        const index_t nc = std::min<index_t>(32, 70 - c0);
        const auto one = absmax_quantize(X.block(t, c0, 1, nc));
        CHECK(one.scales[0] == groups.scales[static_cast<std::size_t>(groups.layout.index(t, c0))]);
        CHECK(matrix_i8(groups.q.block(t, c0, 1, nc)) == one.q);
      }
    const auto tensor = absmax_quantize(X, 8, scale_groups::per_tensor());
    CHECK(tensor.scales.size() == 1);
    CHECK(tensor.scales[0] == 127.0f / X.cwiseAbs().maxCoeff());
  }
  SECTION("non-finite activations are rejected, naming the element") {
    matrix_f X = random_matrix(2, 4, 8);
    X(1, 3) = kNaN;
    CHECK_THROWS_AS(absmax_quantize(X), value_error);
    std::int8_t q[4];
    CHECK_THROWS_AS(absmax_quantize_row(X.row(1).data(), 4, q), value_error);
  }
}

TEST_CASE("BitNet b1 paper forms", "[activation]") {
  matrix_f X(1, 4);
  X << -2.0f, 1.0f, 0.5f, 4.0f;  // gamma = 4, Q_b = 128
  const auto a = absmax_quantize_b1(X, 8, 1e-3f);
  CHECK(a.gamma.at(0) == 4.0f);
  CHECK(a.values(0, 0) == -64.0f);
  CHECK(a.values(0, 1) == 32.0f);
  CHECK(a.values(0, 3) == 128.0f - 1e-3f);  // clipped just inside Q_b
  const auto r = absmax_quantize_b1_relu(X, 8, 1e-3f);
  CHECK(r.eta.at(0) == -2.0f);
  CHECK(r.values(0, 0) == 1e-3f);               // the minimum maps to 0, clipped up to eps
  CHECK(r.values(0, 1) == Approx(3.0 * 32.0));  // (1 - (-2)) * 128 / 4
  CHECK(r.values(0, 3) == 128.0f - 1e-3f);
  CHECK(r.values.minCoeff() >= 1e-3f);
  CHECK_THROWS_AS(absmax_quantize_b1(X, 8, 1.5f), value_error);
}

TEST_CASE("affine int8/uint8 quantization", "[affine]") {
  const matrix_f X = random_matrix(6, 40, 9, 2.0f);
  SECTION("asymmetric uint8: zero is exact and the error is at most half a step") {
    const auto p = affine_params_minmax<std::uint8_t>(X, false);
    const auto q = affine_quantize<std::uint8_t>(X, p);
    const matrix_f back = affine_dequantize<std::uint8_t>(q, p);
    CHECK((back - X).cwiseAbs().maxCoeff() <= 0.5f * p.scale * 1.0001f);
    matrix_f z = matrix_f::Zero(1, 1);
    CHECK(affine_dequantize<std::uint8_t>(affine_quantize<std::uint8_t>(z, p), p)(0, 0) == 0.0f);
  }
  SECTION("symmetric int8 has zero point 0, uint8 128") {
    CHECK(affine_params_minmax<std::int8_t>(X, true).zero_point == 0);
    CHECK(affine_params_minmax<std::uint8_t>(X, true).zero_point == 128);
    const auto p = affine_params_minmax<std::int8_t>(X, true);
    const auto q = affine_quantize<std::int8_t>(X, p);
    CHECK(q.cast<int>().cwiseAbs().maxCoeff() == 127);
  }
  SECTION("out-of-range values saturate; bad parameters are rejected") {
    matrix_f big(1, 2);
    big << 1e30f, -1e30f;
    const auto q = affine_quantize<std::uint8_t>(big, affine_params{0.1f, 10});
    CHECK(q(0, 0) == 255);
    CHECK(q(0, 1) == 0);
    CHECK_THROWS_AS(affine_quantize<std::int8_t>(big, affine_params{0.0f, 0}), value_error);
    CHECK_THROWS_AS(affine_params_from_range<std::int8_t>(1.0f, -1.0f, false), value_error);
    CHECK_THROWS_AS(affine_params_from_range<std::int8_t>(kNaN, 1.0f, false), value_error);
  }
}

TEST_CASE("RMSNorm and LayerNorm", "[norm]") {
  const matrix_f X = random_matrix(3, 64, 10, 5.0f);
  matrix_f Y(3, 64);
  rms_norm(X, nullptr, 0.0f, Y);
  for (index_t r = 0; r < 3; ++r)
    CHECK(Y.row(r).squaredNorm() / 64.0f == Approx(1.0).epsilon(1e-5));
  std::vector<float> w(64, 2.0f);
  matrix_f Y2(3, 64);
  rms_norm(X, w.data(), 0.0f, Y2);
  CHECK((Y2 - 2.0f * Y).cwiseAbs().maxCoeff() <= 1e-6f);
  layer_norm(X, nullptr, nullptr, 0.0f, Y);
  for (index_t r = 0; r < 3; ++r) {
    CHECK(std::fabs(Y.row(r).mean()) < 1e-5f);
    CHECK(Y.row(r).squaredNorm() / 64.0f == Approx(1.0).epsilon(1e-5));
  }
  matrix_f wrong(2, 64);
  CHECK_THROWS_AS(rms_norm(X, nullptr, 1e-5f, wrong), shape_error);
}
