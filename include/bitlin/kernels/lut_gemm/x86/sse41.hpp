// SSE4.1 lookup-table GEMM: a table row (32 tokens) is four xmm, so one paddw serves 32 (i2) or
// 40 (base3) multiply-adds where one pmaddubsw serves 16. Method and bounds:
// kernels/lut_gemm/recipe.hpp.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/lut_gemm/recipe.hpp"
#include "bitlin/kernels/lut_gemm/x86/transpose.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_LUT_NS sse41_lut
#define BITLIN_LUT_TARGET __attribute__((target("sse4.1")))
#define BITLIN_LUT_VEC __m128i
#define BITLIN_LUT_RB 2
#define BITLIN_LUT_ZERO() _mm_setzero_si128()
#define BITLIN_LUT_LOAD(p) _mm_load_si128(reinterpret_cast<const __m128i*>(p))
#define BITLIN_LUT_STORE(p, v) _mm_store_si128(reinterpret_cast<__m128i*>(p), v)
#define BITLIN_LUT_ADD16(a, b) _mm_add_epi16(a, b)
#define BITLIN_LUT_SUB16(a, b) _mm_sub_epi16(a, b)
#define BITLIN_LUT_ADD32(a, b) _mm_add_epi32(a, b)
#define BITLIN_LUT_SLLI32(v, imm) _mm_slli_epi32(v, imm)
#define BITLIN_LUT_SRAI32(v, imm) _mm_srai_epi32(v, imm)
#define BITLIN_LUT_TRANSPOSE16 lut_x86::transpose16
#include "bitlin/kernels/lut_gemm/lut_kernel.inc"

inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::sse41, i2_tile) {
  return make_kernel_entry<arch::sse41>(&sse41_lut::gemm<i2_tile>);
}
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::sse41, base3_tile) {
  return make_kernel_entry<arch::sse41>(&sse41_lut::gemm<base3_tile>);
}

}  // namespace kernels
}  // namespace bitlin
