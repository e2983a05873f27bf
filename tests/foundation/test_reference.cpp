// The reference GEMM and epilogue against independent formulations (Eigen integer products,
// double-precision sums), plus its documented limits.
#include <random>

#include <bitlin/bitlin.hpp>

#include "catch.hpp"

using namespace bitlin;

namespace {
matrix_i8 random_i8(index_t r, index_t c, std::mt19937& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  matrix_i8 m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<std::int8_t>(d(rng));
  return m;
}
}  // namespace

TEST_CASE("reference_gemm equals the Eigen int32 product", "[reference]") {
  std::mt19937 rng(21);
  for (index_t k : {0, 1, 3, 64, 257}) {
    const matrix_i8 X = random_i8(5, k, rng, -128, 127);
    const matrix_i8 W = random_i8(7, k, rng, -1, 1);
    const matrix_i32 expect = X.cast<std::int32_t>() * W.cast<std::int32_t>().transpose();
    CHECK(reference_gemm(X, W) == expect);
  }
  const matrix_i8 X = random_i8(2, 5, rng, -128, 127);
  CHECK_THROWS_AS(reference_gemm(X, random_i8(2, 6, rng, -1, 1)), shape_error);
}

TEST_CASE("reference_gemm is exact at the extremes and refuses K beyond the bound", "[reference]") {
  const index_t k = index_t{1} << 20;
  std::vector<std::int8_t> x(static_cast<std::size_t>(k), -128), w(static_cast<std::size_t>(k), -1);
  std::int32_t y = 0;
  reference_gemm(x.data(), k, w.data(), k, &y, 1, 1, 1, k);
  CHECK(y == 128 * k);
  std::fill(x.begin(), x.end(), 127);
  std::fill(w.begin(), w.end(), 1);
  reference_gemm(x.data(), k, w.data(), k, &y, 1, 1, 1, k);
  CHECK(y == 127 * k);
  CHECK_THROWS_AS(reference_gemm(x.data(), max_exact_k + 1, w.data(), max_exact_k + 1, &y, 1, 0, 0,
                                 max_exact_k + 1),
                  shape_error);
  CHECK_THROWS_AS(reference_gemm(x.data(), 4, w.data(), 8, &y, 1, 1, 1, 8), shape_error);
}

TEST_CASE("epilogue for every scale granularity matches a double-precision sum", "[reference]") {
  std::mt19937 rng(22);
  std::normal_distribution<float> nd;
  const index_t T = 3, N = 10, K = 77;
  matrix_f Xf(T, K), Wf(N, K);
  for (index_t i = 0; i < Xf.size(); ++i) Xf.data()[i] = nd(rng);
  for (index_t i = 0; i < Wf.size(); ++i) Wf.data()[i] = nd(rng);
  std::vector<float> bias(N);
  for (auto& b : bias) b = nd(rng);
  const scale_groups weight_groups[] = {scale_groups::per_tensor(), scale_groups::per_row(),
                                        scale_groups::row_groups(4), scale_groups::k_blocks(32),
                                        scale_groups::tiles(3, 20)};
  const scale_groups act_groups[] = {scale_groups::per_row(), scale_groups::per_tensor(),
                                     scale_groups::k_blocks(16)};
  for (const auto& wg : weight_groups)
    for (const auto& ag : act_groups)
      for (bool binary_w : {false, true}) {
        const auto xq = absmax_quantize(Xf, 8, ag);
        matrix_i8 q;
        weight_scales ws;
        if (binary_w) {
          auto b = sign_binary(Wf, wg);
          q = b.q;
          ws = b.scales;
        } else {
          auto t = absmean_ternary(Wf, wg);
          q = t.q;
          ws = t.scales;
        }
        const matrix_f y = reference_bitlinear_matmul(xq, q, ws, bias.data());
        for (index_t t = 0; t < T; ++t)
          for (index_t n = 0; n < N; ++n) {
            double e = 0;
            for (index_t k = 0; k < K; ++k) {  // dequantize element by element
              const double sx = xq.scales[static_cast<std::size_t>(xq.layout.index(t, k))];
              const double sw = ws.values[static_cast<std::size_t>(ws.layout.index(n, k))];
              const double wv =
                  ws.convention == scale_convention::divide ? q(n, k) / sw : q(n, k) * sw;
              e += xq.q(t, k) / sx * wv;
            }
            e += bias[static_cast<std::size_t>(n)];
            REQUIRE(y(t, n) == Approx(e).epsilon(1e-5).margin(1e-5));
          }
      }
}

TEST_CASE("energy model counts operations as defined", "[energy]") {
  for (index_t m = 1; m <= 4; ++m)
    for (index_t n = 1; n <= 5; ++n)
      for (index_t p = 1; p <= 3; ++p) {
        double adds = 0, muls = 0;  // a naive m x n by n x p product, counted
        for (index_t i = 0; i < m; ++i)
          for (index_t j = 0; j < p; ++j) {
            muls += static_cast<double>(n);
            adds += static_cast<double>(n - 1);
          }
        const auto fp = full_precision_ops(m, n, p);
        CHECK(fp.additions == adds);
        CHECK(fp.multiplications == muls);
        const auto bn = bitnet_ops(m, n, p);
        CHECK(bn.additions == adds);
        CHECK(bn.multiplications == static_cast<double>(m * p + m * n));  // rescale + quantize
      }
  const auto e = estimate_energy(512, 2560, 6912, float_precision::fp16, energy_7nm);
  CHECK(e.full_precision_pj ==
        Approx(e.full_precision.additions * 0.16 + e.full_precision.multiplications * 0.34));
  CHECK(e.ratio() > 10.0);
  CHECK_THROWS_AS(full_precision_ops(1, 0, 1), shape_error);
}
