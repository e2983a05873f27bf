// AMX-INT8 path of the base3 tile: the shared tile engine (kernels/x86/amx_gemm.hpp) with the
// base3 tile's decode. Sub-tile u of a 256-byte tile holds five planes s of 16 rows x 4
// consecutive k (base3_tile/layout.hpp): decoded plane by plane (avx512vnni's digit extraction),
// plane s of sub-tile u is k quad 5u + s of the 80-k block, i.e. row 20b + 5u + s of the weight
// tiles. The digits are the codes c = t + 1 of the i2 tile, so the output stage is the i2 one.
// Segments of 10 chunks (160 quads) hold 8 whole blocks. Fewer than 16 tokens (GEMV included) run
// the avx512vnni base3 kernel, which decodes in registers. Overflow: |sum_k c*x| <= 256 * K.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/base3_tile/layout.hpp"
#include "bitlin/kernels/base3_tile/x86/avx512vnni.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/x86/amx_gemm.hpp"

#if defined(BITLIN_HAS_AMX_KERNEL)

namespace bitlin {
namespace kernels {
namespace amx {

struct base3_policy {
  static constexpr index_t tile_bytes = kernel_layout_traits<base3_tile>::tile_bytes;
  static constexpr index_t k_block = kernel_layout_traits<base3_tile>::k_block;
  static constexpr index_t quads_per_tile = 20;
  // Xeon, one thread, against the i2 tile's AMX kernel in the same program: 2560 x 6912 x 128
  // tokens 0.93-1.00 T MAC/s (i2 1.22-1.26), 6912 x 2560 x 512 1.06-1.16 (i2 1.14-1.21); 5 chunks
  // ran at 0.97-1.10, 15 (beyond L1) at 0.83-0.98. Decoding the panel to i2 tiles first (as the
  // other SIMD paths do) and unpacking those ran at 0.83-0.89.
  static constexpr index_t segment_chunks = 10;
  static constexpr int acc_shift = 0;
  BITLIN_TARGET_AVX512VNNI static void unpack(const std::uint8_t* tile, std::uint8_t* d) {
    const avx512vnni_b3::consts k = avx512vnni_b3::make_consts();
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      __m512i v = _mm512_load_si512(tile + 64 * u);
#pragma GCC unroll 5
      for (int s = 0; s < 5; ++s) {
        _mm512_store_si512(d + 64 * (5 * u + s), avx512vnni_b3::plane_digits(v, k));
        if (s < 4) v = avx512vnni_b3::next_plane(v);
      }
    }
  }
  static void rest(const detail::kernel_args& a, index_t g0, index_t g1, index_t t0, index_t t1) {
    avx512vnni_b3::gemm(a, g0, g1, t0, t1);
  }
};

}  // namespace amx

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512amx, base3_tile) {
  return make_kernel_entry<arch::avx512amx>(&amx::gemm<amx::base3_policy>, true);
}

}  // namespace kernels
}  // namespace bitlin

#endif  // BITLIN_HAS_AMX_KERNEL
