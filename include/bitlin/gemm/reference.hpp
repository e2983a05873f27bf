// The oracle: plain loops that define what every fast path must reproduce bit for bit. Kept
// deliberately simple; speed is the business of the driver (gemm/driver.hpp) and the kernels.
//
// Overflow bound: activations are int8 (|x| <= 128) and weights ternary or binary (|w| <= 1), so
// every partial sum satisfies |sum| <= 128 * K. With K <= 16'777'215 = 2^24 - 1 that is at most
// 2^31 - 128 < 2^31 - 1, so int32 accumulation is exact; larger K is rejected, not wrapped.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin {

inline constexpr index_t max_exact_k = (index_t{1} << 24) - 1;

// Y[t, n] = sum_k X[t, k] * W[n, k] for t < tokens, n < n_out, k < k_len.
inline void reference_gemm(const std::int8_t* X, index_t ldx, const std::int8_t* W, index_t ldw,
                           std::int32_t* Y, index_t ldy, index_t tokens, index_t n_out,
                           index_t k_len) {
  BITLIN_REQUIRE(tokens >= 0 && n_out >= 0 && k_len >= 0, shape_error,
                 "reference_gemm: negative extent (tokens ", tokens, ", n ", n_out, ", k ", k_len,
                 ")");
  BITLIN_REQUIRE(k_len <= max_exact_k, shape_error, "reference_gemm: K = ", k_len, " exceeds ",
                 max_exact_k, ", beyond which int32 accumulation could overflow");
  BITLIN_REQUIRE(ldx >= k_len && ldw >= k_len && ldy >= n_out, shape_error,
                 "reference_gemm: leading dimensions (ldx ", ldx, ", ldw ", ldw, ", ldy ", ldy,
                 ") smaller than the rows they hold");
  for (index_t t = 0; t < tokens; ++t)
    for (index_t n = 0; n < n_out; ++n) {
      std::int32_t acc = 0;
      const std::int8_t* x = X + t * ldx;
      const std::int8_t* w = W + n * ldw;
      for (index_t k = 0; k < k_len; ++k) acc += static_cast<std::int32_t>(x[k]) * w[k];
      Y[t * ldy + n] = acc;
    }
}

inline matrix_i32 reference_gemm(const Eigen::Ref<const matrix_i8>& X,
                                 const Eigen::Ref<const matrix_i8>& W) {
  BITLIN_REQUIRE(X.cols() == W.cols(), shape_error,
                 "reference_gemm: activations have K = ", X.cols(),
                 " but weights have K = ", W.cols());
  matrix_i32 Y(X.rows(), W.rows());
  reference_gemm(X.data(), X.outerStride(), W.data(), W.outerStride(), Y.data(), Y.outerStride(),
                 X.rows(), W.rows(), X.cols());
  return Y;
}

// The BitLinear epilogue, for every scale granularity. K is cut into segments on which both the
// activation scale and the weight scale are constant (a single segment unless either is blocked
// along K); each segment's exact integer sum is rescaled as the reference framework does:
//   divide:   y += Y_seg / (s_x * s_w)        (Hugging Face "bitlinear")
//   multiply: y += Y_seg / s_x * s_w          ("autobitlinear", BitNet b1's beta)
// segments accumulate in float in K order, then bias[n] is added.
inline matrix_f reference_bitlinear_matmul(const quantized_activations& x,
                                           const Eigen::Ref<const matrix_i8>& wq,
                                           const weight_scales& ws, const float* bias = nullptr) {
  const index_t tokens = x.q.rows(), n_out = wq.rows(), k_len = wq.cols();
  BITLIN_REQUIRE(x.q.cols() == k_len, shape_error,
                 "reference_bitlinear_matmul: activations have K = ", x.q.cols(),
                 " but weights have K = ", k_len);
  BITLIN_REQUIRE(x.layout.rows == tokens && x.layout.cols == k_len &&
                     static_cast<index_t>(x.scales.size()) == x.layout.size(),
                 shape_error, "reference_bitlinear_matmul: activation scales do not fit ", tokens,
                 " x ", k_len);
  ws.validate(n_out, k_len, "reference_bitlinear_matmul");

  std::vector<index_t> cuts{0, k_len};
  for (index_t step : {x.layout.group_cols, ws.layout.group_cols})
    for (index_t k = step; k < k_len; k += step) cuts.push_back(k);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  matrix_f y = matrix_f::Zero(tokens, n_out);
  std::int32_t acc = 0;
  for (std::size_t s = 0; s + 1 < cuts.size(); ++s) {
    const index_t k0 = cuts[s], k1 = cuts[s + 1];
    for (index_t t = 0; t < tokens; ++t)
      for (index_t n = 0; n < n_out; ++n) {
        reference_gemm(x.q.row(t).data() + k0, k1 - k0, wq.row(n).data() + k0, k1 - k0, &acc, 1, 1,
                       1, k1 - k0);
        const float sx = x.scales[static_cast<std::size_t>(x.layout.index(t, k0))];
        const float sw = ws.values[static_cast<std::size_t>(ws.layout.index(n, k0))];
        const float a = static_cast<float>(acc);
        y(t, n) += ws.convention == scale_convention::divide ? a / (sx * sw) : a / sx * sw;
      }
  }
  if (bias)
    for (index_t t = 0; t < tokens; ++t)
      for (index_t n = 0; n < n_out; ++n) y(t, n) += bias[n];
  return y;
}

}  // namespace bitlin
