// OneBit (W ~= sign(W) (.) a b^T by SVID): the rank-1 factor against Eigen's SVD of |W|, exact
// recovery of a rank-1 |W|, and the layer option: bit_linear<binary> with opt.onebit runs on the
// binary kernels and equals its reference path (b folded into the activations, a into the
// epilogue) bit for bit on every ISA path, and approximates the float product with the OneBit
// weights.
#include <bitlin/layers/bit_linear.hpp>
#include <bitlin/quant/onebit.hpp>

#include <Eigen/SVD>

#include <cstring>
#include <random>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::randn;
}  // namespace

TEST_CASE("onebit_svid: a b^T is the leading rank-1 term of |W| (Eigen SVD)") {
  for (auto shape : {std::pair<index_t, index_t>{45, 77}, {128, 64}, {1, 9}}) {
    const matrix_f W = randn(shape.first, shape.second, 31);
    const onebit_weights ob = onebit_svid(W);
    const Eigen::MatrixXd A = W.cast<double>().cwiseAbs();
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(A, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::MatrixXd ref =
        svd.singularValues()(0) * svd.matrixU().col(0) * svd.matrixV().col(0).transpose();
    Eigen::MatrixXd got(W.rows(), W.cols());
    for (index_t r = 0; r < W.rows(); ++r)
      for (index_t c = 0; c < W.cols(); ++c)
        got(r, c) = static_cast<double>(ob.a[static_cast<std::size_t>(r)]) *
                    static_cast<double>(ob.b[static_cast<std::size_t>(c)]);
    CHECK((got - ref).norm() <= 1e-5 * ref.norm());
    for (float v : ob.a) CHECK(v >= 0.0f);
    for (float v : ob.b) CHECK(v >= 0.0f);
    for (index_t i = 0; i < W.size(); ++i) CHECK(ob.q.data()[i] == (W.data()[i] > 0.0f ? 1 : -1));
  }
}

TEST_CASE("onebit_svid: a rank-1 |W| is recovered, zero weights give zero factors") {
  const matrix_f s = randn(20, 30, 32);
  matrix_f W(20, 30);
  for (index_t r = 0; r < 20; ++r)
    for (index_t c = 0; c < 30; ++c)
      W(r, c) = (s(r, c) > 0 ? 1.0f : -1.0f) * (0.5f + 0.1f * static_cast<float>(r)) *
                (1.0f + 0.01f * static_cast<float>(c));
  const matrix_f back = dequantize(onebit_svid(W));
  CHECK((back - W).norm() <= 1e-5f * W.norm());
  const onebit_weights z = onebit_svid(matrix_f::Zero(3, 4));
  for (float v : z.a) CHECK(v == 0.0f);
  matrix_f bad = W;
  bad(2, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(onebit_svid(bad), value_error);
}

TEST_CASE("bit_linear OneBit option: binary kernels, bit-identical to the reference path") {
  const matrix_f W = randn(45, 77, 33);
  std::vector<float> bias(45, 0.125f);
  bit_linear<binary, 8>::options opt;
  opt.onebit = true;
  opt.norm = norm_kind::layer_norm;
  const onebit_weights ob = onebit_svid(W);
  const matrix_f X = randn(5, 77, 34);
  // Reference: normalize, scale by b, quantize, then the reference matmul with a per row.
  matrix_f normed(5, 77);
  layer_norm(X, nullptr, nullptr, opt.norm_eps, normed);
  for (index_t c = 0; c < 77; ++c) normed.col(c) *= ob.b[static_cast<std::size_t>(c)];
  const quantized_activations xq = absmax_quantize(normed, 8);
  weight_scales ws;
  ws.layout = scale_layout(45, 77, scale_groups::per_row());
  ws.values = ob.a;
  ws.convention = scale_convention::multiply;
  const matrix_f ref = reference_bitlinear_matmul(xq, ob.q, ws, bias.data());
  for (isa path : supported_isas()) {
    set_active_isa(path);
    const auto layer = bit_linear<binary, 8>::from_float(W, bias.data(), opt);
    REQUIRE(layer.has_fast_kernel());
    CHECK(layer.weights() == ob.q);
    CHECK(layer.input_scale() == ob.b);
    const matrix_f y = layer.forward(X);
    INFO("isa " << isa_name(path));
    REQUIRE(std::memcmp(y.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(y.size())) ==
            0);
  }
  set_active_isa(best_isa());
  // And it approximates the float product with the OneBit weights (8-bit activation error only).
  const auto layer = bit_linear<binary, 8>::from_float(W, bias.data(), opt);
  matrix_f float_y = normed.leftCols(77);
  layer_norm(X, nullptr, nullptr, opt.norm_eps, float_y);
  matrix_f expect = float_y * dequantize(ob).transpose();
  for (index_t r = 0; r < expect.rows(); ++r) expect.row(r).array() += 0.125f;
  const matrix_f y = layer.forward(X);
  CHECK((y - expect).norm() <= 0.02f * expect.norm());
  bit_linear<ternary, 8>::options topt;
  topt.onebit = true;
  CHECK_THROWS_AS((bit_linear<ternary, 8>::from_float(W, nullptr, topt)), value_error);
}
