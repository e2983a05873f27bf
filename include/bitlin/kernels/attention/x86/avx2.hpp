// AVX2 + FMA attention for any head_dim that is a multiple of 8 (the AVX-512 kernel's structure
// on 8 lanes): the cache stores the keys transposed, so the scores of 8 keys are one FMA chain per
// query, four queries sharing each key load. With 16 ymm
// registers a whole 128-wide output row pair no longer fits, so P.V runs over column chunks of 32
// floats: two queries x four vectors = 8 accumulators, re-reading the (cache-resident)
// probabilities once per chunk.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/attention/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"

#define BITLIN_TARGET_ATTN_AVX2 __attribute__((target("avx2,fma")))

namespace bitlin {
namespace kernels {
namespace attention_avx2 {

// Columns [0, 8 * NC) of O rows t0 .. t0+TB-1 = P rows . V.
template <int NC, int TB>
BITLIN_TARGET_ATTN_AVX2 void pv(const float* P, index_t ldp, index_t len, const float* V,
                                index_t ldv, float* O, index_t ldo) {
  __m256 acc[TB][NC];
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) acc[t][c] = _mm256_setzero_ps();
  for (index_t j = 0; j < len; ++j) {
    __m256 p[TB];
    for (int t = 0; t < TB; ++t) p[t] = _mm256_broadcast_ss(P + t * ldp + j);
    for (int c = 0; c < NC; ++c) {
      const __m256 v = _mm256_loadu_ps(V + j * ldv + 8 * c);
      for (int t = 0; t < TB; ++t) acc[t][c] = _mm256_fmadd_ps(p[t], v, acc[t][c]);
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(O + t * ldo + 8 * c, acc[t][c]);
}

template <int TB>
BITLIN_TARGET_ATTN_AVX2 void pv_chunks(const float* P, index_t ldp, index_t len, const float* V,
                                       index_t ldv, float* O, index_t ldo, index_t d) {
  index_t c = 0;
  for (; c + 32 <= d; c += 32) pv<4, TB>(P, ldp, len, V + c, ldv, O + c, ldo);
  switch ((d - c) / 8) {
    case 3:
      return pv<3, TB>(P, ldp, len, V + c, ldv, O + c, ldo);
    case 2:
      return pv<2, TB>(P, ldp, len, V + c, ldv, O + c, ldo);
    case 1:
      return pv<1, TB>(P, ldp, len, V + c, ldv, O + c, ldo);
    default:
      return;
  }
}

// Scores of tb < 4 queries (decode): row i of the keys is streamed once, one sequential stream
// at a time, into score rows that stay in L1. Each score is the same chain of FMAs over i as in
// the blocked loop of prefill, so both give identical scores.
BITLIN_TARGET_ATTN_AVX2 inline void scores_rows(const attention_args& a, index_t t0, index_t tb,
                                                index_t len, float* S, index_t lds) {
  const index_t blocks = (len + 7) / 8;
  for (index_t t = 0; t < tb; ++t) std::fill(S + t * lds, S + t * lds + blocks * 8, 0.0f);
  for (index_t i = 0; i < a.head_dim; ++i) {
    const float* row = a.kt + i * a.ldkt;
    for (index_t t = 0; t < tb; ++t) {
      const __m256 qi = _mm256_broadcast_ss(&a.q[(t0 + t) * a.ldq + i]);
      float* s = S + t * lds;
      for (index_t jb = 0; jb < blocks; ++jb)
        _mm256_storeu_ps(s + 8 * jb, _mm256_fmadd_ps(qi, _mm256_loadu_ps(row + 8 * jb),
                                                     _mm256_loadu_ps(s + 8 * jb)));
    }
  }
}

// Scores of NQ queries against JB blocks of 8 keys: JB * NQ independent FMA chains over i.
// Four chains (one key block) leave half of the two FMA pipes idle behind the 4-cycle latency;
// two blocks keep eight in flight. Each score is still one chain over i in order, from zero, as
// in scores_rows.
template <int JB, int NQ>
BITLIN_TARGET_ATTN_AVX2 inline void score_blocks(const attention_args& a, index_t t0, index_t jb,
                                                 float* S, index_t lds) {
  __m256 acc[JB][NQ];
  for (int b = 0; b < JB; ++b)
    for (int t = 0; t < NQ; ++t) acc[b][t] = _mm256_setzero_ps();
  for (index_t i = 0; i < a.head_dim; ++i) {
    __m256 kt[JB];
    for (int b = 0; b < JB; ++b) kt[b] = _mm256_loadu_ps(a.kt + i * a.ldkt + 8 * (jb + b));
    for (int t = 0; t < NQ; ++t) {
      const __m256 q = _mm256_broadcast_ss(a.q + (t0 + t) * a.ldq + i);
      for (int b = 0; b < JB; ++b) acc[b][t] = _mm256_fmadd_ps(q, kt[b], acc[b][t]);
    }
  }
  for (int t = 0; t < NQ; ++t)
    for (int b = 0; b < JB; ++b) _mm256_storeu_ps(S + t * lds + 8 * (jb + b), acc[b][t]);
}

// All score blocks of queries t0 .. t0+NQ-1 over the first `len` keys.
template <int NQ>
BITLIN_TARGET_ATTN_AVX2 inline void score_rows_blocked(const attention_args& a, index_t t0,
                                                       index_t len, float* S, index_t lds) {
  const index_t blocks = (len + 7) / 8;
  index_t jb = 0;
  for (; jb + 2 <= blocks; jb += 2) score_blocks<2, NQ>(a, t0, jb, S, lds);
  if (jb < blocks) score_blocks<1, NQ>(a, t0, jb, S, lds);
}

BITLIN_TARGET_ATTN_AVX2 inline void run(const attention_args& a) {
  const index_t d = a.head_dim;
  const index_t T = a.tokens, L = a.pos0 + a.tokens, Lp = (L + 7) / 8 * 8;
  constexpr int TB = 4;
  float* const S = attention_score_rows(a, TB, Lp);
  for (index_t t0 = 0; t0 < T; t0 += TB) {
    const index_t tb = std::min<index_t>(TB, T - t0);
    const index_t len = a.pos0 + t0 + tb;  // keys visible to the block's last query
    if (T < TB) {
      scores_rows(a, t0, tb, len, S, Lp);
    } else {
      static_assert(TB == 4, "the switch below covers 1 .. TB queries");
      switch (tb) {
        case 4:
          score_rows_blocked<4>(a, t0, len, S, Lp);
          break;
        case 3:
          score_rows_blocked<3>(a, t0, len, S, Lp);
          break;
        case 2:
          score_rows_blocked<2>(a, t0, len, S, Lp);
          break;
        default:
          score_rows_blocked<1>(a, t0, len, S, Lp);
      }
    }
    for (index_t t = 0; t < tb; ++t) causal_softmax(S + t * Lp, a.pos0 + t0 + t + 1, len, a.scale);
    index_t t = 0;
    for (; t + 2 <= tb; t += 2)
      pv_chunks<2>(S + t * Lp, Lp, len, a.v, a.ldv, a.o + (t0 + t) * a.ldo, a.ldo, d);
    for (; t < tb; ++t)
      pv_chunks<1>(S + t * Lp, Lp, len, a.v, a.ldv, a.o + (t0 + t) * a.ldo, a.ldo, d);
  }
}

inline bool handles(index_t d) {
  return d > 0 && d % 8 == 0;
}

inline constexpr attention_ops ops{&handles, &run};

}  // namespace attention_avx2

inline kernel_entry<attention_fn> attention_kernel(arch::avx2) {
  return make_kernel_entry<arch::avx2>(&attention_avx2::ops);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_ATTN_AVX2
