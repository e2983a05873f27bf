// AArch64 NEON lookup-table GEMM: a table row (32 tokens) is four q registers, so one add serves
// 32 (i2) or 40 (base3) multiply-adds where one smlal serves 8 and one sdot 16. Method and
// bounds: kernels/lut_gemm/recipe.hpp. Four rows at a time (16 accumulators of the 32 registers).
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/lut_gemm/recipe.hpp"

namespace bitlin {
namespace kernels {
namespace lut_neon {

// dst[k * lut_tokens + i] = src[i * ld + k] for k, i < 16; rows i >= nrows are zero. Four rounds
// of zips (the unpacks of the x86 transpose), then sign extension.
inline void transpose16(const std::int8_t* src, index_t ld, int nrows, std::int16_t* dst) {
  constexpr index_t T = detail::lut_tokens;
  int8x16_t r[16];
  for (int i = 0; i < 16; ++i) r[i] = i < nrows ? vld1q_s8(src + i * ld) : vdupq_n_s8(0);
  int8x16_t s1[16];
  for (int p = 0; p < 8; ++p) {  // s1[2p + h]: rows 2p, 2p+1 interleaved, k = 8h .. 8h+7
    s1[2 * p] = vzip1q_s8(r[2 * p], r[2 * p + 1]);
    s1[2 * p + 1] = vzip2q_s8(r[2 * p], r[2 * p + 1]);
  }
  int16x8_t s2[16];
  for (int q = 0; q < 4; ++q)  // s2[4q + kq]: rows 4q .. 4q+3, k = 4kq .. 4kq+3
    for (int h = 0; h < 2; ++h) {
      const int16x8_t a = vreinterpretq_s16_s8(s1[4 * q + h]);
      const int16x8_t b = vreinterpretq_s16_s8(s1[4 * q + 2 + h]);
      s2[4 * q + 2 * h] = vzip1q_s16(a, b);
      s2[4 * q + 2 * h + 1] = vzip2q_s16(a, b);
    }
  int32x4_t s3[16];
  for (int o = 0; o < 2; ++o)  // s3[8o + kp]: rows 8o .. 8o+7, k = 2kp, 2kp+1
    for (int kq = 0; kq < 4; ++kq) {
      const int32x4_t a = vreinterpretq_s32_s16(s2[8 * o + kq]);
      const int32x4_t b = vreinterpretq_s32_s16(s2[8 * o + 4 + kq]);
      s3[8 * o + 2 * kq] = vzip1q_s32(a, b);
      s3[8 * o + 2 * kq + 1] = vzip2q_s32(a, b);
    }
  for (int kp = 0; kp < 8; ++kp)
    for (int odd = 0; odd < 2; ++odd) {
      const int64x2_t a = vreinterpretq_s64_s32(s3[kp]), b = vreinterpretq_s64_s32(s3[8 + kp]);
      const int8x16_t c = vreinterpretq_s8_s64(odd ? vzip2q_s64(a, b) : vzip1q_s64(a, b));
      std::int16_t* d = dst + (2 * kp + odd) * T;
      vst1q_s16(d, vmovl_s8(vget_low_s8(c)));
      vst1q_s16(d + 8, vmovl_high_s8(c));
    }
}

}  // namespace lut_neon

#define BITLIN_LUT_NS neon_lut
#define BITLIN_LUT_TARGET
#define BITLIN_LUT_VEC int16x8_t
#define BITLIN_LUT_RB 4
#define BITLIN_LUT_ZERO() vdupq_n_s16(0)
#define BITLIN_LUT_LOAD(p) vld1q_s16(reinterpret_cast<const std::int16_t*>(p))
#define BITLIN_LUT_STORE(p, v) vst1q_s16(reinterpret_cast<std::int16_t*>(p), v)
#define BITLIN_LUT_ADD16(a, b) vaddq_s16(a, b)
#define BITLIN_LUT_SUB16(a, b) vsubq_s16(a, b)
#define BITLIN_LUT_ADD32(a, b) \
  vreinterpretq_s16_s32(vaddq_s32(vreinterpretq_s32_s16(a), vreinterpretq_s32_s16(b)))
#define BITLIN_LUT_SLLI32(v, imm) vreinterpretq_s16_s32(vshlq_n_s32(vreinterpretq_s32_s16(v), imm))
#define BITLIN_LUT_SRAI32(v, imm) vreinterpretq_s16_s32(vshrq_n_s32(vreinterpretq_s32_s16(v), imm))
#define BITLIN_LUT_TRANSPOSE16 lut_neon::transpose16
#include "bitlin/kernels/lut_gemm/lut_kernel.inc"

inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::neon, i2_tile) {
  return make_kernel_entry<arch::neon>(&neon_lut::gemm<i2_tile>);
}
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::neon, base3_tile) {
  return make_kernel_entry<arch::neon>(&neon_lut::gemm<base3_tile>);
}

}  // namespace kernels
}  // namespace bitlin
