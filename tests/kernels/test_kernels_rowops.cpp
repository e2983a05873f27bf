// The float row ops (RMSNorm's sum of squares and scaling, relu^2 * up) on every ISA path this CPU
// runs, bit for bit against the portable kernels that define them (kernels/rowops/scalar.hpp):
// every length 0..300 (every tail of 4, 8 and 16 lanes), a long row, random, extreme, tiny,
// signed-zero and non-finite inputs; then the public ops (rms_norm with blocks and threads,
// relu2_gate) against the definition, and bad shapes. Under qemu the Haswell and SSE paths run.
#include <bitlin/layers/relu2_gate.hpp>
#include <bitlin/norm/norm.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

// Bit equality, except that any NaN equals any NaN (payload propagation is not part of the
// definition).
bool same_bits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}
bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Inputs of kind: 0 normal, 1 extremes (near FLT_MAX, subnormals, signed zeros), 2 with Inf and
// NaN sprinkled in, 3 all -0.0.
std::vector<float> row_of(index_t n, int kind, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  const float special[] = {std::numeric_limits<float>::max(),
                           -std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::denorm_min(),
                           -1e-40f,
                           0.0f,
                           -0.0f,
                           1e19f,
                           -1e-19f};
  for (index_t i = 0; i < n; ++i) {
    float x = nd(rng);
    if (kind == 1 && rng() % 3 == 0) x = special[rng() % 8];
    if (kind == 2 && rng() % 17 == 0)
      x = rng() % 2 ? std::numeric_limits<float>::quiet_NaN()
                    : (rng() % 2 ? 1.0f : -1.0f) * std::numeric_limits<float>::infinity();
    if (kind == 3) x = -0.0f;
    v[static_cast<std::size_t>(i)] = x;
  }
  return v;
}

}  // namespace

TEST_CASE("row ops: every path is bit-identical to the definition, every length and input") {
  std::mt19937 rng(5);
  std::vector<index_t> lengths;
  for (index_t n = 0; n <= 300; ++n) lengths.push_back(n);
  lengths.push_back(6912);
  lengths.push_back(bitlin_test::quick() ? 65536 + 13 : (1 << 20) + 13);
  for (isa path : supported_isas()) {
    CAPTURE(isa_name(path), isa_name(rowops_kernel_path(path)));
    const sum_squares_fn ss = detail::sum_squares_kernel_of(path).fn;
    const rms_scale_fn scale = detail::rms_scale_kernel_of(path).fn;
    const relu2_mul_fn relu2 = detail::relu2_mul_kernel_of(path).fn;
    for (const index_t n : lengths) {
      for (int kind = 0; kind < 4; ++kind) {
        if (n > 6912 && kind != 0) continue;
        CAPTURE(n, kind);
        const std::vector<float> x = row_of(n, kind, rng), w = row_of(n, 0, rng),
                                 u = row_of(n, kind == 3 ? 0 : kind, rng);
        REQUIRE(same_bits(ss(x.data(), n), kernels::sum_squares_scalar(x.data(), n)));
        // Outputs one element longer than n, with a guard value that must survive.
        const float guard = -12345.0f;
        for (const float* wp : {static_cast<const float*>(nullptr), w.data()}) {
          std::vector<float> y(static_cast<std::size_t>(n + 1), guard), ref = y;
          scale(x.data(), n, 0.37f, wp, y.data());
          kernels::rms_scale_scalar(x.data(), n, 0.37f, wp, ref.data());
          for (index_t i = 0; i <= n; ++i)
            REQUIRE(same_bits(y[static_cast<std::size_t>(i)], ref[static_cast<std::size_t>(i)]));
          REQUIRE(y[static_cast<std::size_t>(n)] == guard);
        }
        std::vector<float> a(static_cast<std::size_t>(n + 1), guard), ref = a;
        relu2(x.data(), u.data(), n, a.data());
        kernels::relu2_mul_scalar(x.data(), u.data(), n, ref.data());
        for (index_t i = 0; i <= n; ++i)
          REQUIRE(same_bits(a[static_cast<std::size_t>(i)], ref[static_cast<std::size_t>(i)]));
        REQUIRE(a[static_cast<std::size_t>(n)] == guard);
      }
    }
  }
}

TEST_CASE("row ops: the definition's order and values") {
  // Sixteen partials, folded as defined: values chosen so that another order rounds differently.
  std::vector<float> x(35);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 16 == 0 ? 65536.0f : 1.0f / 4096.0f;
  double p[16] = {};
  for (std::size_t i = 0; i < x.size(); ++i)
    p[i % 16] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  double q[8];
  for (int j = 0; j < 8; ++j) q[j] = p[j] + p[j + 8];
  const double want = ((q[0] + q[4]) + (q[2] + q[6])) + ((q[1] + q[5]) + (q[3] + q[7]));
  for (isa path : supported_isas())
    CHECK(detail::sum_squares(x.data(), static_cast<index_t>(x.size()), path) == want);
  const float g[] = {2.0f, -1.0f, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(), 0.5f};
  const float u[] = {3.0f, 5.0f, 7.0f, 1.0f, 2.0f, -8.0f};
  float a[6];
  kernels::relu2_mul_scalar(g, u, 6, a);
  CHECK(a[0] == 12.0f);
  CHECK(a[1] == 0.0f);
  CHECK(a[2] == 0.0f);
  CHECK_FALSE(std::signbit(a[3]));  // relu(-0) is +0
  CHECK(a[4] == 0.0f);              // relu(NaN) is +0
  CHECK(a[5] == -2.0f);
}

TEST_CASE("rms_norm and relu2_gate: the definition on rows, with blocks and threads") {
  const matrix_f X = bitlin_test::randn(37, 300, 3);
  std::vector<float> w(300);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5f + static_cast<float>(i % 7) * 0.25f;
  thread_pool pool(2);
  for (index_t block : {index_t{0}, index_t{64}, index_t{100}}) {
    matrix_f ref(X.rows(), X.cols());
    for (index_t r = 0; r < X.rows(); ++r) {
      double ss = 0.0;
      for (index_t c = 0; c < X.cols(); c += block ? block : X.cols())
        ss += kernels::sum_squares_scalar(X.row(r).data() + c,
                                          std::min(block ? block : X.cols(), X.cols() - c));
      const float inv =
          1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(X.cols())) + 1e-5f);
      kernels::rms_scale_scalar(X.row(r).data(), X.cols(), inv, w.data(), ref.row(r).data());
    }
    matrix_f Y(X.rows(), X.cols()), Yp(X.rows(), X.cols());
    rms_norm(X, w.data(), 1e-5f, Y, block);
    rms_norm(X, w.data(), 1e-5f, Yp, block, pool);
    CHECK(Y == ref);
    CHECK(Yp == ref);
  }
  const matrix_f GU = bitlin_test::randn(19, 2 * 77, 4);
  matrix_f A(19, 77), Ap(19, 77), ref(19, 77);
  for (index_t t = 0; t < 19; ++t)
    kernels::relu2_mul_scalar(GU.row(t).data(), GU.row(t).data() + 77, 77, ref.row(t).data());
  relu2_gate(GU, A);
  relu2_gate(GU, Ap, pool);
  CHECK(A == ref);
  CHECK(Ap == ref);
  matrix_f wrong(19, 76);
  CHECK_THROWS_AS(relu2_gate(GU, wrong), shape_error);
}
