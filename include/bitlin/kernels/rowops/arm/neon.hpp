// AArch64 NEON row ops (kernels/rowops/scalar.hpp defines them): the sixteen partial sums of
// squares are eight registers of two doubles (partials 2m, 2m+1 in register m), folded in the
// defined order; the last partial block is copied into a zero-filled one (+0.0 squares add
// nothing). The elementwise ops end in the scalar loop (the same single-precision products).
#pragma once

#include <arm_neon.h>

#include <algorithm>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/rowops/scalar.hpp"

namespace bitlin {
namespace kernels {
namespace rowops_neon {

inline void add_squares16(const float* x, float64x2_t* p) {
  for (int j = 0; j < 4; ++j) {
    const float32x4_t v = vld1q_f32(x + 4 * j);
    const float64x2_t a = vcvt_f64_f32(vget_low_f32(v)), b = vcvt_high_f64_f32(v);
    p[2 * j] = vaddq_f64(p[2 * j], vmulq_f64(a, a));
    p[2 * j + 1] = vaddq_f64(p[2 * j + 1], vmulq_f64(b, b));
  }
}

inline double sum_squares(const float* x, index_t k) {
  float64x2_t p[8];
  for (auto& v : p) v = vdupq_n_f64(0.0);
  index_t i = 0;
  for (; i + 16 <= k; i += 16) add_squares16(x + i, p);
  if (i < k) {
    float last[16] = {};
    std::copy(x + i, x + k, last);
    add_squares16(last, p);
  }
  float64x2_t q[4];  // q[m] = (q_2m, q_2m+1) = partials 2m, 2m+1 plus partials 2m+8, 2m+9
  for (int m = 0; m < 4; ++m) q[m] = vaddq_f64(p[m], p[m + 4]);
  // (q0+q4, q1+q5) + (q2+q6, q3+q7), then its two lanes
  const float64x2_t t = vaddq_f64(vaddq_f64(q[0], q[2]), vaddq_f64(q[1], q[3]));
  return vgetq_lane_f64(t, 0) + vgetq_lane_f64(t, 1);
}

inline void rms_scale(const float* x, index_t k, float inv, const float* weight, float* y) {
  const float32x4_t s = vdupq_n_f32(inv);
  index_t i = 0;
  for (; i + 4 <= k; i += 4) {
    float32x4_t v = vmulq_f32(vld1q_f32(x + i), s);
    if (weight) v = vmulq_f32(vld1q_f32(weight + i), v);
    vst1q_f32(y + i, v);
  }
  rms_scale_scalar(x + i, k - i, inv, weight ? weight + i : nullptr, y + i);
}

inline void relu2_mul(const float* g, const float* u, index_t n, float* a) {
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t gv = vld1q_f32(g + i);
    const float32x4_t r = vreinterpretq_f32_u32(
        vandq_u32(vcgtq_f32(gv, vdupq_n_f32(0.0f)), vreinterpretq_u32_f32(gv)));
    vst1q_f32(a + i, vmulq_f32(vmulq_f32(r, r), vld1q_f32(u + i)));
  }
  relu2_mul_scalar(g + i, u + i, n - i, a + i);
}

}  // namespace rowops_neon

inline kernel_entry<sum_squares_fn> sum_squares_kernel(arch::neon) {
  return make_kernel_entry<arch::neon>(&rowops_neon::sum_squares);
}
inline kernel_entry<rms_scale_fn> rms_scale_kernel(arch::neon) {
  return make_kernel_entry<arch::neon>(&rowops_neon::rms_scale);
}
inline kernel_entry<relu2_mul_fn> relu2_mul_kernel(arch::neon) {
  return make_kernel_entry<arch::neon>(&rowops_neon::relu2_mul);
}

}  // namespace kernels
}  // namespace bitlin
