// AMX-INT8 path of the base3 tile: as on the other SIMD paths, GEMM decodes each panel once to i2
// tiles (avx512vnni's decode) and runs the i2 tile's kernel on them, here the AMX one
// (i2_tile/x86/avx512amx.hpp); fewer than 16 tokens (GEMV included) run the avx512vnni base3
// kernel, which decodes in registers. Overflow: that of the i2 tiles (|sum_k c*x| <= 256 * K).
#pragma once

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/panel.hpp"
#include "bitlin/kernels/base3_tile/x86/avx512vnni.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512amx.hpp"

#if defined(BITLIN_HAS_AMX_KERNEL)

namespace bitlin {
namespace kernels {
namespace amx {

inline void base3_gemm(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0,
                       index_t t1) {
  if (t1 - t0 < tile_tokens) {
    avx512vnni_b3::gemm(a, g0, g1, t0, t1);
    return;
  }
  std::uint8_t* tiles = detail::base3_panel_scratch((g1 - g0) * a.k_blocks * 5 * 64);
  avx512vnni_b3::decode_panel(a, g0, g1, tiles);
  gemm<i2_policy>(detail::base3_panel_args(a, g0, tiles), 0, g1 - g0, t0, t1);
}

}  // namespace amx

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512amx, base3_tile) {
  return make_kernel_entry<arch::avx512amx>(&amx::base3_gemm, true);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AMX_KERNEL
