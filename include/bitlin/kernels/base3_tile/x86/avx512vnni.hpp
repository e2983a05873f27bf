// AVX-512 VNNI path of the base3 tile: vpdpbusd on 512-bit registers of 16 rows x 4 k (a whole
// sub-tile). The body is the shared base3 kernel (x86/tile_kernel.inc); the digits come from two
// compares into masks (a masked move and a masked blend) straight into vpdpbusd; GEMM decodes each
// panel once to i2 tiles and runs the i2 tile's AVX-512 VNNI kernel on them.
// Overflow: each vpdpbusd adds four products c*x (|.| <= 1024) without saturation; the int32 lane
// holds sum_k c*x, |.| <= 256*K < 2^31 for K <= max_cols (i2_tile/x86/avx512vnni.hpp for the GEMM).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512vnni.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS avx512vnni_b3
#include "bitlin/kernels/x86/kx_avx512vnni.inc"
#define BITLIN_B3_I2NS avx512vnni_impl
#define BITLIN_B3_ADD8(a, b) _mm512_add_epi8(a, b)
#define BITLIN_B3_OR(a, b) _mm512_or_si512(a, b)
#define BITLIN_B3_SLLI16(v, imm) _mm512_slli_epi16(v, imm)
#define BITLIN_B3_DIGITS(v, k)                                                              \
  _mm512_mask_blend_epi8(_mm512_cmpgt_epi8_mask(v, (k).hi),                                 \
                         _mm512_maskz_mov_epi8(_mm512_cmpgt_epi8_mask(v, (k).lo), (k).one), \
                         (k).two)
#define BITLIN_B3_XOR(a, b) _mm512_xor_si512(a, b)
#define BITLIN_B3_STORE_UNIT(a, acc, g, u, t) avx512vnni_impl::store_group(a, acc, (g) + (u), t)
#include "bitlin/kernels/base3_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512vnni, base3_tile) {
  return make_kernel_entry<arch::avx512vnni>(&avx512vnni_b3::gemm);
}

}  // namespace kernels
}  // namespace bitlin
