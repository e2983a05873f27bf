// SSE4.1 path (pmaddubsw is SSSE3): 128-bit registers of 4 rows x 4 k, a quarter of a b1 tile.
// The body is the shared b1 tile kernel (b1_tile/x86/tile_kernel.inc).
// Overflow: pmaddubsw multiplies bits {0,1} by x in [-128,127] and adds pairs: [-256, 254];
// pmaddwd with ones adds two into int32; bound of the accumulator in b1_tile/x86/tile_kernel.inc.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS b1_sse41_impl
#define BITLIN_KX_TARGET __attribute__((target("sse4.1")))
#define BITLIN_KX_VEC __m128i
#define BITLIN_KX_ROWS 4
#define BITLIN_KX_MU 4
#define BITLIN_KX_NT 2
#define BITLIN_KX_GEMV_MU 8
#define BITLIN_KX_GEMV_ACC 1
#define BITLIN_KX_LOAD(p) _mm_load_si128(reinterpret_cast<const __m128i*>(p))
#define BITLIN_KX_ZERO() _mm_setzero_si128()
#define BITLIN_KX_SET1_8(v) _mm_set1_epi8(static_cast<char>(v))
#define BITLIN_KX_SET1_32(v) _mm_set1_epi32(v)
#define BITLIN_KX_AND(a, b) _mm_and_si128(a, b)
#define BITLIN_KX_SRLI16(v, imm) _mm_srli_epi16(v, imm)
#define BITLIN_KX_ADD32(a, b) _mm_add_epi32(a, b)
#define BITLIN_KX_SUB32(a, b) _mm_sub_epi32(a, b)
#define BITLIN_KX_STORE(p, v) _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v)
#define BITLIN_KX_DOT(acc, w, x) \
  _mm_add_epi32(acc, _mm_madd_epi16(_mm_maddubs_epi16(w, x), _mm_set1_epi16(1)))
#define BITLIN_KX_VECF __m128
#define BITLIN_KX_CVT_PS(v) _mm_cvtepi32_ps(v)
#define BITLIN_KX_SET1_PS(v) _mm_set1_ps(v)
#define BITLIN_KX_LOADU_PS(p) _mm_loadu_ps(p)
#define BITLIN_KX_STOREU_PS(p, v) _mm_storeu_ps(p, v)
#define BITLIN_KX_DIV_PS(a, b) _mm_div_ps(a, b)
#define BITLIN_KX_MUL_PS(a, b) _mm_mul_ps(a, b)
#define BITLIN_KX_ADD_PS(a, b) _mm_add_ps(a, b)
#define BITLIN_KX_FCONSTRAINT(f) "+x"(f)
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::sse41, b1_tile) {
  return make_kernel_entry<arch::sse41>(&b1_sse41_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
