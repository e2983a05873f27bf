// The normalizations that precede activation quantization in BitLinear (BitNet b1 uses LayerNorm,
// b1.58 and the Hugging Face model RMSNorm). Statistics accumulate in double; the scaling itself is
// float32, matching PyTorch's float32 forward to within rounding of the statistic.
#pragma once

#include <cmath>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {

// Y[r] = weight * X[r] / sqrt(mean(X[r]^2) + eps); weight may be null (all ones). X and Y may
// alias.
inline void rms_norm(const Eigen::Ref<const matrix_f>& X, const float* weight, float eps,
                     Eigen::Ref<matrix_f> Y) {
  BITLIN_REQUIRE(X.rows() == Y.rows() && X.cols() == Y.cols(), shape_error, "rms_norm: input is ",
                 X.rows(), " x ", X.cols(), " but output is ", Y.rows(), " x ", Y.cols());
  BITLIN_REQUIRE(eps >= 0.0f && std::isfinite(eps), value_error, "rms_norm: eps must be >= 0");
  const index_t k = X.cols();
  for (index_t r = 0; r < X.rows(); ++r) {
    double ss = 0.0;
    for (index_t c = 0; c < k; ++c) ss += static_cast<double>(X(r, c)) * X(r, c);
    const float mean_sq = k > 0 ? static_cast<float>(ss / static_cast<double>(k)) : 0.0f;
    const float inv = 1.0f / std::sqrt(mean_sq + eps);
    for (index_t c = 0; c < k; ++c) {
      const float v = X(r, c) * inv;
      Y(r, c) = weight ? weight[c] * v : v;
    }
  }
}

// Y[r] = gamma * (X[r] - mean) / sqrt(var + eps) + beta, biased variance; gamma, beta nullable.
inline void layer_norm(const Eigen::Ref<const matrix_f>& X, const float* gamma, const float* beta,
                       float eps, Eigen::Ref<matrix_f> Y) {
  BITLIN_REQUIRE(X.rows() == Y.rows() && X.cols() == Y.cols(), shape_error, "layer_norm: input is ",
                 X.rows(), " x ", X.cols(), " but output is ", Y.rows(), " x ", Y.cols());
  BITLIN_REQUIRE(eps >= 0.0f && std::isfinite(eps), value_error, "layer_norm: eps must be >= 0");
  const index_t k = X.cols();
  for (index_t r = 0; r < X.rows(); ++r) {
    if (k == 0) continue;
    double s = 0.0;
    for (index_t c = 0; c < k; ++c) s += X(r, c);
    const double mean = s / static_cast<double>(k);
    double v = 0.0;
    for (index_t c = 0; c < k; ++c) v += (X(r, c) - mean) * (X(r, c) - mean);
    const float inv = 1.0f / std::sqrt(static_cast<float>(v / static_cast<double>(k)) + eps);
    const float m = static_cast<float>(mean);
    for (index_t c = 0; c < k; ++c) {
      float y = (X(r, c) - m) * inv;
      if (gamma) y *= gamma[c];
      if (beta) y += beta[c];
      Y(r, c) = y;
    }
  }
}

}  // namespace bitlin
