// AVX-512BW path (AVX-512 without VNNI, e.g. Skylake-X): vpmaddubsw on 512-bit
// registers of 16 rows x 4 k (a whole i2 tile). The body is the shared tile kernel
// (i2_tile/x86/tile_kernel.inc).
// Overflow: vpmaddubsw multiplies unsigned codes c in {0,1,2} by signed x in [-128,127] and adds
// adjacent pairs into int16 ([-512, 508]); those are summed in int16 partials over chunks of K
// blocks short enough to stay inside int16 (the bounds and chunk lengths are in
// i2_tile/x86/tile_kernel.inc), then widened by vpmaddwd with ones into the int32 accumulator.
// That holds sum_k c*x, bounded by 256*K <= 256*(2^23-1) < 2^31 (ternary_gemm_weights::max_cols;
// 2^28 for K = 2^20), and the result acc - xsum = sum_k t*x is exact.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/tuning.hpp"

namespace bitlin {
namespace kernels {

#define BITLIN_KX_NS avx512bw_impl
#include "bitlin/kernels/x86/kx_avx512bw.inc"
#include "bitlin/kernels/i2_tile/x86/tile_kernel.inc"

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512bw, i2_tile) {
  return make_kernel_entry<arch::avx512bw>(&avx512bw_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
