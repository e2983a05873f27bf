// Classic affine (scale + zero point) 8-bit quantization, for the parts of a network that stay
// outside BitLinear (an 8-bit head, KV caches, interop with int8 runtimes):
//   q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax),  x ~= (q - zero_point) * scale.
// Symmetric: zero_point is the middle of the integer range (0 for int8, 128 for uint8) and
// scale = max|x| / 127. Asymmetric min-max: the range is widened to include 0 (so that 0 is exact,
// which zero padding relies on), scale = (max - min) / 255 and zero_point = round(qmin -
// min/scale).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "bitlin/core/rounding.hpp"
#include "bitlin/quant/detail.hpp"

namespace bitlin {

struct affine_params {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

template <class T>
affine_params affine_params_from_range(float min, float max, bool symmetric) {
  static_assert(std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t>,
                "affine quantization targets int8 or uint8");
  BITLIN_REQUIRE(std::isfinite(min) && std::isfinite(max), value_error,
                 "affine_params_from_range: range [", min, ", ", max, "] is not finite");
  BITLIN_REQUIRE(min <= max, value_error, "affine_params_from_range: min ", min, " > max ", max);
  constexpr std::int32_t qmin = std::numeric_limits<T>::min();
  constexpr std::int32_t qmax = std::numeric_limits<T>::max();
  affine_params p;
  if (symmetric) {
    const float absmax = std::max(std::fabs(min), std::fabs(max));
    p.scale = absmax > 0.0f ? absmax / 127.0f : 1.0f;
    p.zero_point = (qmin + qmax + 1) / 2;
    return p;
  }
  const float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  if (hi == lo) {  // all zeros: any scale represents them; put 0 on the zero point
    p.zero_point = qmin < 0 ? 0 : qmin;
    return p;
  }
  p.scale = (hi - lo) / static_cast<float>(qmax - qmin);
  const float zp = round_half_even(static_cast<float>(qmin) - lo / p.scale);
  p.zero_point = static_cast<std::int32_t>(std::min<float>(std::max<float>(zp, qmin), qmax));
  return p;
}

template <class T, class Derived>
affine_params affine_params_minmax(const Eigen::MatrixBase<Derived>& X, bool symmetric) {
  detail::require_finite(X, "affine_params_minmax");
  if (X.size() == 0) return affine_params_from_range<T>(0.0f, 0.0f, symmetric);
  return affine_params_from_range<T>(X.minCoeff(), X.maxCoeff(), symmetric);
}

template <class T>
row_matrix<T> affine_quantize(const Eigen::Ref<const matrix_f>& X, const affine_params& p) {
  BITLIN_REQUIRE(std::isfinite(p.scale) && p.scale > 0.0f, value_error,
                 "affine_quantize: scale must be finite and positive, got ", p.scale);
  detail::require_finite(X, "affine_quantize");
  constexpr float qmin = std::numeric_limits<T>::min();
  constexpr float qmax = std::numeric_limits<T>::max();
  row_matrix<T> q(X.rows(), X.cols());
  for (index_t r = 0; r < X.rows(); ++r)
    for (index_t c = 0; c < X.cols(); ++c) {
      // Clamp before adding the zero point so huge |x| cannot overflow the float -> int conversion.
      float v = round_half_even(X(r, c) / p.scale);
      v = std::min(std::max(v, qmin - 256.0f), qmax + 256.0f) + static_cast<float>(p.zero_point);
      q(r, c) = static_cast<T>(std::min(std::max(v, qmin), qmax));
    }
  return q;
}

template <class T>
matrix_f affine_dequantize(const Eigen::Ref<const row_matrix<T>>& q, const affine_params& p) {
  matrix_f x(q.rows(), q.cols());
  for (index_t r = 0; r < q.rows(); ++r)
    for (index_t c = 0; c < q.cols(); ++c)
      x(r, c) = static_cast<float>(static_cast<std::int32_t>(q(r, c)) - p.zero_point) * p.scale;
  return x;
}

}  // namespace bitlin
