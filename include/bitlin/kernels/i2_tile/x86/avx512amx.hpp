// AMX-INT8 path of the i2 tile: the shared tile engine (kernels/x86/amx_gemm.hpp) with the i2
// tile's unpack. Shifted right by 2s and masked with 3, a 64-byte tile is 16 rows x 4 consecutive
// k of codes c = t + 1 (i2_tile/layout.hpp): row 4b + s of the weight tile of the 64-k chunk that
// holds block b. Overflow: as every i2 path, |sum_k c*x| <= 256 * K < 2^31 (amx_gemm.hpp).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512vnni.hpp"
#include "bitlin/kernels/x86/amx_gemm.hpp"

#if defined(BITLIN_HAS_AMX_KERNEL)

namespace bitlin {
namespace kernels {
namespace amx {

struct i2_policy {
  static constexpr index_t tile_bytes = kernel_layout_traits<i2_tile>::tile_bytes;
  static constexpr index_t k_block = kernel_layout_traits<i2_tile>::k_block;
  static constexpr index_t quads_per_tile = 4;
  // The unpacked weights of two row groups (16 KiB) and the activations of two token tiles (16
  // KiB) stay in L1 while each tile serves its two tdpbsud. On a Xeon (one thread, 2560 x 6912 x
  // 128 tokens) segments of 8 chunks ran at 1.18 T MAC/s, of 4 or 16 at 0.85-1.16, of 64
  // (operands from L2) at 0.91.
  static constexpr index_t segment_chunks = 8;
  static constexpr int acc_shift = 0;
  BITLIN_TARGET_AVX512VNNI static void unpack(const std::uint8_t* tile, std::uint8_t* d) {
    const __m512i mask3 = _mm512_set1_epi8(3);
    const __m512i raw = _mm512_load_si512(tile);
    _mm512_store_si512(d, _mm512_and_si512(raw, mask3));
    _mm512_store_si512(d + 64, _mm512_and_si512(_mm512_srli_epi16(raw, 2), mask3));
    _mm512_store_si512(d + 128, _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask3));
    _mm512_store_si512(d + 192, _mm512_and_si512(_mm512_srli_epi16(raw, 6), mask3));
  }
  static void rest(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0, index_t t1) {
    avx512vnni_impl::gemm(a, g0, g1, t0, t1);
  }
};

}  // namespace amx

// Token-major: a token block's activations stay in L2 while the panels pass (Xeon, one thread,
// 2560 x 6912 x 512 tokens: 0.74 T MAC/s panel-major, 1.09 token-major; 128 tokens, one block,
// either).
inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512amx, i2_tile) {
  return make_kernel_entry<arch::avx512amx>(&amx::gemm<amx::i2_policy>, true);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AMX_KERNEL
