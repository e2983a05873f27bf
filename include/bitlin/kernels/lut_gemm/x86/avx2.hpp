// AVX2 lookup-table GEMM: a table row (32 tokens) is two ymm of 16 int16 lanes, so one vpaddw
// serves 64 (i2) or 80 (base3) multiply-adds where one vpmaddubsw serves 32. Method and bounds:
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

#define BITLIN_LUT_NS avx2_lut
#define BITLIN_LUT_TARGET __attribute__((target("avx2")))
#define BITLIN_LUT_VEC __m256i
#define BITLIN_LUT_RB 2
#define BITLIN_LUT_ZERO() _mm256_setzero_si256()
#define BITLIN_LUT_LOAD(p) _mm256_load_si256(reinterpret_cast<const __m256i*>(p))
#define BITLIN_LUT_STORE(p, v) _mm256_store_si256(reinterpret_cast<__m256i*>(p), v)
#define BITLIN_LUT_ADD16(a, b) _mm256_add_epi16(a, b)
#define BITLIN_LUT_SUB16(a, b) _mm256_sub_epi16(a, b)
#define BITLIN_LUT_ADD32(a, b) _mm256_add_epi32(a, b)
#define BITLIN_LUT_SLLI32(v, imm) _mm256_slli_epi32(v, imm)
#define BITLIN_LUT_SRAI32(v, imm) _mm256_srai_epi32(v, imm)
#define BITLIN_LUT_TRANSPOSE16 lut_x86::transpose16
#include "bitlin/kernels/lut_gemm/lut_kernel.inc"

inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx2, i2_tile) {
  return make_kernel_entry<arch::avx2>(&avx2_lut::gemm<i2_tile>);
}
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx2, base3_tile) {
  return make_kernel_entry<arch::avx2>(&avx2_lut::gemm<base3_tile>);
}

}  // namespace kernels
}  // namespace bitlin
