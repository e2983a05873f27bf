// AMX-INT8 path of the b1 tile: the shared tile engine (kernels/x86/amx_gemm.hpp) with the b1
// tile's unpack. Shifted right by s and masked with 1, a 64-byte tile is 16 rows x 4 consecutive
// k of bits (b1_tile/layout.hpp): row 8b + s of the weight tile of the 64-k chunk that holds block
// b (two blocks per chunk). The engine's sum_k bit*x is doubled before avx512vnni's output stage
// subtracts xsum: 2 * acc - xsum = sum_k w*x, as on every b1 path. Overflow: |acc| <= 128 * K.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/b1_tile/layout.hpp"
#include "bitlin/kernels/b1_tile/x86/avx512vnni.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/x86/amx_gemm.hpp"

#if defined(BITLIN_HAS_AMX_KERNEL)

namespace bitlin {
namespace kernels {
namespace amx {

struct b1_policy {
  static constexpr index_t tile_bytes = kernel_layout_traits<b1_tile>::tile_bytes;
  static constexpr index_t k_block = kernel_layout_traits<b1_tile>::k_block;
  static constexpr index_t quads_per_tile = 8;
  static constexpr index_t segment_chunks = 8;  // as the i2 tile's
  static constexpr int acc_shift = 1;
  BITLIN_TARGET_AVX512VNNI static void unpack(const std::uint8_t* tile, std::uint8_t* d) {
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i raw = _mm512_load_si512(tile);
    _mm512_store_si512(d, _mm512_and_si512(raw, one));
#pragma GCC unroll 8
    for (int s = 1; s < 8; ++s)
      _mm512_store_si512(d + 64 * s, _mm512_and_si512(_mm512_srli_epi16(raw, s), one));
  }
  static void rest(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0, index_t t1) {
    b1_avx512vnni_impl::gemm(a, g0, g1, t0, t1);
  }
};

}  // namespace amx

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512amx, b1_tile) {
  return make_kernel_entry<arch::avx512amx>(&amx::gemm<amx::b1_policy>, true);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AMX_KERNEL
