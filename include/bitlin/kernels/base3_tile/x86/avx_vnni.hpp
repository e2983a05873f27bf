// AVX-VNNI path of the base3 tile: the VEX-encoded vpdpbusd on 256-bit registers of 8 rows x 4 k.
// The body is the shared base3 kernel (x86/tile_kernel.inc): GEMV decodes in registers (two
// signed compares, an add and an abs per plane, two byte additions to the next plane) straight
// into vpdpbusd; GEMM decodes each panel once to i2 tiles and runs the i2 tile's AVX-VNNI kernel.
// Overflow: each vpdpbusd adds four products c*x (|.| <= 1024) without saturation; the int32 lane
// holds sum_k c*x, |.| <= 256*K < 2^31 for K <= max_cols (i2_tile/x86/avx_vnni.hpp for the GEMM).
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_AVX_VNNI_KERNEL)

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/x86/avx_vnni.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS avx_vnni_b3
#include "bitlin/kernels/x86/kx_avx_vnni.inc"
#define BITLIN_B3_I2NS avx_vnni_impl
#define BITLIN_B3_ADD8(a, b) _mm256_add_epi8(a, b)
#define BITLIN_B3_OR(a, b) _mm256_or_si256(a, b)
#define BITLIN_B3_SLLI16(v, imm) _mm256_slli_epi16(v, imm)
#define BITLIN_B3_DIGITS(v, k) \
  _mm256_abs_epi8(_mm256_add_epi8(_mm256_cmpgt_epi8(v, (k).lo), _mm256_cmpgt_epi8(v, (k).hi)))
#define BITLIN_B3_XOR(a, b) _mm256_xor_si256(a, b)
#define BITLIN_B3_STORE_UNIT(a, acc, g, u, t) avx_vnni_impl::store_unit(a, acc, g, u, t)
#include "bitlin/kernels/base3_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx_vnni, base3_tile) {
  return make_kernel_entry<arch::avx_vnni>(&avx_vnni_b3::gemm);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AVX_VNNI_KERNEL
