// AVX-512BW path: vpmaddubsw + vpmaddwd on 512-bit registers of 16 rows x 4 k (a whole b1
// tile plane).
// The body is the shared b1 tile kernel (b1_tile/x86/tile_kernel.inc).
// Overflow: vpmaddubsw pairs of bit * x lie in [-256, 254]; vpmaddwd with ones adds two into
// int32; bound of the accumulator in b1_tile/x86/tile_kernel.inc.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS b1_avx512bw_impl
#define BITLIN_KX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#define BITLIN_KX_VEC __m512i
#define BITLIN_KX_ROWS 16
#define BITLIN_KX_MU 4
#define BITLIN_KX_NT 6
#define BITLIN_KX_GEMV_MU 4
#define BITLIN_KX_GEMV_ACC 1
#define BITLIN_KX_LOAD(p) _mm512_load_si512(p)
#define BITLIN_KX_ZERO() _mm512_setzero_si512()
#define BITLIN_KX_SET1_8(v) _mm512_set1_epi8(static_cast<char>(v))
#define BITLIN_KX_SET1_32(v) _mm512_set1_epi32(v)
#define BITLIN_KX_AND(a, b) _mm512_and_si512(a, b)
#define BITLIN_KX_SRLI16(v, imm) _mm512_srli_epi16(v, imm)
#define BITLIN_KX_ADD32(a, b) _mm512_add_epi32(a, b)
#define BITLIN_KX_SUB32(a, b) _mm512_sub_epi32(a, b)
#define BITLIN_KX_STORE(p, v) _mm512_storeu_si512(p, v)
#define BITLIN_KX_DOT(acc, w, x) \
  _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(w, x), _mm512_set1_epi16(1)))
#define BITLIN_KX_VECF __m512
#define BITLIN_KX_CVT_PS(v) _mm512_maskz_cvtepi32_ps(0xFFFF, v)
#define BITLIN_KX_SET1_PS(v) _mm512_set1_ps(v)
#define BITLIN_KX_LOADU_PS(p) _mm512_loadu_ps(p)
#define BITLIN_KX_STOREU_PS(p, v) _mm512_storeu_ps(p, v)
#define BITLIN_KX_DIV_PS(a, b) _mm512_div_ps(a, b)
#define BITLIN_KX_MUL_PS(a, b) _mm512_mul_ps(a, b)
#define BITLIN_KX_ADD_PS(a, b) _mm512_add_ps(a, b)
#define BITLIN_KX_FCONSTRAINT(f) "+v"(f)
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512bw, b1_tile) {
  return make_kernel_entry<arch::avx512bw>(&b1_avx512bw_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
