// Rotary position embedding (the default, unscaled form transformers uses for BitNet).
#pragma once

#include <cmath>

#include "bitlin/core/types.hpp"
#include "bitlin/model/config.hpp"

namespace bitlin::model {

// cos/sin of the default rotary embedding for a run of consecutive positions, [tokens, head_dim/2].
// Computed as transformers does in float32: inv_freq = 1 / theta^(2i/d), angle = position *
// inv_freq.
struct rope_angles {
  matrix_f cos, sin;
  rope_angles() = default;
  rope_angles(const bitnet_config& c, index_t pos0, index_t tokens) { compute(c, pos0, tokens); }
  // Refills the angles (reusing the storage when the shape is unchanged).
  void compute(const bitnet_config& c, index_t pos0, index_t tokens) {
    const index_t half = c.head_dim / 2;
    cos.resize(tokens, half);
    sin.resize(tokens, half);
    for (index_t i = 0; i < half; ++i) {
      const float expo = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
      const auto inv_freq =
          static_cast<float>(1.0 / std::pow(c.rope_theta, static_cast<double>(expo)));
      for (index_t t = 0; t < tokens; ++t) {
        const float angle = static_cast<float>(pos0 + t) * inv_freq;
        cos(t, i) = static_cast<float>(std::cos(static_cast<double>(angle)));
        sin(t, i) = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
    }
  }
  // Rotate-half convention: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin) over the two halves.
  void apply(float* x, index_t t) const {
    const index_t half = cos.cols();
    for (index_t i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half], c = cos(t, i), s = sin(t, i);
      x[i] = a * c - b * s;
      x[i + half] = b * c + a * s;
    }
  }
};

}  // namespace bitlin::model
