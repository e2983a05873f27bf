// AVX2 + FMA attention for any head_dim that is a multiple of 8 (the AVX-512 kernel's structure
// on 8 lanes): for four or more queries the keys are transposed ([d, L] padded to 8) so that the
// scores of 8 keys are one FMA chain per query, four queries sharing each key load; for fewer
// (decode) the scores are dot products along head_dim on the key rows as stored. With 16 ymm
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
                                index_t ldkv, float* O, index_t ldo) {
  __m256 acc[TB][NC];
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) acc[t][c] = _mm256_setzero_ps();
  for (index_t j = 0; j < len; ++j) {
    __m256 p[TB];
    for (int t = 0; t < TB; ++t) p[t] = _mm256_broadcast_ss(P + t * ldp + j);
    for (int c = 0; c < NC; ++c) {
      const __m256 v = _mm256_loadu_ps(V + j * ldkv + 8 * c);
      for (int t = 0; t < TB; ++t) acc[t][c] = _mm256_fmadd_ps(p[t], v, acc[t][c]);
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(O + t * ldo + 8 * c, acc[t][c]);
}

template <int TB>
BITLIN_TARGET_ATTN_AVX2 void pv_chunks(const float* P, index_t ldp, index_t len, const float* V,
                                       index_t ldkv, float* O, index_t ldo, index_t d) {
  index_t c = 0;
  for (; c + 32 <= d; c += 32) pv<4, TB>(P, ldp, len, V + c, ldkv, O + c, ldo);
  switch ((d - c) / 8) {
    case 3:
      return pv<3, TB>(P, ldp, len, V + c, ldkv, O + c, ldo);
    case 2:
      return pv<2, TB>(P, ldp, len, V + c, ldkv, O + c, ldo);
    case 1:
      return pv<1, TB>(P, ldp, len, V + c, ldkv, O + c, ldo);
    default:
      return;
  }
}

BITLIN_TARGET_ATTN_AVX2 inline float hsum(__m256 v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// Scores of queries [t0, t0 + tb) against keys [0, len) straight from the key rows: a dot product
// along head_dim per (query, key). Used for few queries (decode), where transposing the whole
// cache would cost more than the scores themselves.
BITLIN_TARGET_ATTN_AVX2 inline void scores_direct(const attention_args& a, index_t t0, index_t tb,
                                                  index_t len, float* S, index_t lds) {
  const index_t d = a.head_dim;
  for (index_t j = 0; j < len; ++j) {
    const float* kj = a.k + j * a.ldkv;
    for (index_t t = 0; t < tb; ++t) {
      const float* q = a.q + (t0 + t) * a.ldq;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      index_t i = 0;
      for (; i + 16 <= d; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(kj + i + 8), acc1);
      }
      if (i < d) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), acc0);
      S[t * lds + j] = hsum(_mm256_add_ps(acc0, acc1));
    }
  }
}

BITLIN_TARGET_ATTN_AVX2 inline void run(const attention_args& a) {
  const index_t d = a.head_dim;
  const index_t T = a.tokens, L = a.pos0 + a.tokens, Lp = (L + 7) / 8 * 8;
  constexpr int TB = 4;
  // Transposing the keys pays off once a whole block of queries shares them.
  const bool transposed = T >= TB;
  // Per-thread scratch that only grows: a decode step allocates nothing once it has seen its shape.
  static thread_local std::vector<float> Kt, S;
  if (transposed) {
    Kt.assign(static_cast<std::size_t>(d * Lp), 0.0f);
    for (index_t j = 0; j < L; ++j)
      for (index_t i = 0; i < d; ++i)
        Kt[static_cast<std::size_t>(i * Lp + j)] = a.k[j * a.ldkv + i];
  }
  if (S.size() < static_cast<std::size_t>(TB * Lp)) S.resize(static_cast<std::size_t>(TB * Lp));
  for (index_t t0 = 0; t0 < T; t0 += TB) {
    const index_t tb = std::min<index_t>(TB, T - t0);
    const index_t len = a.pos0 + t0 + tb;  // keys visible to the block's last query
    const index_t blocks = transposed ? (len + 7) / 8 : 0;
    if (!transposed) scores_direct(a, t0, tb, len, S.data(), Lp);
    for (index_t jb = 0; jb < blocks; ++jb) {
      __m256 acc[TB] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                        _mm256_setzero_ps()};
      for (index_t i = 0; i < d; ++i) {
        const __m256 kt = _mm256_loadu_ps(Kt.data() + i * Lp + 8 * jb);
        for (index_t t = 0; t < tb; ++t)
          acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(a.q + (t0 + t) * a.ldq + i), kt, acc[t]);
      }
      for (index_t t = 0; t < tb; ++t) _mm256_storeu_ps(S.data() + t * Lp + 8 * jb, acc[t]);
    }
    for (index_t t = 0; t < tb; ++t)
      causal_softmax(S.data() + t * Lp, a.pos0 + t0 + t + 1, len, a.scale);
    index_t t = 0;
    for (; t + 2 <= tb; t += 2)
      pv_chunks<2>(S.data() + t * Lp, Lp, len, a.v, a.ldkv, a.o + (t0 + t) * a.ldo, a.ldo, d);
    for (; t < tb; ++t)
      pv_chunks<1>(S.data() + t * Lp, Lp, len, a.v, a.ldkv, a.o + (t0 + t) * a.ldo, a.ldo, d);
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
