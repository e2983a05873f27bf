// bit_linear composes the pieces exactly as documented; checked against the pieces called by hand.
#include <random>

#include <bitlin/bitlin.hpp>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::randn;
}  // namespace

TEST_CASE("ternary bit_linear = absmax(x) . absmean(W) rescaled", "[bit_linear]") {
  const matrix_f W = randn(24, 50, 1), X = randn(5, 50, 2);
  const auto layer = bit_linear<>::from_float(W);
  CHECK(layer.in_features() == 50);
  CHECK(layer.out_features() == 24);
  const auto tw = absmean_ternary(W);
  CHECK(layer.weights() == tw.q);
  CHECK(layer.packed_weights().bytes() == 24 * 13);  // 2 bits per weight, rows padded to bytes
  const auto xq = absmax_quantize(X);
  const matrix_i32 Y = reference_gemm(xq.q, tw.q);
  const matrix_f y = layer.forward(X);
  for (index_t t = 0; t < 5; ++t)
    for (index_t n = 0; n < 24; ++n)
      CHECK(y(t, n) == static_cast<float>(Y(t, n)) /
                           (xq.scales[static_cast<std::size_t>(t)] * tw.scales.values[0]));
}

TEST_CASE("binary, 4-bit activations, norms, bias and groups", "[bit_linear]") {
  const matrix_f W = randn(16, 40, 3), X = randn(3, 40, 4);
  std::vector<float> bias(16, 0.25f);
  bit_linear<binary, 4>::options opt;
  opt.norm = norm_kind::layer_norm;
  opt.weight_groups = scale_groups::row_groups(8);
  const auto layer = bit_linear<binary, 4>::from_float(W, bias.data(), opt);
  matrix_f normed(3, 40);
  layer_norm(X, nullptr, nullptr, opt.norm_eps, normed);
  const auto xq = absmax_quantize(normed, 4);
  const auto bw = sign_binary(W, opt.weight_groups);
  const matrix_f expect = reference_bitlinear_matmul(xq, bw.q, bw.scales, bias.data());
  CHECK(layer.forward(X) == expect);
  CHECK(layer.weights() == bw.q);

  bit_linear<>::options ro;
  ro.norm = norm_kind::rms_norm;
  ro.absmedian = true;
  const auto l2 = bit_linear<>::from_float(W, nullptr, ro);
  matrix_f rn(3, 40);
  rms_norm(X, nullptr, ro.norm_eps, rn);
  const auto tw = absmedian_ternary(W);
  CHECK(l2.forward(X) == reference_bitlinear_matmul(absmax_quantize(rn), tw.q, tw.scales));
}

TEST_CASE("from_quantized takes checkpoint weights with either scale convention", "[bit_linear]") {
  const matrix_f W = randn(8, 12, 5), X = randn(2, 12, 6);
  const auto tw = absmean_ternary(W);
  weight_scales mult{{1.0f / tw.scales.values[0]}, tw.scales.layout, scale_convention::multiply};
  const auto a = bit_linear<>::from_quantized(tw.q, tw.scales);
  const auto b = bit_linear<>::from_quantized(tw.q, mult);
  CHECK((a.forward(X) - b.forward(X)).cwiseAbs().maxCoeff() <=
        1e-5f * a.forward(X).cwiseAbs().maxCoeff());
}

TEST_CASE("bit_linear rejects bad shapes and values with clear errors", "[bit_linear]") {
  const matrix_f W = randn(8, 12, 7);
  const auto layer = bit_linear<>::from_float(W);
  CHECK_THROWS_AS(layer.forward(randn(2, 13, 8)), shape_error);
  matrix_f y(2, 7);
  CHECK_THROWS_AS(layer.forward(randn(2, 12, 8), y), shape_error);
  matrix_i8 q = matrix_i8::Zero(8, 12);
  q(3, 4) = 2;
  CHECK_THROWS_AS(bit_linear<>::from_quantized(q, absmean_ternary(W).scales), value_error);
  auto bad = absmean_ternary(W).scales;
  bad.values[0] = 0.0f;  // divide convention
  CHECK_THROWS_AS(bit_linear<>::from_quantized(absmean_ternary(W).q, bad), value_error);
  CHECK_THROWS_AS(bit_linear<>::from_quantized(matrix_i8::Zero(8, 11), absmean_ternary(W).scales),
                  shape_error);
  matrix_f x = randn(2, 12, 9);
  x(0, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(layer.forward(x), value_error);
  std::vector<float> nan_bias(8, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_AS(bit_linear<>::from_float(W, nan_bias.data()), value_error);
  try {
    layer.forward(randn(2, 13, 8));
  } catch (const shape_error& e) {
    CHECK(std::string(e.what()).find("13") != std::string::npos);
  }
}
