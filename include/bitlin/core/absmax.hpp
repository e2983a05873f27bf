// The per-token absmax quantization of one row, the definition every activation-quantizer kernel
// reproduces bit for bit: s = (2^(b-1) - 1) / max(max|x|, 1e-5), q = clamp(round half to
// even(x * s), -2^(b-1), 2^(b-1) - 1). It lives in core/ because both the quantizers
// (quant/activation.hpp, which builds the matrix forms on it) and the kernels
// (kernels/act_quant/) depend on it, and neither may depend on the other.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bitlin/core/error.hpp"
#include "bitlin/core/rounding.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {

inline constexpr float activation_min_absmax = 1e-5f;

namespace detail {
inline std::int8_t absmax_code(float x, float s, float lo, float hi) {
  const float r = round_half_even(x * s);
  return static_cast<std::int8_t>(r < lo ? lo : (r > hi ? hi : r));
}
}  // namespace detail

// One row, no allocation: the building block for models that quantize token by token. Returns s.
inline float absmax_quantize_row(const float* x, index_t k, std::int8_t* q, int bits = 8) {
  BITLIN_REQUIRE(bits >= 2 && bits <= 8, value_error,
                 "absmax_quantize_row: bits must be in [2, 8], got ", bits);
  float mx = 0.0f;
  for (index_t i = 0; i < k; ++i) {
    BITLIN_REQUIRE(std::isfinite(x[i]), value_error, "absmax_quantize_row: element ", i, " is ",
                   x[i], "; activations must be finite");
    mx = std::max(mx, std::fabs(x[i]));
  }
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  const float s = qmax / std::max(mx, activation_min_absmax);
  for (index_t i = 0; i < k; ++i) q[i] = detail::absmax_code(x[i], s, -qmax - 1.0f, qmax);
  return s;
}

}  // namespace bitlin
