// AVX2 path: vpmaddubsw on 256-bit registers of 8 rows x 4 k (half a b1 tile).
// The body is the shared b1 tile kernel (b1_tile/x86/tile_kernel.inc).
// Overflow: vpmaddubsw pairs of bit * x lie in [-256, 254], summed in int16 partials over chunks
// of K blocks and widened into int32 by vpmaddwd with ones; the chunk length and the bound of the
// accumulator are in b1_tile/x86/tile_kernel.inc.
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

#define BITLIN_KX_NS b1_avx2_impl
#include "bitlin/kernels/x86/kx_avx2.inc"
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx2, b1_tile) {
  return make_kernel_entry<arch::avx2>(&b1_avx2_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
