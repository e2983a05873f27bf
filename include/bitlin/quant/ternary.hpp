// Ternary weight quantization of BitNet b1.58: absmean (the published recipe and what Hugging Face
// checkpoints carry) and absmedian ("BitNet b1.58 Reloaded"). Both return the trits and the
// scale s per group with y = acc / (s_x * s), i.e. scale_convention::divide.
#pragma once

#include <algorithm>
#include <vector>

#include "bitlin/core/rounding.hpp"
#include "bitlin/quant/detail.hpp"

namespace bitlin {

// Below this group statistic the scale is capped (1 / 1e-5), exactly as the reference does, so an
// all-zero group quantizes to zeros with a finite scale.
inline constexpr float ternary_min_statistic = 1e-5f;

struct ternary_weights {
  matrix_i8 q;  // [out, in], values in {-1, 0, +1}
  weight_scales scales;
};

namespace detail {

// q = clamp(round_half_even(w * s), -1, 1) with s = 1 / max(statistic, 1e-5): the float32
// products match PyTorch's so that ties (w*s exactly +-0.5, +-1.5) land the same way. Written
// without the rounding, which only decides |p| <= 0.5 (the tie included: it rounds to the even 0)
// against saturation (1.5 rounds to 2, clamped to 1): branch-free, so the loop vectorizes (the
// training loop quantizes every weight each step).
inline std::int8_t ternary_code(float w, float s) {
  const float p = w * s;
  return static_cast<std::int8_t>(static_cast<int>(p > 0.5f) - static_cast<int>(p < -0.5f));
}

template <class Statistic>
ternary_weights quantize_ternary(const Eigen::Ref<const matrix_f>& W, scale_groups g,
                                 Statistic statistic, const char* what) {
  require_finite(W, what);
  ternary_weights out;
  out.q.resize(W.rows(), W.cols());
  out.scales.layout = scale_layout(W.rows(), W.cols(), g);
  out.scales.convention = scale_convention::divide;
  out.scales.values.assign(static_cast<std::size_t>(out.scales.layout.size()), 0.0f);
  for_each_group(out.scales.layout,
                 [&](index_t gi, index_t r0, index_t r1, index_t c0, index_t c1) {
                   const float stat = statistic(W, r0, r1, c0, c1);
                   const float s = 1.0f / std::max(stat, ternary_min_statistic);
                   out.scales.values[static_cast<std::size_t>(gi)] = s;
                   // Row pointers held in locals: int8 stores may alias anything, so element
                   // access through the matrices would reload them for every weight.
                   for (index_t r = r0; r < r1; ++r) {
                     const float* w = W.data() + r * W.outerStride() + c0;
                     std::int8_t* q = out.q.data() + r * out.q.cols() + c0;
                     const index_t n = c1 - c0;
                     for (index_t c = 0; c < n; ++c) q[c] = ternary_code(w[c], s);
                   }
                 });
  return out;
}

}  // namespace detail

// BitNet b1.58: s = 1 / max(mean|W|, 1e-5) per group, q = clamp(round(W * s), -1, 1).
inline ternary_weights absmean_ternary(const Eigen::Ref<const matrix_f>& W,
                                       scale_groups g = scale_groups::per_tensor()) {
  return detail::quantize_ternary(
      W, g,
      [](const Eigen::Ref<const matrix_f>& m, index_t r0, index_t r1, index_t c0, index_t c1) {
        const double n = static_cast<double>((r1 - r0) * (c1 - c0));
        if (n == 0) return 0.0f;
        return static_cast<float>(
            detail::group_sum(m, r0, r1, c0, c1, [](double v) { return std::fabs(v); }) / n);
      },
      "absmean_ternary");
}

// Absmedian variant: median|W| replaces the mean. For an even count the lower of the two middle
// values is used (torch.median's convention), so the statistic is always an element of |W|.
inline ternary_weights absmedian_ternary(const Eigen::Ref<const matrix_f>& W,
                                         scale_groups g = scale_groups::per_tensor()) {
  return detail::quantize_ternary(
      W, g,
      [](const Eigen::Ref<const matrix_f>& m, index_t r0, index_t r1, index_t c0, index_t c1) {
        std::vector<float> a;
        a.reserve(static_cast<std::size_t>((r1 - r0) * (c1 - c0)));
        for (index_t r = r0; r < r1; ++r)
          for (index_t c = c0; c < c1; ++c) a.push_back(std::fabs(m(r, c)));
        if (a.empty()) return 0.0f;
        const auto mid = a.begin() + static_cast<std::ptrdiff_t>((a.size() - 1) / 2);
        std::nth_element(a.begin(), mid, a.end());
        return *mid;
      },
      "absmedian_ternary");
}

// W ~= q / s, for inspection and for building float master weights from quantized ones.
inline matrix_f dequantize(const ternary_weights& w) {
  matrix_f out(w.q.rows(), w.q.cols());
  const auto& L = w.scales.layout;
  for (index_t r = 0; r < out.rows(); ++r)
    for (index_t c = 0; c < out.cols(); ++c) {
      const float s = w.scales.values[static_cast<std::size_t>(L.index(r, c))];
      out(r, c) = w.scales.convention == scale_convention::divide ? w.q(r, c) / s : w.q(r, c) * s;
    }
  return out;
}

}  // namespace bitlin
