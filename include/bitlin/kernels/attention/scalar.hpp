// The attention op: causal softmax(q k^T * scale) v of one head for T new queries at positions
// pos0 .. pos0+T-1 over the pos0+T cached keys and values, in float. This header holds the
// operands, the softmax every path shares (scalar code, so the paths differ only in the order of
// their dot-product sums) and the portable kernel, which uses Eigen.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {

// Where one head's operands live: row t of Q at q + t*ldq; the keys transposed, as the KV cache
// stores them (kv_cache.hpp): element i of key j at kt[i * ldkt + j], so the scores of consecutive
// keys are contiguous loads and no kernel transposes anything; value j at v + j*ldv; output row t
// at o + t*ldo; each head_dim long. ldkt >= pos0 + tokens rounded up to attention_key_align, and
// the key columns past pos0 + tokens may be read (their scores are never used).
struct attention_args {
  const float* q;
  index_t ldq;
  const float* kt;
  index_t ldkt;
  const float* v;
  index_t ldv;
  float* o;
  index_t ldo;
  index_t tokens, pos0, head_dim;
  float scale;
  // Optional: attention_scratch_floats(ldkt) floats the kernel may use for its scores; without it
  // a kernel uses per-thread scratch, which a pool worker grows on its first call.
  float* scratch = nullptr;
};

// The scratch one head's call may use (4 query rows of scores over the key capacity).
constexpr index_t attention_scratch_floats(index_t ldkt) {
  return 4 * ldkt;
}

// Key capacities are multiples of this, so a kernel may load whole vectors of keys.
constexpr index_t attention_key_align = 16;

// One ISA's attention: `run` computes one head for the head sizes `handles` accepts; other sizes
// go to the portable kernel.
struct attention_ops {
  bool (*handles)(index_t head_dim);
  void (*run)(const attention_args&);
};
using attention_fn = const attention_ops*;

namespace kernels {

// The score rows of one head's call: the caller's scratch (attention_scratch_floats(ldkt) >= rows
// * padded_keys floats), else this thread's own, sized for the whole key capacity so that it does
// not grow as the cache fills.
inline float* attention_score_rows(const attention_args& a, index_t rows, index_t padded_keys) {
  if (a.scratch) return a.scratch;
  static thread_local std::vector<float> own;
  const auto need = static_cast<std::size_t>(rows * std::max(a.ldkt, padded_keys));
  if (own.size() < need) own.resize(need);
  return own.data();
}

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
  cmap Kt(a.kt, d, L, Eigen::OuterStride<>(a.ldkt));
  cmap V(a.v, L, d, Eigen::OuterStride<>(a.ldv));
  matrix_f S = Q * Kt;
  for (index_t t = 0; t < T; ++t) causal_softmax(S.row(t).data(), a.pos0 + t + 1, L, a.scale);
  omap O(a.o, T, d, Eigen::OuterStride<>(a.ldo));
  O.noalias() = S * V;
}

inline bool attention_eigen_handles(index_t) {
  return true;
}
inline constexpr attention_ops attention_eigen_ops{&attention_eigen_handles, &attend_head_eigen};

inline kernel_entry<attention_fn> attention_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&attention_eigen_ops);
}

}  // namespace kernels
}  // namespace bitlin
