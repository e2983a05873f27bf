// The normalizations that precede activation quantization in BitLinear (BitNet b1 uses LayerNorm,
// b1.58 and the Hugging Face model RMSNorm). RMSNorm runs on the row-op kernels of the active ISA
// (kernels/rowops/: the sum of squares in double in a fixed order of sixteen partial sums, the
// same bits on every path; the scaling in float32), matching PyTorch's float32 forward to within
// rounding of the statistic. Rows are split over the executor's threads.
#pragma once

#include <algorithm>
#include <cmath>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/rowops/kernels.hpp"

namespace bitlin {

namespace detail {
BITLIN_KERNEL_TABLE(sum_squares_kernel_of, sum_squares_fn, kernels::sum_squares_kernel(tag))
BITLIN_KERNEL_TABLE(rms_scale_kernel_of, rms_scale_fn, kernels::rms_scale_kernel(tag))

// The two halves of RMSNorm, apart so that a row split over several processes (tensor
// parallelism) runs the same arithmetic: the sum of squares of a run of values, in double
// (kernels/rowops/scalar.hpp defines the order); and the scaling of a run by
// 1 / sqrt(ss / count + eps), count = the whole row's length.
inline double sum_squares(const float* x, index_t k, isa path = active_isa()) {
  return sum_squares_kernel_of(path).fn(x, k);
}
inline void rms_scale(const float* x, index_t k, double ss, index_t count, const float* weight,
                      float eps, float* y, isa path = active_isa()) {
  const float mean_sq = count > 0 ? static_cast<float>(ss / static_cast<double>(count)) : 0.0f;
  const float inv = 1.0f / std::sqrt(mean_sq + eps);
  rms_scale_kernel_of(path).fn(x, k, inv, weight, y);
}
}  // namespace detail

// The ISA whose row-op kernels (RMSNorm) run for path i.
inline isa rowops_kernel_path(isa i) {
  return detail::sum_squares_kernel_of(i).path;
}

// Y[r] = weight * X[r] / sqrt(mean(X[r]^2) + eps); weight may be null (all ones). X and Y may
// alias. With `block` > 0 the sum of squares is taken per run of `block` columns and the runs'
// sums are added in order (from 0): what P processes holding `block` columns each compute
// (distributed/sharded_bitnet.hpp); block 0 (or >= the row length) is the plain row sum.
inline void rms_norm(const Eigen::Ref<const matrix_f>& X, const float* weight, float eps,
                     Eigen::Ref<matrix_f> Y, index_t block = 0, const executor& ex = serial()) {
  BITLIN_REQUIRE(X.rows() == Y.rows() && X.cols() == Y.cols(), shape_error, "rms_norm: input is ",
                 X.rows(), " x ", X.cols(), " but output is ", Y.rows(), " x ", Y.cols());
  BITLIN_REQUIRE(eps >= 0.0f && std::isfinite(eps), value_error, "rms_norm: eps must be >= 0");
  BITLIN_REQUIRE(block >= 0, value_error, "rms_norm: block = ", block, " is negative");
  const index_t k = X.cols();
  const isa path = active_isa();
  ex.parallel_for(X.rows(), 8, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const float* x = X.data() + r * X.outerStride();
      double ss = 0.0;
      if (block == 0 || block >= k) {
        ss = detail::sum_squares(x, k, path);
      } else {
        for (index_t c = 0; c < k; c += block)
          ss += detail::sum_squares(x + c, std::min(block, k - c), path);
      }
      detail::rms_scale(x, k, ss, k, weight, eps, Y.data() + r * Y.outerStride(), path);
    }
  });
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
