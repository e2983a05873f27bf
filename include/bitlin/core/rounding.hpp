// Round half to even, independent of the floating-point environment. PyTorch's round() and
// therefore every BitNet checkpoint use it; std::nearbyint would follow whatever rounding mode the
// host program set, which a library must not depend on.
#pragma once

#include <cmath>

namespace bitlin {

inline float round_half_even(float x) noexcept {
  // For |x| >= 2^23 every float is already an integer (and NaN/Inf pass through unchanged).
  if (!(std::fabs(x) < 8388608.0f)) return x;
  const float f = std::floor(x);
  const float diff =
      x - f;  // exact: x and f are within 1 of each other and share an exponent range
  if (diff > 0.5f) return f + 1.0f;
  if (diff < 0.5f) return f;
  return std::fmod(f, 2.0f) == 0.0f ? f : f + 1.0f;
}

}  // namespace bitlin
