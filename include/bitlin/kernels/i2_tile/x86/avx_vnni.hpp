// AVX-VNNI path: the VEX-encoded vpdpbusd on 256-bit registers of 8 rows x 4 k (half an i2
// tile). The body is the shared tile kernel (i2_tile/x86/tile_kernel.inc).
// Overflow: each vpdpbusd adds four products c*x (c in {0,1,2}, x in [-128,127]), at most 1024 in
// magnitude, without saturation; the int32 lane holds sum_k c*x, |.| <= 256*K <= 256*(2^23-1)
// < 2^31 (ternary_gemm_weights::max_cols; 2^28 for K = 2^20), and acc - xsum = sum_k t*x is exact.
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_AVX_VNNI_KERNEL)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/tuning.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS avx_vnni_impl
#include "bitlin/kernels/x86/kx_avx_vnni.inc"
#include "bitlin/kernels/i2_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx_vnni, i2_tile) {
  return make_kernel_entry<arch::avx_vnni>(&avx_vnni_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AVX_VNNI_KERNEL
