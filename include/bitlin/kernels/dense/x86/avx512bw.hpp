// AVX-512 F/BW/VL dense kernels: the RB rows x TB tokens blocking of the AVX2 kernels on 16 lanes,
// masked tails, and for BF16 rows (the decode-critical case) a widening that needs no cross-lane
// work: a 64-byte load holds 32 BF16 values; shifting each 32-bit lane left by 16 yields the
// even-indexed ones as floats and masking the low half yields the odd ones. The activations are
// de-interleaved to match once per product (`prepare`).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dense/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/tuning.hpp"

#define BITLIN_TARGET_DENSE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace bitlin {
namespace kernels {
namespace dense_avx512 {

// The masked (maskz) forms with a full mask avoid GCC 12's false -Wuninitialized on the unmasked
// intrinsics' undefined operand.
BITLIN_TARGET_DENSE_AVX512 inline __m512 widen_bf16(__m256i h) {
  const auto all = static_cast<__mmask16>(0xFFFF);
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, h), 16));
}
BITLIN_TARGET_DENSE_AVX512 inline __m512 load16(const float* w, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, w);
}
BITLIN_TARGET_DENSE_AVX512 inline __m512 load16(const std::uint16_t* w, __mmask16 m) {
  return widen_bf16(_mm256_maskz_loadu_epi16(m, w));
}
BITLIN_TARGET_DENSE_AVX512 inline __m512 load16(const float* w) {
  return _mm512_loadu_ps(w);
}
BITLIN_TARGET_DENSE_AVX512 inline __m512 load16(const std::uint16_t* w) {
  return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}
// Through memory: GCC 12 warns falsely (-Wmaybe-uninitialized) on the lane-shuffle intrinsics,
// and once per output the cost does not matter.
BITLIN_TARGET_DENSE_AVX512 inline float hsum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float s = 0.0f;
  for (int i = 0; i < 8; ++i) s += lanes[i] + lanes[i + 8];
  return s;
}

