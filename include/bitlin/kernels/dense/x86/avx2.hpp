// AVX2 + FMA dense kernels. The float product works on blocks of RB rows x TB tokens: each weight
// vector loaded once feeds TB tokens, and RB independent rows keep enough FMAs in flight to cover
// their latency when TB is 1 (decode). BF16 rows have their own blocks (block_bf16), widened
// exactly by shifts and masks. The int8 head product widens bytes to int16 and multiplies with
// vpmaddwd: a product is at most 255 * 128 = 32640 and a pair sum 65280, exact in int32 (vpmaddubsw
// would saturate at 32767 on unsigned activations up to 255).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dense/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/tuning.hpp"

#define BITLIN_TARGET_DENSE_AVX2 __attribute__((target("avx2,fma")))

namespace bitlin {
namespace kernels {
namespace dense_avx2 {

BITLIN_TARGET_DENSE_AVX2 inline __m256 load8(const float* w) {
  return _mm256_loadu_ps(w);
}
BITLIN_TARGET_DENSE_AVX2 inline __m256 load8(const std::uint16_t* w) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
BITLIN_TARGET_DENSE_AVX2 inline float hsum(__m256 v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// With `ahead`, the block prefetches the next RB rows at the offsets it reads (one line per row
// per 64 bytes read): a decode pass reads RB rows of a few KB that start anew every block, too
// short for the hardware prefetcher (see int8_rows).
template <int RB, int TB, class T>
BITLIN_TARGET_DENSE_AVX2 void block(const T* W, index_t k, index_t n, const float* X, index_t ldx,
                                    float* Y, index_t ldy, bool ahead = false) {
  __m256 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_setzero_ps();
  index_t i = 0;
  const T* next = W + (n + RB) * k;
  for (; i + 8 <= k; i += 8) {
    if (ahead && (i * static_cast<index_t>(sizeof(T))) % 64 == 0)
      for (int r = 0; r < RB; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(next + r * k + i), _MM_HINT_T0);
    __m256 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm256_loadu_ps(X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m256 w = load8(W + (n + r) * k + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  // The tail as explicit fused multiply-adds: left to the compiler, a * b + c is contracted in
  // some block shapes and not in others, and a token's output would depend on its batch.
  float tail[RB][TB] = {};
  for (; i < k; ++i)
    for (int r = 0; r < RB; ++r)
      for (int t = 0; t < TB; ++t)
        tail[r][t] =
            std::fma(dense_detail::load_elem(W + (n + r) * k, i), X[t * ldx + i], tail[r][t]);
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) Y[t * ldy + n + r] = hsum(acc[r][t]) + tail[r][t];
}

template <class T>
BITLIN_TARGET_DENSE_AVX2 void rows(const T* W, index_t k, index_t n0, index_t n1, const float* X,
                                   index_t tokens, index_t ldx, float* Y, index_t ldy) {
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2) block<2, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) block<1, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
  // (The next four rows are prefetched on every CPU: unlike the one-row int8 stream, four
  // interleaved streams need it on AMD too; Zen 4, BF16 head when it ran here, one thread: 48-53
  // ms with, 60-64 without.)
  for (; t < tokens; ++t) {
    index_t n = n0;
    for (; n + 4 <= n1; n += 4)
      block<4, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy, n + 8 <= n1);
    for (; n < n1; ++n) block<1, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
}

// BF16 rows without a widening instruction: a 32-byte load holds 16 BF16 weights, the even ones
// (low halves of the 32-bit lanes) become floats by a shift, the odd ones by masking the low half
// away, and each meets the activations prepared in that order (per 16 columns: the 8 even, then
// the 8 odd; prepare_bf16). One load, two integer operations and two FMAs per 16 weights, where
// widening 8 at a time (load8) costs a load, a vpmovzxwd, a shift and an FMA per 8; the
// one-thread BF16 head GEMV was compute-bound that way (Zen 4, 128256 x 2560, avx2: 12.3 GB/s
// against 21.2 on the AVX-512 path and 24 GB/s read bandwidth).
//
// Every (row, token) output is the same four chains of k / 32 FMAs (even and odd of each 16-column
// half of a 32-column block: enough chains in flight to cover the FMA latency with one row at a
// time), summed (c0 + c1) + (c2 + c3), then the last k % 32 columns in order: whatever the block
// shape, so decode (one token) and prefill (many) give bit-identical logits.
inline void prepare_bf16(const float* X, index_t tokens, index_t ldx, index_t k,
                         std::vector<float>& Xd) {
  const index_t kb = 32 * (k / 32);
  Xd.resize(static_cast<std::size_t>(std::max<index_t>(tokens * kb, 1)));
  for (index_t t = 0; t < tokens; ++t)
    for (index_t c = 0; c < kb; c += 16)
      for (index_t j = 0; j < 8; ++j) {
        Xd[static_cast<std::size_t>(t * kb + c + j)] = X[t * ldx + c + 2 * j];
        Xd[static_cast<std::size_t>(t * kb + c + 8 + j)] = X[t * ldx + c + 2 * j + 1];
      }
}

template <int RB, int TB>
BITLIN_TARGET_DENSE_AVX2 void block_bf16(const std::uint16_t* W, index_t k, index_t n,
                                         const float* Xd, index_t ldd, const float* X, index_t ldx,
                                         float* Y, index_t ldy, bool prefetch) {
  const index_t kb = 32 * (k / 32);
  __m256 acc[RB][TB][4];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t)
      for (int c = 0; c < 4; ++c) acc[r][t][c] = _mm256_setzero_ps();
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (index_t i = 0; i < kb; i += 32) {
    for (int r = 0; r < RB; ++r) {
      const std::uint16_t* w = W + (n + r) * k + i;
      // Eight 64-byte blocks ahead (where software prefetch pays, kernels/tuning.hpp): one row is
      // a few KiB, too short for the hardware prefetcher to reach full speed on its own.
      if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(w + 256), _MM_HINT_T0);
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16));
      const __m256 v[4] = {_mm256_castsi256_ps(_mm256_slli_epi32(w0, 16)),
                           _mm256_castsi256_ps(_mm256_and_si256(w0, high)),
                           _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16)),
                           _mm256_castsi256_ps(_mm256_and_si256(w1, high))};
      for (int t = 0; t < TB; ++t)
        for (int c = 0; c < 4; ++c)
          acc[r][t][c] =
              _mm256_fmadd_ps(v[c], _mm256_loadu_ps(Xd + t * ldd + i + 8 * c), acc[r][t][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) {
      float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[r][t][0], acc[r][t][1]),
                                   _mm256_add_ps(acc[r][t][2], acc[r][t][3])));
      for (index_t i = kb; i < k; ++i)
        s = std::fma(dense_detail::load_elem(W + (n + r) * k, i), X[t * ldx + i], s);
      Y[t * ldy + n + r] = s;
    }
}

