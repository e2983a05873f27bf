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
#include "bitlin/kernels/tuning.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS b1_sse41_impl
#include "bitlin/kernels/x86/kx_sse41.inc"
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::sse41, b1_tile) {
  return make_kernel_entry<arch::sse41>(&b1_sse41_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
