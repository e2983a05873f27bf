// AVX-512 VNNI int8 head kernel: one vpdpbusd per row per 64 weights (unsigned activations x
// signed weights, four products summed into each int32 lane), four rows per pass sharing each
// 64-byte activation load, masked tails.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dense/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"

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

BITLIN_TARGET_DENSE_VNNI inline void int8_rows(const std::int8_t* q, index_t k, index_t n0,
                                               index_t n1, const std::uint8_t* xu,
                                               std::int32_t* acc) {
  const index_t kb = k / 64 * 64;
  const auto tail = static_cast<__mmask64>(k == kb ? 0 : (~0ull >> (64 - (k - kb))));
  index_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    const std::int8_t* w = q + n * k;
    // The next four rows' lines at the offsets read now (see the AVX2 kernel: short row streams
    // that start anew every pass).
    const std::int8_t* next = w + 4 * k;
    const bool ahead = n + 8 <= n1;
    for (index_t i = 0; i < kb; i += 64) {
      if (ahead)
        for (int r = 0; r < 4; ++r)
          _mm_prefetch(reinterpret_cast<const char*>(next + r * k + i), _MM_HINT_T0);
      const __m512i x = _mm512_loadu_si512(xu + i);
      a0 = _mm512_dpbusd_epi32(a0, x, _mm512_loadu_si512(w + i));
      a1 = _mm512_dpbusd_epi32(a1, x, _mm512_loadu_si512(w + k + i));
      a2 = _mm512_dpbusd_epi32(a2, x, _mm512_loadu_si512(w + 2 * k + i));
      a3 = _mm512_dpbusd_epi32(a3, x, _mm512_loadu_si512(w + 3 * k + i));
    }
    if (tail) {
      const __m512i x = _mm512_maskz_loadu_epi8(tail, xu + kb);
      a0 = _mm512_dpbusd_epi32(a0, x, _mm512_maskz_loadu_epi8(tail, w + kb));
      a1 = _mm512_dpbusd_epi32(a1, x, _mm512_maskz_loadu_epi8(tail, w + k + kb));
      a2 = _mm512_dpbusd_epi32(a2, x, _mm512_maskz_loadu_epi8(tail, w + 2 * k + kb));
      a3 = _mm512_dpbusd_epi32(a3, x, _mm512_maskz_loadu_epi8(tail, w + 3 * k + kb));
    }
    acc[n] = hsum_epi32(a0);
    acc[n + 1] = hsum_epi32(a1);
    acc[n + 2] = hsum_epi32(a2);
    acc[n + 3] = hsum_epi32(a3);
  }
  for (; n < n1; ++n) {
    __m512i a0 = _mm512_setzero_si512();
    const std::int8_t* w = q + n * k;
    for (index_t i = 0; i < kb; i += 64)
      a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(xu + i), _mm512_loadu_si512(w + i));
    if (tail)
      a0 = _mm512_dpbusd_epi32(a0, _mm512_maskz_loadu_epi8(tail, xu + kb),
                               _mm512_maskz_loadu_epi8(tail, w + kb));
    acc[n] = hsum_epi32(a0);
  }
}

}  // namespace dense_avx512vnni

inline kernel_entry<int8_rows_fn> int8_rows_kernel(arch::avx512vnni) {
  return make_kernel_entry<arch::avx512vnni>(&dense_avx512vnni::int8_rows);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DENSE_VNNI