BITLIN_TARGET_DENSE_AVX2 inline void bf16_rows_prepared(const std::uint16_t* W, index_t k,
                                                        index_t n0, index_t n1, const float* X,
                                                        index_t tokens, index_t ldx, float* Y,
                                                        index_t ldy, const float* xd) {
  const index_t kb = 32 * (k / 32);
  const bool prefetch = software_prefetch_pays();
  index_t t = 0;
  // Three tokens per weight load: 12 accumulators and the four weight vectors fill the 16 ymm.
  for (; t + 3 <= tokens; t += 3)
    for (index_t n = n0; n < n1; ++n)
      block_bf16<1, 3>(W, k, n, xd + t * kb, kb, X + t * ldx, ldx, Y + t * ldy, ldy, prefetch);
  for (; t < tokens; ++t) {
    index_t n = n0;
    // Two rows side by side only where interleaved streams pay (kernels/tuning.hpp); elsewhere
    // one row at a time, a single sequential stream.
    if (interleaved_streams_pay())
      for (; n + 2 <= n1; n += 2)
        block_bf16<2, 1>(W, k, n, xd + t * kb, kb, X + t * ldx, ldx, Y + t * ldy, ldy, prefetch);
    for (; n < n1; ++n)
      block_bf16<1, 1>(W, k, n, xd + t * kb, kb, X + t * ldx, ldx, Y + t * ldy, ldy, prefetch);
  }
}

