// 1-bit activations (XNOR-Net, FBI-LLM style binary x binary layers): q = sign(x) with
// sign(0) = -1 (as sign_binary does for weights), and per group (per token by default) the scale
// s = 1 / max(mean|x|, 1e-5), so that x ~= q / s in the same convention as absmax_quantize and the
// shared epilogue and reference (reference_bitlinear_matmul) apply unchanged. The result is an
// ordinary quantized_activations with bits = 1.
#pragma once

#include <algorithm>
#include <vector>

#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/detail.hpp"

namespace bitlin {

inline quantized_activations sign_quantize(const Eigen::Ref<const matrix_f>& X,
                                           scale_groups g = scale_groups::per_row()) {
  detail::require_finite(X, "sign_quantize");
  quantized_activations out;
  out.bits = 1;
  out.q.resize(X.rows(), X.cols());
  out.layout = scale_layout(X.rows(), X.cols(), g);
  out.scales.assign(static_cast<std::size_t>(out.layout.size()), 0.0f);
  detail::for_each_group(out.layout, [&](index_t gi, index_t r0, index_t r1, index_t c0,
                                         index_t c1) {
    const double n = static_cast<double>((r1 - r0) * (c1 - c0));
    const float mean_abs =
        n == 0
            ? 0.0f
            : static_cast<float>(
                  detail::group_sum(X, r0, r1, c0, c1, [](double v) { return std::fabs(v); }) / n);
    out.scales[static_cast<std::size_t>(gi)] = 1.0f / std::max(mean_abs, activation_min_absmax);
    for (index_t r = r0; r < r1; ++r)
      for (index_t c = c0; c < c1; ++c) out.q(r, c) = X(r, c) > 0.0f ? 1 : -1;
  });
  return out;
}

}  // namespace bitlin
