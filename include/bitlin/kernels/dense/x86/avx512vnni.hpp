// AVX-512 VNNI int8 head kernel: one vpdpbusd per row per 64 weights (unsigned activations x
// signed weights, four products summed into each int32 lane), masked tails.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dense/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/tuning.hpp"

#define BITLIN_TARGET_DENSE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace bitlin {
namespace kernels {
namespace dense_avx512vnni {

// Through memory: GCC 12 warns falsely (-Wmaybe-uninitialized) on the shuffle intrinsics.
BITLIN_TARGET_DENSE_VNNI inline std::int32_t hsum_epi32(__m512i v) {
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, v);
  std::int32_t s = 0;
  for (std::int32_t x : lanes) s += x;
  return s;
}

// One row at a time, in memory order (the weights one sequential stream; see the AVX2 kernel):
// on a Zen 4, int8 head 128256 x 2560, one thread, 21.7 / 18.1 / 19.2 GB/s against 11.7 / 10.8 /
// 11.5 for four rows per pass with the next four prefetched (three interleaved rounds).
BITLIN_TARGET_DENSE_VNNI inline void int8_rows(const std::int8_t* q, index_t k, index_t n0,
                                               index_t n1, const std::uint8_t* xu,
                                               std::int32_t* acc) {
  const index_t k128 = k / 128 * 128, kb = k / 64 * 64;
  const auto tail = static_cast<__mmask64>(k == kb ? 0 : (~0ull >> (64 - (k - kb))));
  const bool prefetch = software_prefetch_pays();
  for (index_t n = n0; n < n1; ++n) {
    const std::int8_t* w = q + n * k;
    const bool ahead = prefetch && n + 1 < n1;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0;
    index_t i = 0;
    for (; i < k128; i += 128) {
      if (ahead) {
        _mm_prefetch(reinterpret_cast<const char*>(w + k + i), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w + k + i + 64), _MM_HINT_T0);
      }
      a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(xu + i), _mm512_loadu_si512(w + i));
      a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(xu + i + 64), _mm512_loadu_si512(w + i + 64));
    }
    if (i < kb) a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(xu + i), _mm512_loadu_si512(w + i));
    if (tail)
      a1 = _mm512_dpbusd_epi32(a1, _mm512_maskz_loadu_epi8(tail, xu + kb),
                               _mm512_maskz_loadu_epi8(tail, w + kb));
    acc[n] = hsum_epi32(_mm512_add_epi32(a0, a1));
  }
}

}  // namespace dense_avx512vnni

inline kernel_entry<int8_rows_fn> int8_rows_kernel(arch::avx512vnni) {
  return make_kernel_entry<arch::avx512vnni>(&dense_avx512vnni::int8_rows);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DENSE_VNNI
