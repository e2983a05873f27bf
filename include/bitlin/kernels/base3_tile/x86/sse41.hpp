// SSE4.1 path of the base3 tile: 128-bit registers of 4 rows x 4 k. The body is the shared base3
// kernel (x86/tile_kernel.inc): GEMV decodes in registers (two signed compares, an add and an abs
// per plane, two byte additions to the next plane) into pmaddubsw, summed in int16 over a block;
// GEMM decodes each panel once to i2 tiles and runs the i2 tile's SSE4.1 kernel on them.
// Overflow: see tile_kernel.inc (int16 block sums |.| <= 10240; int32 |sum_k c*x| <= 256*K < 2^31
// for K <= max_cols) and i2_tile/x86/sse41.hpp for the GEMM.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/x86/sse41.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS sse41_b3
#include "bitlin/kernels/x86/kx_sse41.inc"
#define BITLIN_B3_I2NS sse41_impl
#define BITLIN_B3_ADD8(a, b) _mm_add_epi8(a, b)
#define BITLIN_B3_OR(a, b) _mm_or_si128(a, b)
#define BITLIN_B3_SLLI16(v, imm) _mm_slli_epi16(v, imm)
#define BITLIN_B3_DIGITS(v, k) \
  _mm_abs_epi8(_mm_add_epi8(_mm_cmpgt_epi8(v, (k).lo), _mm_cmpgt_epi8(v, (k).hi)))
#define BITLIN_B3_STORE_UNIT(a, acc, g, u, t) sse41_impl::store_unit(a, acc, g, u, t)
#include "bitlin/kernels/base3_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::sse41, base3_tile) {
  return make_kernel_entry<arch::sse41>(&sse41_b3::gemm);
}

}  // namespace kernels
}  // namespace bitlin
