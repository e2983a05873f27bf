// AVX-512BW lookup-table GEMM: a table row (32 tokens) is one zmm, so one vpaddw serves 128 (i2)
// or 160 (base3) multiply-adds where one vpmaddubsw serves 64. Method and bounds:
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

#define BITLIN_LUT_NS avx512bw_lut
#define BITLIN_LUT_TARGET __attribute__((target("avx512f,avx512bw")))
#define BITLIN_LUT_VEC __m512i
#define BITLIN_LUT_RB 4
#define BITLIN_LUT_ZERO() _mm512_setzero_si512()
#define BITLIN_LUT_LOAD(p) _mm512_load_si512(reinterpret_cast<const __m512i*>(p))
#define BITLIN_LUT_STORE(p, v) _mm512_store_si512(reinterpret_cast<__m512i*>(p), v)
#define BITLIN_LUT_ADD16(a, b) _mm512_add_epi16(a, b)
#define BITLIN_LUT_SUB16(a, b) _mm512_sub_epi16(a, b)
#define BITLIN_LUT_ADD32(a, b) _mm512_add_epi32(a, b)
// The maskz forms: GCC 12 warns (maybe-uninitialized) on the plain ones.
#define BITLIN_LUT_SLLI32(v, imm) _mm512_maskz_slli_epi32(0xFFFF, v, imm)
#define BITLIN_LUT_SRAI32(v, imm) _mm512_maskz_srai_epi32(0xFFFF, v, imm)
#define BITLIN_LUT_TRANSPOSE16 lut_x86::transpose16
#include "bitlin/kernels/lut_gemm/lut_kernel.inc"

inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx512bw, i2_tile) {
  return make_kernel_entry<arch::avx512bw>(&avx512bw_lut::gemm<i2_tile>);
}
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx512bw, base3_tile) {
  return make_kernel_entry<arch::avx512bw>(&avx512bw_lut::gemm<base3_tile>);
}

}  // namespace kernels
}  // namespace bitlin
