// AVX-VNNI path: the VEX vpdpbusd on 256-bit registers of 8 rows x 4 k (half a b1 tile).
// The body is the shared b1 tile kernel (b1_tile/x86/tile_kernel.inc).
// Overflow: each vpdpbusd adds four products bit * x, at most 512 in magnitude, without
// saturation; bound of the accumulator in b1_tile/x86/tile_kernel.inc.
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_AVX_VNNI_KERNEL)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/tuning.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS b1_avx_vnni_impl
#include "bitlin/kernels/x86/kx_avx_vnni.inc"
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx_vnni, b1_tile) {
  return make_kernel_entry<arch::avx_vnni>(&b1_avx_vnni_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AVX_VNNI_KERNEL