template <int RB, int TB, class T>
BITLIN_TARGET_DENSE_AVX512 void block(const T* W, index_t k, index_t n, const float* X, index_t ldx,
                                      float* Y, index_t ldy) {
  __m512 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_setzero_ps();
  index_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm512_loadu_ps(X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m512 w = load16(W + (n + r) * k + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  if (i < k) {
    const auto m = static_cast<__mmask16>((1u << (k - i)) - 1u);
    __m512 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm512_maskz_loadu_ps(m, X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m512 w = load16(W + (n + r) * k + i, m);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) Y[t * ldy + n + r] = hsum(acc[r][t]);
}

template <class T>
BITLIN_TARGET_DENSE_AVX512 void rows(const T* W, index_t k, index_t n0, index_t n1, const float* X,
                                     index_t tokens, index_t ldx, float* Y, index_t ldy) {
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2) block<2, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) block<1, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
  for (; t < tokens; ++t) {
    index_t n = n0;
    for (; n + 4 <= n1; n += 4) block<4, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) block<1, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
}

template <int RB, int TB>
BITLIN_TARGET_DENSE_AVX512 void block_bf16(const std::uint16_t* W, index_t k, index_t blocks,
                                           index_t n, const float* Xd, index_t ldd, float* Y,
                                           index_t ldy, bool prefetch) {
  __m512 acc_e[RB][TB], acc_o[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc_e[r][t] = acc_o[r][t] = _mm512_setzero_ps();
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const auto all = static_cast<__mmask16>(0xFFFF);  // maskz forms: see widen_bf16
  for (index_t b = 0; b < blocks; ++b) {
    __m512 xe[TB], xo[TB];
    for (int t = 0; t < TB; ++t) {
      xe[t] = _mm512_loadu_ps(Xd + t * ldd + 32 * b);
      xo[t] = _mm512_loadu_ps(Xd + t * ldd + 32 * b + 16);
    }
    for (int r = 0; r < RB; ++r) {
      // Eight 64-byte blocks ahead per row: the rows are short (one head row is 5 KiB at
      // hidden 2560), so the hardware prefetcher alone leaves DRAM bandwidth unused; a prefetch
      // past the end of a row only touches the next row, and never faults.
      if (prefetch)
        _mm_prefetch(reinterpret_cast<const char*>(W + (n + r) * k + 32 * (b + 8)), _MM_HINT_T0);
      const __m512i w = _mm512_loadu_si512(W + (n + r) * k + 32 * b);
      const __m512 we = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, w, 16));
      const __m512 wo = _mm512_castsi512_ps(_mm512_maskz_and_epi32(all, w, high));
      for (int t = 0; t < TB; ++t) {
        acc_e[r][t] = _mm512_fmadd_ps(we, xe[t], acc_e[r][t]);
        acc_o[r][t] = _mm512_fmadd_ps(wo, xo[t], acc_o[r][t]);
      }
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) Y[t * ldy + n + r] = hsum(_mm512_add_ps(acc_e[r][t], acc_o[r][t]));
}

// The activations in the order block_bf16 reads them (per 32-block: the 16 even, then the 16 odd
// columns), [tokens x 32 * (k / 32)].
inline void prepare_bf16(const float* X, index_t tokens, index_t ldx, index_t k,
                         std::vector<float>& Xd) {
  const index_t blocks = k / 32, kb = 32 * blocks;
  Xd.resize(static_cast<std::size_t>(std::max<index_t>(tokens * kb, 1)));
  for (index_t t = 0; t < tokens; ++t)
    for (index_t b = 0; b < blocks; ++b)
      for (index_t j = 0; j < 16; ++j) {
        Xd[static_cast<std::size_t>(t * kb + 32 * b + j)] = X[t * ldx + 32 * b + 2 * j];
        Xd[static_cast<std::size_t>(t * kb + 32 * b + 16 + j)] = X[t * ldx + 32 * b + 2 * j + 1];
      }
}

BITLIN_TARGET_DENSE_AVX512 inline void rows_bf16_prepared(const std::uint16_t* W, index_t k,
                                                          index_t n0, index_t n1, const float* X,
                                                          index_t tokens, index_t ldx, float* Y,
                                                          index_t ldy, const float* xd) {
  const index_t blocks = k / 32, kb = 32 * blocks;
  // Zen 4, BF16 head 128256 x 2560, two interleaved rounds: one thread 47-49 ms with the
  // prefetch, 43-49 without; two threads 35-36 with, 28-29 without.
  const bool prefetch = software_prefetch_pays();
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2)
      block_bf16<2, 4>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
    for (; n < n1; ++n)
      block_bf16<1, 4>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
  }
  for (; t < tokens; ++t) {
    index_t n = n0;
    // One row at a time where interleaved streams do not pay (kernels/tuning.hpp; a Zen 4, BF16
    // head 128256 x 2560: 16-17 GB/s with eight rows per pass, 19-25 GB/s this way on one
    // thread, 28 -> 23 ms on two). A row's two chains of k / 32 FMAs are the same as in every
    // other block shape, so the logits stay bit-identical to prefill.
    if (!interleaved_streams_pay())
      for (; n < n1; ++n)
        block_bf16<1, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
    for (; n + 8 <= n1; n += 8)  // 8 rows: 16 accumulator chains and 8 prefetch streams
      block_bf16<8, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
    for (; n + 4 <= n1; n += 4)
      block_bf16<4, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
    for (; n < n1; ++n)
      block_bf16<1, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy, prefetch);
  }
  if (kb == k) return;
  // The last k % 32 columns: widened 16 at a time (masked), added to what the blocks summed.
  for (index_t tt = 0; tt < tokens; ++tt)
    for (index_t n = n0; n < n1; ++n) {
      __m512 acc = _mm512_setzero_ps();
      for (index_t i = kb; i < k; i += 16) {
        const index_t len = std::min<index_t>(16, k - i);
        const auto m = static_cast<__mmask16>((1u << len) - 1u);
        acc = _mm512_fmadd_ps(load16(W + n * k + i, m), _mm512_maskz_loadu_ps(m, X + tt * ldx + i),
                              acc);
      }
      Y[tt * ldy + n] += hsum(acc);
    }
}

// xd: prepare_bf16(X, ...) when the caller has it, else null and it is made here.
inline void rows_bf16(const std::uint16_t* W, index_t k, index_t n0, index_t n1, const float* X,
                      index_t tokens, index_t ldx, float* Y, index_t ldy, const float* xd) {
  std::vector<float> own;
  if (!xd) {
    prepare_bf16(X, tokens, ldx, k, own);
    xd = own.data();
  }
  rows_bf16_prepared(W, k, n0, n1, X, tokens, ldx, Y, ldy, xd);
}

inline constexpr dense_bf16_ops bf16_ops{&rows_bf16, &prepare_bf16};

}  // namespace dense_avx512

inline kernel_entry<dense_f32_fn> dense_f32_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&dense_avx512::rows<float>);
}
inline kernel_entry<dense_bf16_fn> dense_bf16_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&dense_avx512::bf16_ops);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DENSE_AVX512
