// AVX2 path: vpmaddubsw + vpmaddwd on 256-bit registers of 8 rows x 4 k (half a b1 tile).
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

#define BITLIN_KX_NS b1_avx2_impl
#define BITLIN_KX_TARGET __attribute__((target("avx2")))
#define BITLIN_KX_VEC __m256i
#define BITLIN_KX_ROWS 8
#define BITLIN_KX_MU 2
#define BITLIN_KX_NT 4
#define BITLIN_KX_GEMV_MU 4
#define BITLIN_KX_GEMV_ACC 1
#define BITLIN_KX_LOAD(p) _mm256_load_si256(reinterpret_cast<const __m256i*>(p))
#define BITLIN_KX_ZERO() _mm256_setzero_si256()
#define BITLIN_KX_SET1_8(v) _mm256_set1_epi8(static_cast<char>(v))
#define BITLIN_KX_SET1_32(v) _mm256_set1_epi32(v)
#define BITLIN_KX_AND(a, b) _mm256_and_si256(a, b)
#define BITLIN_KX_SRLI16(v, imm) _mm256_srli_epi16(v, imm)
#define BITLIN_KX_ADD32(a, b) _mm256_add_epi32(a, b)
#define BITLIN_KX_SUB32(a, b) _mm256_sub_epi32(a, b)
#define BITLIN_KX_STORE(p, v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v)
#define BITLIN_KX_DOT(acc, w, x) \
  _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)))
#define BITLIN_KX_VECF __m256
#define BITLIN_KX_CVT_PS(v) _mm256_cvtepi32_ps(v)
#define BITLIN_KX_SET1_PS(v) _mm256_set1_ps(v)
#define BITLIN_KX_LOADU_PS(p) _mm256_loadu_ps(p)
#define BITLIN_KX_STOREU_PS(p, v) _mm256_storeu_ps(p, v)
#define BITLIN_KX_DIV_PS(a, b) _mm256_div_ps(a, b)
#define BITLIN_KX_MUL_PS(a, b) _mm256_mul_ps(a, b)
#define BITLIN_KX_ADD_PS(a, b) _mm256_add_ps(a, b)
#define BITLIN_KX_FCONSTRAINT(f) "+x"(f)
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx2, b1_tile) {
  return make_kernel_entry<arch::avx2>(&b1_avx2_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
