// The float row ops around the ternary products: RMSNorm's two halves (the sum of squares and the
// scaling) and the feed-forward's relu(gate)^2 * up. This file defines them, in the portable
// kernels; every ISA's kernel produces the same bits:
//   sum_squares: sum of x[i]^2 in double in sixteen interleaved partial sums (partial j holds the
//     i with i % 16 == j, each from +0 in order of i), folded as q_j = p_j + p_(j+8) and then
//     ((q0 + q4) + (q2 + q6)) + ((q1 + q5) + (q3 + q7)): the order that two 8-wide, four 4-wide or
//     eight 2-wide double registers compute. Each square is exact in double (a float has 24
//     significant bits), so a fused multiply-add gives the same sums.
//   rms_scale: y[i] = x[i] * inv, times weight[i] when weight is not null (two float products).
//   relu2_mul: a[i] = (r * r) * u[i] with r = g[i] if g[i] > 0 else +0 (NaN gives +0).
#pragma once

#include "bitlin/config/arch.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {

using sum_squares_fn = double (*)(const float* x, index_t k);
using rms_scale_fn = void (*)(const float* x, index_t k, float inv, const float* weight, float* y);
using relu2_mul_fn = void (*)(const float* g, const float* u, index_t n, float* a);

namespace kernels {

constexpr int sum_squares_partials = 16;

// The fold of the sixteen partials (the definition above).
inline double fold_partials(const double* p) {
  double q[8];
  for (int j = 0; j < 8; ++j) q[j] = p[j] + p[j + 8];
  return ((q[0] + q[4]) + (q[2] + q[6])) + ((q[1] + q[5]) + (q[3] + q[7]));
}

inline double sum_squares_scalar(const float* x, index_t k) {
  double p[sum_squares_partials] = {};
  for (index_t i = 0; i < k; ++i) {
    const double v = x[i];
    p[i % sum_squares_partials] += v * v;
  }
  return fold_partials(p);
}

inline void rms_scale_scalar(const float* x, index_t k, float inv, const float* weight, float* y) {
  for (index_t i = 0; i < k; ++i) {
    const float v = x[i] * inv;
    y[i] = weight ? weight[i] * v : v;
  }
}

inline void relu2_mul_scalar(const float* g, const float* u, index_t n, float* a) {
  for (index_t i = 0; i < n; ++i) {
    const float r = g[i] > 0.0f ? g[i] : 0.0f;
    a[i] = (r * r) * u[i];
  }
}

inline kernel_entry<sum_squares_fn> sum_squares_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&sum_squares_scalar);
}
inline kernel_entry<rms_scale_fn> rms_scale_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&rms_scale_scalar);
}
inline kernel_entry<relu2_mul_fn> relu2_mul_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&relu2_mul_scalar);
}

}  // namespace kernels
}  // namespace bitlin
