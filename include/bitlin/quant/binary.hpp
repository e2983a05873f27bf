// Binary weight quantization of BitNet b1: centre by alpha = mean(W), binarize with sign(W - alpha)
// (sign(0) = -1, so every weight is +-1 and one bit suffices), and keep beta = mean|W| to restore
// the magnitude: y = acc / s_x * beta, i.e. scale_convention::multiply. Per group, alpha and beta
// are the group's own (the paper's group quantization for tensor-parallel shards).
#pragma once

#include <vector>

#include "bitlin/quant/detail.hpp"

namespace bitlin {

struct binary_weights {
  matrix_i8 q;               // [out, in], values in {-1, +1}
  std::vector<float> alpha;  // per group: mean(W)
  weight_scales scales;      // per group: beta = mean|W|, convention multiply
};

inline binary_weights sign_binary(const Eigen::Ref<const matrix_f>& W,
                                  scale_groups g = scale_groups::per_tensor()) {
  detail::require_finite(W, "sign_binary");
  binary_weights out;
  out.q.resize(W.rows(), W.cols());
  out.scales.layout = scale_layout(W.rows(), W.cols(), g);
  out.scales.convention = scale_convention::multiply;
  const auto groups = static_cast<std::size_t>(out.scales.layout.size());
  out.alpha.assign(groups, 0.0f);
  out.scales.values.assign(groups, 0.0f);
  detail::for_each_group(out.scales.layout, [&](index_t gi, index_t r0, index_t r1, index_t c0,
                                                index_t c1) {
    const double n = static_cast<double>((r1 - r0) * (c1 - c0));
    const float alpha =
        n == 0 ? 0.0f
               : static_cast<float>(
                     detail::group_sum(W, r0, r1, c0, c1, [](double v) { return v; }) / n);
    const float beta =
        n == 0
            ? 0.0f
            : static_cast<float>(
                  detail::group_sum(W, r0, r1, c0, c1, [](double v) { return std::fabs(v); }) / n);
    out.alpha[static_cast<std::size_t>(gi)] = alpha;
    // An all-zero group gets beta = 0, so its contribution is exactly zero.
    out.scales.values[static_cast<std::size_t>(gi)] = beta;
    for (index_t r = r0; r < r1; ++r)
      for (index_t c = c0; c < c1; ++c) out.q(r, c) = (W(r, c) - alpha) > 0.0f ? 1 : -1;
  });
  return out;
}

// W ~= alpha + q * beta is not what the layer computes (alpha only centres); the layer's effective
// weight is q * beta, which is what this returns.
inline matrix_f dequantize(const binary_weights& w) {
  matrix_f out(w.q.rows(), w.q.cols());
  const auto& L = w.scales.layout;
  for (index_t r = 0; r < out.rows(); ++r)
    for (index_t c = 0; c < out.cols(); ++c)
      out(r, c) = w.q(r, c) * w.scales.values[static_cast<std::size_t>(L.index(r, c))];
  return out;
}

}  // namespace bitlin
