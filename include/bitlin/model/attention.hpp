// Causal attention of one head in float: softmax(q k^T * scale) v for T new queries at positions
// pos0 .. pos0+T-1 over the pos0+T cached keys and values. The portable path uses Eigen; an
// AVX-512 path (target attribute, chosen at run time) computes the same sums in a different order,
// because Eigen in a library built without -m flags only gets SSE2 and attention then costs a
// fifth of a 512-token prefill. Softmax is the same scalar code in both.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "bitlin/core/types.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define BITLIN_ATTN_X86 1
#include <immintrin.h>
#else
#define BITLIN_ATTN_X86 0
#endif

namespace bitlin::model {

// Where one head's operands live: row t of Q at q + t*ldq, key/value j at k/v + j*ldkv, output
// row t at o + t*ldo, each head_dim long.
struct attention_args {
  const float* q;
  index_t ldq;
  const float* k;
  const float* v;
  index_t ldkv;
  float* o;
  index_t ldo;
  index_t tokens, pos0, head_dim;
  float scale;
};

namespace detail {

// Scaled scores s[0..visible) -> probabilities; s[visible..end) -> 0.
inline void causal_softmax(float* s, index_t visible, index_t end, float scale) {
  float mx = -std::numeric_limits<float>::infinity();
  for (index_t j = 0; j < visible; ++j) {
    s[j] *= scale;
    mx = std::max(mx, s[j]);
  }
  float sum = 0.0f;
  for (index_t j = 0; j < visible; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  const float inv = 1.0f / sum;
  for (index_t j = 0; j < visible; ++j) s[j] *= inv;
  for (index_t j = visible; j < end; ++j) s[j] = 0.0f;
}

inline void attend_head_eigen(const attention_args& a) {
  using cmap = Eigen::Map<const matrix_f, 0, Eigen::OuterStride<>>;
  using omap = Eigen::Map<matrix_f, 0, Eigen::OuterStride<>>;
  const index_t T = a.tokens, L = a.pos0 + a.tokens, d = a.head_dim;
  cmap Q(a.q, T, d, Eigen::OuterStride<>(a.ldq));
  cmap K(a.k, L, d, Eigen::OuterStride<>(a.ldkv));
  cmap V(a.v, L, d, Eigen::OuterStride<>(a.ldkv));
  matrix_f S = Q * K.transpose();
  for (index_t t = 0; t < T; ++t) causal_softmax(S.row(t).data(), a.pos0 + t + 1, L, a.scale);
  omap O(a.o, T, d, Eigen::OuterStride<>(a.ldo));
  O.noalias() = S * V;
}

#if BITLIN_ATTN_X86
// O rows t0, t0+1 (TB of them) = P rows . V, head_dim = 16 * NC.
template <int NC, int TB>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void attend_pv_avx512(
    const float* P, index_t ldp, index_t len, const float* V, index_t ldkv, float* O, index_t ldo) {
  __m512 acc[TB][NC];
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) acc[t][c] = _mm512_setzero_ps();
  for (index_t j = 0; j < len; ++j) {
    __m512 p[TB];
    for (int t = 0; t < TB; ++t) p[t] = _mm512_set1_ps(P[t * ldp + j]);
    for (int c = 0; c < NC; ++c) {
      const __m512 v = _mm512_loadu_ps(V + j * ldkv + 16 * c);
      for (int t = 0; t < TB; ++t) acc[t][c] = _mm512_fmadd_ps(p[t], v, acc[t][c]);
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(O + t * ldo + 16 * c, acc[t][c]);
}

template <int NC>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void attend_head_avx512(
    const attention_args& a) {
  constexpr index_t d = 16 * NC;
  const index_t T = a.tokens, L = a.pos0 + a.tokens, Lp = (L + 15) / 16 * 16;
  // Keys transposed ([d, Lp], zero-padded) so that scores are vector FMAs along the key axis.
  std::vector<float> Kt(static_cast<std::size_t>(d * Lp), 0.0f);
  for (index_t j = 0; j < L; ++j)
    for (index_t i = 0; i < d; ++i) Kt[static_cast<std::size_t>(i * Lp + j)] = a.k[j * a.ldkv + i];
  constexpr int TB = 4;
  std::vector<float> S(static_cast<std::size_t>(TB * Lp));
  for (index_t t0 = 0; t0 < T; t0 += TB) {
    const index_t tb = std::min<index_t>(TB, T - t0);
    const index_t len = a.pos0 + t0 + tb;  // keys visible to the block's last query
    const index_t blocks = (len + 15) / 16;
    for (index_t jb = 0; jb < blocks; ++jb) {
      __m512 acc[TB] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                        _mm512_setzero_ps()};
      for (index_t i = 0; i < d; ++i) {
        const __m512 kt = _mm512_loadu_ps(Kt.data() + i * Lp + 16 * jb);
        for (index_t t = 0; t < tb; ++t)
          acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(a.q[(t0 + t) * a.ldq + i]), kt, acc[t]);
      }
      for (index_t t = 0; t < tb; ++t) _mm512_storeu_ps(S.data() + t * Lp + 16 * jb, acc[t]);
    }
    for (index_t t = 0; t < tb; ++t)
      causal_softmax(S.data() + t * Lp, a.pos0 + t0 + t + 1, len, a.scale);
    index_t t = 0;
    for (; t + 2 <= tb; t += 2)
      attend_pv_avx512<NC, 2>(S.data() + t * Lp, Lp, len, a.v, a.ldkv, a.o + (t0 + t) * a.ldo,
                              a.ldo);
    for (; t < tb; ++t)
      attend_pv_avx512<NC, 1>(S.data() + t * Lp, Lp, len, a.v, a.ldkv, a.o + (t0 + t) * a.ldo,
                              a.ldo);
  }
}

inline bool attention_avx512_supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl");
  return ok;
}
#endif

}  // namespace detail

// One head; `vectorized` false forces the Eigen path (for tests).
inline void attend_head(const attention_args& a, bool vectorized = true) {
#if BITLIN_ATTN_X86
  if (vectorized && detail::attention_avx512_supported() && a.head_dim % 16 == 0) {
    switch (a.head_dim / 16) {
      case 2:
        return detail::attend_head_avx512<2>(a);
      case 4:
        return detail::attend_head_avx512<4>(a);
      case 6:
        return detail::attend_head_avx512<6>(a);
      case 8:
        return detail::attend_head_avx512<8>(a);
      default:
        break;
    }
  }
#endif
  (void)vectorized;
  detail::attend_head_eigen(a);
}

}  // namespace bitlin::model
