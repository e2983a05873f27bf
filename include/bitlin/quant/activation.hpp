// Activation quantizers. Three related but different definitions circulate; each has its own name
// here so that nobody mixes them up:
//
//  absmax_quantize      what Hugging Face transformers and bitnet.cpp run (BitNet b1.58 and most
//                       checkpoints): Q = 2^(b-1) - 1, s = Q / max(max|x|, 1e-5),
//                       q = clamp(round_half_even(x * s), -2^(b-1), 2^(b-1) - 1), integer output.
//                       Dequantize: x ~= q / s.
//  absmax_quantize_b1   the BitNet b1 paper's formula: Q_b = 2^(b-1), gamma = max|x|,
//                       x~ = Clip(x * Q_b / gamma, -Q_b + eps, Q_b - eps); real-valued output (the
//                       paper does not round; with eps < 0.5 rounding would reach +-Q_b, which does
//                       not fit b bits, so this form is kept in float for training-side use).
//  absmax_quantize_b1_relu  the paper's pre-nonlinearity form: eta = min(x),
//                       x~ = Clip((x - eta) * Q_b / gamma, eps, Q_b - eps), a non-negative range.
//
// Granularity: per token (row, the default), per tensor, or per group along K, via scale_groups.
// Every function rejects NaN/Inf input with value_error: a single NaN would otherwise silently
// poison the scale of a whole token.
#pragma once

#include <limits>
#include <vector>

#include "bitlin/core/absmax.hpp"
#include "bitlin/core/rounding.hpp"
#include "bitlin/quant/detail.hpp"

namespace bitlin {

struct quantized_activations {
  matrix_i8 q;                // [tokens, k]
  std::vector<float> scales;  // per group of `layout`; x ~= q / s
  scale_layout layout;
  int bits = 8;
};

inline quantized_activations absmax_quantize(const Eigen::Ref<const matrix_f>& X, int bits = 8,
                                             scale_groups g = scale_groups::per_row()) {
  detail::require_bits(bits, "absmax_quantize");
  detail::require_finite(X, "absmax_quantize");
  quantized_activations out;
  out.bits = bits;
  out.q.resize(X.rows(), X.cols());
  out.layout = scale_layout(X.rows(), X.cols(), g);
  out.scales.assign(static_cast<std::size_t>(out.layout.size()), 0.0f);
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  detail::for_each_group(
      out.layout, [&](index_t gi, index_t r0, index_t r1, index_t c0, index_t c1) {
        const float s =
            qmax / std::max(detail::group_abs_max(X, r0, r1, c0, c1), activation_min_absmax);
        out.scales[static_cast<std::size_t>(gi)] = s;
        for (index_t r = r0; r < r1; ++r)
          for (index_t c = c0; c < c1; ++c)
            out.q(r, c) = detail::absmax_code(X(r, c), s, -qmax - 1.0f, qmax);
      });
  return out;
}

inline matrix_f dequantize(const quantized_activations& a) {
  matrix_f out(a.q.rows(), a.q.cols());
  for (index_t r = 0; r < out.rows(); ++r)
    for (index_t c = 0; c < out.cols(); ++c)
      out(r, c) = a.q(r, c) / a.scales[static_cast<std::size_t>(a.layout.index(r, c))];
  return out;
}

// The BitNet b1 paper's real-valued forms (see the header comment).
struct b1_quantized_activations {
  matrix_f values;           // x~, in (-Q_b, Q_b) or (0, Q_b)
  std::vector<float> gamma;  // per group: max|x| (floored at 1e-5 so that zero input stays finite)
  std::vector<float> eta;    // per group: min(x) for the pre-nonlinearity form, else empty
  scale_layout layout;
  int bits = 8;
};

namespace detail {
inline b1_quantized_activations absmax_b1(const Eigen::Ref<const matrix_f>& X, int bits, float eps,
                                          scale_groups g, bool shift_by_min, const char* what) {
  require_bits(bits, what);
  require_finite(X, what);
  BITLIN_REQUIRE(eps >= 0.0f && eps < 1.0f, value_error, what, ": eps must be in [0, 1), got ",
                 eps);
  b1_quantized_activations out;
  out.bits = bits;
  out.values.resize(X.rows(), X.cols());
  out.layout = scale_layout(X.rows(), X.cols(), g);
  const auto n = static_cast<std::size_t>(out.layout.size());
  out.gamma.assign(n, 0.0f);
  if (shift_by_min) out.eta.assign(n, 0.0f);
  const float Qb = static_cast<float>(1 << (bits - 1));
  for_each_group(out.layout, [&](index_t gi, index_t r0, index_t r1, index_t c0, index_t c1) {
    const float gamma = std::max(group_abs_max(X, r0, r1, c0, c1), activation_min_absmax);
    float eta = 0.0f;
    if (shift_by_min) {
      eta = std::numeric_limits<float>::infinity();
      for (index_t r = r0; r < r1; ++r)
        for (index_t c = c0; c < c1; ++c) eta = std::min(eta, X(r, c));
      if (r0 == r1 || c0 == c1) eta = 0.0f;
      out.eta[static_cast<std::size_t>(gi)] = eta;
    }
    out.gamma[static_cast<std::size_t>(gi)] = gamma;
    const float lo = shift_by_min ? eps : -Qb + eps;
    const float hi = Qb - eps;
    for (index_t r = r0; r < r1; ++r)
      for (index_t c = c0; c < c1; ++c) {
        const float v = (X(r, c) - eta) * Qb / gamma;
        out.values(r, c) = v < lo ? lo : (v > hi ? hi : v);
      }
  });
  return out;
}
}  // namespace detail

inline b1_quantized_activations absmax_quantize_b1(const Eigen::Ref<const matrix_f>& X,
                                                   int bits = 8, float eps = 1e-5f,
                                                   scale_groups g = scale_groups::per_tensor()) {
  return detail::absmax_b1(X, bits, eps, g, false, "absmax_quantize_b1");
}

inline b1_quantized_activations absmax_quantize_b1_relu(
    const Eigen::Ref<const matrix_f>& X, int bits = 8, float eps = 1e-5f,
    scale_groups g = scale_groups::per_tensor()) {
  return detail::absmax_b1(X, bits, eps, g, true, "absmax_quantize_b1_relu");
}

}  // namespace bitlin
