// AVX-512BW path: vpmaddubsw on 512-bit registers of 16 rows x 4 k (a whole b1
// tile plane).
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

#define BITLIN_KX_NS b1_avx512bw_impl
#include "bitlin/kernels/x86/kx_avx512bw.inc"
#include "bitlin/kernels/b1_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512bw, b1_tile) {
  return make_kernel_entry<arch::avx512bw>(&b1_avx512bw_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