// xd: prepare_bf16(X, ...) when the caller has it, else null and it is made here.
inline void bf16_rows(const std::uint16_t* W, index_t k, index_t n0, index_t n1, const float* X,
                      index_t tokens, index_t ldx, float* Y, index_t ldy, const float* xd) {
  std::vector<float> own;
  if (!xd) {
    prepare_bf16(X, tokens, ldx, k, own);
    xd = own.data();
  }
  bf16_rows_prepared(W, k, n0, n1, X, tokens, ldx, Y, ldy, xd);
}
inline constexpr dense_bf16_ops bf16_ops{&bf16_rows, &prepare_bf16};

BITLIN_TARGET_DENSE_AVX2 inline std::int32_t hsum_epi32(__m256i v) {
  __m128i b = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0x4E));
  b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0xB1));
  return _mm_cvtsi128_si32(b);
}

// acc += xu[0..16) . w[0..16) (as int16 pairs into int32 lanes).
BITLIN_TARGET_DENSE_AVX2 inline __m256i dot16(__m256i acc, __m256i x16, const std::int8_t* w) {
  const __m256i w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x16, w16));
}

// One row at a time, in memory order: the weights are a single sequential stream, the pattern
// every hardware prefetcher follows best (the activations, k bytes, stay in L1). Four rows per
// pass sharing each widened activation vector read four interleaved streams that restart every
// pass (k = 2560 bytes in BitNet's head), which a Zen 4 core streamed at 12.6 GB/s even with
// software prefetch of the next four rows, against 22.5-23.4 GB/s one row at a time (int8 head,
// 128256 x 2560, one thread; its sequential read rate was 21-23 GB/s). Where software prefetch
// pays (kernels/tuning.hpp), the next row is prefetched at the offset being read.
BITLIN_TARGET_DENSE_AVX2 inline void int8_rows(const std::int8_t* q, index_t k, index_t n0,
                                               index_t n1, const std::uint8_t* xu,
                                               std::int32_t* acc) {
  const index_t k32 = k / 32 * 32, k16 = k / 16 * 16;
  const bool prefetch = software_prefetch_pays();
  for (index_t n = n0; n < n1; ++n) {
    const std::int8_t* w = q + n * k;
    const bool ahead = prefetch && n + 1 < n1;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    index_t i = 0;
    for (; i < k32; i += 32) {
      if (ahead && i % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(w + k + i), _MM_HINT_T0);
      a0 =
          dot16(a0, _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xu + i))),
                w + i);
      a1 = dot16(
          a1, _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xu + i + 16))),
          w + i + 16);
    }
    if (i < k16)
      a0 =
          dot16(a0, _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xu + i))),
                w + i);
    std::int32_t s = hsum_epi32(_mm256_add_epi32(a0, a1));
    for (index_t j = k16; j < k; ++j) s += static_cast<std::int32_t>(xu[j]) * w[j];
    acc[n] = s;
  }
}

}  // namespace dense_avx2

inline kernel_entry<dense_f32_fn> dense_f32_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&dense_avx2::rows<float>);
}
inline kernel_entry<dense_bf16_fn> dense_bf16_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&dense_avx2::bf16_ops);
}
inline kernel_entry<int8_rows_fn> int8_rows_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&dense_avx2::int8_rows);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DENSE_AVX2
