// AVX-512 attention for head_dim 32, 64, 96 and 128. Eigen in a library built without -m flags only
// gets SSE2, and attention then costs a fifth of a 512-token prefill. The cache stores the keys
// transposed, so the scores of 16 keys are one vector FMA chain per query; four queries share each
// key load; P.V accumulates the head_dim/16 output vectors of two queries in registers.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/attention/scalar.hpp"
#include "bitlin/kernels/dispatch.hpp"

#define BITLIN_TARGET_ATTN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace bitlin {
namespace kernels {
namespace attention_avx512 {

// O rows t0, t0+1 (TB of them) = P rows . V, head_dim = 16 * NC.
template <int NC, int TB>
BITLIN_TARGET_ATTN_AVX512 void pv(const float* P, index_t ldp, index_t len, const float* V,
                                  index_t ldv, float* O, index_t ldo) {
  __m512 acc[TB][NC];
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) acc[t][c] = _mm512_setzero_ps();
  for (index_t j = 0; j < len; ++j) {
    __m512 p[TB];
    for (int t = 0; t < TB; ++t) p[t] = _mm512_set1_ps(P[t * ldp + j]);
    for (int c = 0; c < NC; ++c) {
      const __m512 v = _mm512_loadu_ps(V + j * ldv + 16 * c);
      for (int t = 0; t < TB; ++t) acc[t][c] = _mm512_fmadd_ps(p[t], v, acc[t][c]);
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(O + t * ldo + 16 * c, acc[t][c]);
}

// Scores of tb < 4 queries (decode): row i of the keys is streamed once, one sequential stream
// at a time, into score rows that stay in L1. Each score is the same chain of FMAs over i as in
// the blocked loop of prefill, so both give identical scores.
BITLIN_TARGET_ATTN_AVX512 inline void scores_rows(const attention_args& a, index_t t0, index_t tb,
                                                  index_t len, float* S, index_t lds) {
  const index_t blocks = (len + 15) / 16;
  for (index_t t = 0; t < tb; ++t) std::fill(S + t * lds, S + t * lds + blocks * 16, 0.0f);
  for (index_t i = 0; i < a.head_dim; ++i) {
    const float* row = a.kt + i * a.ldkt;
    for (index_t t = 0; t < tb; ++t) {
      const __m512 qi = _mm512_set1_ps(a.q[(t0 + t) * a.ldq + i]);
      float* s = S + t * lds;
      for (index_t jb = 0; jb < blocks; ++jb)
        _mm512_storeu_ps(s + 16 * jb, _mm512_fmadd_ps(qi, _mm512_loadu_ps(row + 16 * jb),
                                                      _mm512_loadu_ps(s + 16 * jb)));
    }
  }
}

template <int NC>
BITLIN_TARGET_ATTN_AVX512 void head(const attention_args& a) {
  const index_t T = a.tokens, L = a.pos0 + a.tokens, Lp = (L + 15) / 16 * 16;
  constexpr int TB = 4;
  float* const S = attention_score_rows(a, TB, Lp);
  for (index_t t0 = 0; t0 < T; t0 += TB) {
    const index_t tb = std::min<index_t>(TB, T - t0);
    const index_t len = a.pos0 + t0 + tb;  // keys visible to the block's last query
    if (T < TB) {
      scores_rows(a, t0, tb, len, S, Lp);
    } else {
      for (index_t jb = 0; jb < (len + 15) / 16; ++jb) {
        __m512 acc[TB] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                          _mm512_setzero_ps()};
        for (index_t i = 0; i < 16 * NC; ++i) {
          const __m512 kt = _mm512_loadu_ps(a.kt + i * a.ldkt + 16 * jb);
          for (index_t t = 0; t < tb; ++t)
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(a.q[(t0 + t) * a.ldq + i]), kt, acc[t]);
        }
        for (index_t t = 0; t < tb; ++t) _mm512_storeu_ps(S + t * Lp + 16 * jb, acc[t]);
      }
    }
    for (index_t t = 0; t < tb; ++t) causal_softmax(S + t * Lp, a.pos0 + t0 + t + 1, len, a.scale);
    index_t t = 0;
    for (; t + 2 <= tb; t += 2)
      pv<NC, 2>(S + t * Lp, Lp, len, a.v, a.ldv, a.o + (t0 + t) * a.ldo, a.ldo);
    for (; t < tb; ++t) pv<NC, 1>(S + t * Lp, Lp, len, a.v, a.ldv, a.o + (t0 + t) * a.ldo, a.ldo);
  }
}

inline bool handles(index_t d) {
  return d == 32 || d == 64 || d == 96 || d == 128;
}

inline void run(const attention_args& a) {
  switch (a.head_dim) {
    case 32:
      return head<2>(a);
    case 64:
      return head<4>(a);
    case 96:
      return head<6>(a);
    case 128:
      return head<8>(a);
    default:
      return attend_head_eigen(a);  // not reached through the dispatcher (see handles)
  }
}

inline constexpr attention_ops ops{&handles, &run};

}  // namespace attention_avx512

inline kernel_entry<attention_fn> attention_kernel(arch::avx512bw) {
  return make_kernel_entry<arch::avx512bw>(&attention_avx512::ops);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_ATTN_AVX512
