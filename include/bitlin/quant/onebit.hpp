// OneBit's weight form: W ~= sign(W) (.) a b^T, a per-row value vector a [out] and a per-column
// vector b [in] from the best rank-1 approximation of |W| (the sign-value-independent
// decomposition, SVID): |W| ~= sigma u v^T with a = sqrt(sigma) u, b = sqrt(sigma) v (|W| has no
// negative entries, so its leading singular vectors can be taken non-negative).
// The product never forms the float weights: y = a (.) (sign(W) (b (.) x)), so b folds into the
// activations before their quantization and a into the epilogue as per-row weight scales
// (scale_convention::multiply), and the layer runs on the binary kernels unchanged
// (bit_linear<binary>::from_onebit).
// The leading singular pair comes from power iteration on |W|^T |W| in double, from the all-ones
// vector (deterministic; it cannot be orthogonal to the non-negative Perron vector), until the
// relative change of sigma is below 1e-12 or `max_iterations`.
#pragma once

#include <cmath>
#include <vector>

#include "bitlin/quant/detail.hpp"

namespace bitlin {

struct onebit_weights {
  matrix_i8 q;           // [out, in], sign(W) with sign(0) = -1, as sign_binary
  std::vector<float> a;  // [out]
  std::vector<float> b;  // [in]
};

inline onebit_weights onebit_svid(const Eigen::Ref<const matrix_f>& W, int max_iterations = 200) {
  detail::require_finite(W, "onebit_svid");
  BITLIN_REQUIRE(max_iterations >= 1, value_error,
                 "onebit_svid: max_iterations = ", max_iterations);
  const index_t n = W.rows(), k = W.cols();
  onebit_weights out;
  out.q.resize(n, k);
  for (index_t r = 0; r < n; ++r)
    for (index_t c = 0; c < k; ++c) out.q(r, c) = W(r, c) > 0.0f ? 1 : -1;
  const Eigen::MatrixXd A = W.cast<double>().cwiseAbs();
  Eigen::VectorXd v = Eigen::VectorXd::Ones(k);
  if (k > 0) v /= v.norm();
  double sigma = 0.0;
  Eigen::VectorXd u = Eigen::VectorXd::Zero(n);
  for (int it = 0; it < max_iterations && n > 0 && k > 0; ++it) {
    u = A * v;
    const double un = u.norm();
    if (un == 0.0) break;  // |W| = 0: a = b = 0
    Eigen::VectorXd w = A.transpose() * (u / un);
    const double s = w.norm();  // = sigma at convergence
    v = w / s;
    const bool done = std::fabs(s - sigma) <= 1e-12 * s;
    sigma = s;
    if (done) break;
  }
  out.a.assign(static_cast<std::size_t>(n), 0.0f);
  out.b.assign(static_cast<std::size_t>(k), 0.0f);
  if (sigma > 0.0) {
    u = A * v / sigma;  // unit left vector
    const double root = std::sqrt(sigma);
    for (index_t r = 0; r < n; ++r)
      out.a[static_cast<std::size_t>(r)] = static_cast<float>(root * u(r));
    for (index_t c = 0; c < k; ++c)
      out.b[static_cast<std::size_t>(c)] = static_cast<float>(root * v(c));
  }
  return out;
}

// The float weights OneBit stands for: sign(W) (.) a b^T.
inline matrix_f dequantize(const onebit_weights& w) {
  matrix_f out(w.q.rows(), w.q.cols());
  for (index_t r = 0; r < out.rows(); ++r)
    for (index_t c = 0; c < out.cols(); ++c)
      out(r, c) = static_cast<float>(w.q(r, c)) * w.a[static_cast<std::size_t>(r)] *
                  w.b[static_cast<std::size_t>(c)];
  return out;
}

}  // namespace bitlin
