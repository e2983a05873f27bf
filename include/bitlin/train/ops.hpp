// The differentiable pieces of a BitNet transformer, each as an explicit forward and backward
// function pair on Eigen row-major matrices, templated on the scalar (float for training, double
// for the finite-difference checks in tests/train). Explicit pairs rather than an autograd tape:
// the model is a fixed graph, the pairs are short enough to check by eye, and every one of them is
// checked against central differences on its own.
//
// Where a forward is the inference math (RMSNorm, LayerNorm) the float instantiation calls the
// library's own function (norm/norm.hpp), so training and inference normalize bit for bit alike.
//
// Threading: products are split into fixed blocks of rows that do not depend on the thread count,
// and every output element is written by exactly one block, so results are the same for any
// executor (Eigen's blocking within a block depends only on the block's shape).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/norm/norm.hpp"

namespace bitlin::train {

template <class S>
using tensor = row_matrix<S>;

// ---------------------------------------------------------------------------------------------
// Products, in blocks of rows of the result.
inline constexpr index_t product_block_rows = 32;

namespace detail {
template <class F>
void for_row_blocks(index_t rows, const executor& ex, F&& f) {
  const index_t blocks = (rows + product_block_rows - 1) / product_block_rows;
  ex.parallel_for(blocks, 1, [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) {
      const index_t r0 = b * product_block_rows;
      f(r0, std::min(product_block_rows, rows - r0));
    }
  });
}
}  // namespace detail

// C = A B^T (A [m, k], B [n, k]); with accumulate, C += A B^T (C must already be [m, n]).
template <class S>
void matmul_nt(const tensor<S>& A, const tensor<S>& B, tensor<S>& C, const executor& ex,
               bool accumulate = false) {
  BITLIN_REQUIRE(A.cols() == B.cols(), shape_error, "matmul_nt: inner sizes ", A.cols(), " and ",
                 B.cols(), " differ");
  if (!accumulate) C.resize(A.rows(), B.rows());
  BITLIN_REQUIRE(C.rows() == A.rows() && C.cols() == B.rows(), shape_error,
                 "matmul_nt: accumulator has the wrong shape");
  detail::for_row_blocks(A.rows(), ex, [&](index_t r0, index_t n) {
    if (accumulate)
      C.middleRows(r0, n).noalias() += A.middleRows(r0, n) * B.transpose();
    else
      C.middleRows(r0, n).noalias() = A.middleRows(r0, n) * B.transpose();
  });
}

// C = A B (A [m, k], B [k, n]).
template <class S>
void matmul_nn(const tensor<S>& A, const tensor<S>& B, tensor<S>& C, const executor& ex) {
  BITLIN_REQUIRE(A.cols() == B.rows(), shape_error, "matmul_nn: inner sizes ", A.cols(), " and ",
                 B.rows(), " differ");
  C.resize(A.rows(), B.cols());
  detail::for_row_blocks(A.rows(), ex, [&](index_t r0, index_t n) {
    C.middleRows(r0, n).noalias() = A.middleRows(r0, n) * B;
  });
}

// C += A^T B (A [k, m], B [k, n], C [m, n]): weight gradients dW += dY^T X.
template <class S>
void matmul_tn_add(const tensor<S>& A, const tensor<S>& B, tensor<S>& C, const executor& ex) {
  BITLIN_REQUIRE(A.rows() == B.rows(), shape_error, "matmul_tn_add: inner sizes ", A.rows(),
                 " and ", B.rows(), " differ");
  BITLIN_REQUIRE(C.rows() == A.cols() && C.cols() == B.cols(), shape_error,
                 "matmul_tn_add: accumulator is ", C.rows(), " x ", C.cols(), ", expected ",
                 A.cols(), " x ", B.cols());
  detail::for_row_blocks(A.cols(), ex, [&](index_t r0, index_t n) {
    C.middleRows(r0, n).noalias() += A.middleCols(r0, n).transpose() * B;
  });
}

// ---------------------------------------------------------------------------------------------
// Float linear layer y = x W^T (the baseline, and what every quantized layer's STE surrogate is).
template <class S>
void linear_backward(const tensor<S>& x, const tensor<S>& W, const tensor<S>& dy, tensor<S>* dx,
                     tensor<S>& dW, const executor& ex) {
  if (dx) matmul_nn(dy, W, *dx, ex);
  matmul_tn_add(dy, x, dW, ex);
}

// ---------------------------------------------------------------------------------------------
// RMSNorm: y = w * x / sqrt(mean(x^2) + eps), w nullable (all ones).
namespace detail {
template <class S>
S rms_inverse(const S* x, index_t k, S eps) {
  if constexpr (std::is_same_v<S, float>) {
    // The inference statistic exactly (norm/norm.hpp): the sum in its order, the mean in double,
    // rounded once to float.
    const double ss = bitlin::detail::sum_squares(x, k);
    const float mean_sq = k > 0 ? static_cast<float>(ss / static_cast<double>(k)) : 0.0f;
    return 1.0f / std::sqrt(mean_sq + eps);
  } else {
    double ss = 0.0;
    for (index_t c = 0; c < k; ++c) ss += static_cast<double>(x[c]) * static_cast<double>(x[c]);
    return static_cast<S>(1.0 / std::sqrt((k > 0 ? ss / static_cast<double>(k) : 0.0) + eps));
  }
}
}  // namespace detail

template <class S>
void rms_norm_forward(const tensor<S>& X, const S* w, S eps, tensor<S>& Y) {
  Y.resize(X.rows(), X.cols());
  if constexpr (std::is_same_v<S, float>) {
    rms_norm(X, w, eps, Y);
  } else {
    for (index_t r = 0; r < X.rows(); ++r) {
      const S inv = detail::rms_inverse(X.row(r).data(), X.cols(), eps);
      for (index_t c = 0; c < X.cols(); ++c) Y(r, c) = (w ? w[c] : S(1)) * X(r, c) * inv;
    }
  }
}

// dX = r g - r^3 x mean(g x) with g = dY w; dw += sum_t dY x r (dw nullable).
template <class S>
void rms_norm_backward(const tensor<S>& X, const S* w, S eps, const tensor<S>& dY, tensor<S>& dX,
                       S* dw) {
  const index_t k = X.cols();
  dX.resize(X.rows(), k);
  for (index_t r = 0; r < X.rows(); ++r) {
    const S inv = detail::rms_inverse(X.row(r).data(), k, eps);
    S dot = 0;
    for (index_t c = 0; c < k; ++c) dot += dY(r, c) * (w ? w[c] : S(1)) * X(r, c);
    const S coef = inv * inv * inv * dot / static_cast<S>(k);
    for (index_t c = 0; c < k; ++c) {
      dX(r, c) = inv * dY(r, c) * (w ? w[c] : S(1)) - coef * X(r, c);
      if (dw) dw[c] += dY(r, c) * X(r, c) * inv;
    }
  }
}

// LayerNorm: y = gamma (x - mean) / sqrt(var + eps) + beta (biased variance), gamma/beta nullable.
template <class S>
void layer_norm_forward(const tensor<S>& X, const S* gamma, const S* beta, S eps, tensor<S>& Y) {
  Y.resize(X.rows(), X.cols());
  if constexpr (std::is_same_v<S, float>) {
    layer_norm(X, gamma, beta, eps, Y);
  } else {
    const index_t k = X.cols();
    for (index_t r = 0; r < X.rows(); ++r) {
      const S mean = X.row(r).mean();
      const S var = (X.row(r).array() - mean).square().mean();
      const S inv = S(1) / std::sqrt(var + eps);
      for (index_t c = 0; c < k; ++c)
        Y(r, c) = (X(r, c) - mean) * inv * (gamma ? gamma[c] : S(1)) + (beta ? beta[c] : S(0));
    }
  }
}

// dX = r (g - mean(g) - xhat mean(g xhat)) with g = dY gamma; dgamma += sum dY xhat, dbeta +=
// sum dY.
template <class S>
void layer_norm_backward(const tensor<S>& X, const S* gamma, S eps, const tensor<S>& dY,
                         tensor<S>& dX, S* dgamma, S* dbeta) {
  const index_t k = X.cols();
  dX.resize(X.rows(), k);
  std::vector<S> xhat(static_cast<std::size_t>(k)), g(static_cast<std::size_t>(k));
  for (index_t r = 0; r < X.rows(); ++r) {
    double s = 0.0;
    for (index_t c = 0; c < k; ++c) s += X(r, c);
    const double mean = s / static_cast<double>(k);
    double v = 0.0;
    for (index_t c = 0; c < k; ++c) v += (X(r, c) - mean) * (X(r, c) - mean);
    const S inv = static_cast<S>(1.0 / std::sqrt(v / static_cast<double>(k) + eps));
    S gm = 0, gx = 0;
    for (index_t c = 0; c < k; ++c) {
      const auto i = static_cast<std::size_t>(c);
      xhat[i] = static_cast<S>(X(r, c) - mean) * inv;
      g[i] = dY(r, c) * (gamma ? gamma[c] : S(1));
      gm += g[i];
      gx += g[i] * xhat[i];
      if (dgamma) dgamma[c] += dY(r, c) * xhat[i];
      if (dbeta) dbeta[c] += dY(r, c);
    }
    gm /= static_cast<S>(k);
    gx /= static_cast<S>(k);
    for (index_t c = 0; c < k; ++c) {
      const auto i = static_cast<std::size_t>(c);
      dX(r, c) = inv * (g[i] - gm - xhat[i] * gx);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rotary embedding (rotate-half, the default RoPE of transformers' BitNet) on rows of a [tokens,
// heads * head_dim] matrix whose row i is position i % seq_len. Tables are computed in float32
// exactly as the inference model does, so a float forward rotates to the same bits.
template <class S>
struct rope_table {
  tensor<S> cos, sin;  // [seq_len, head_dim / 2]
  rope_table() = default;
  rope_table(index_t seq_len, index_t head_dim, double theta) {
    BITLIN_REQUIRE(head_dim % 2 == 0, value_error, "rope_table: head_dim ", head_dim,
                   " must be even");
    const index_t half = head_dim / 2;
    cos.resize(seq_len, half);
    sin.resize(seq_len, half);
    for (index_t i = 0; i < half; ++i) {
      const float expo = static_cast<float>(2 * i) / static_cast<float>(head_dim);
      const auto inv_freq = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(expo)));
      for (index_t t = 0; t < seq_len; ++t) {
        const float angle = static_cast<float>(t) * inv_freq;
        cos(t, i) = static_cast<S>(static_cast<float>(std::cos(static_cast<double>(angle))));
        sin(t, i) = static_cast<S>(static_cast<float>(std::sin(static_cast<double>(angle))));
      }
    }
  }
};

// In place; `inverse` applies the transposed rotation, which is the backward pass (a rotation's
// Jacobian is the rotation itself).
template <class S>
void rope_apply(tensor<S>& X, index_t heads, index_t head_dim, const rope_table<S>& tab,
                bool inverse = false) {
  const index_t T = tab.cos.rows(), half = head_dim / 2;
  BITLIN_REQUIRE(X.cols() == heads * head_dim && T > 0 && X.rows() % T == 0, shape_error,
                 "rope_apply: ", X.rows(), " x ", X.cols(), " does not fit ", heads, " heads of ",
                 head_dim, " over sequences of ", T);
  for (index_t r = 0; r < X.rows(); ++r) {
    const index_t t = r % T;
    for (index_t h = 0; h < heads; ++h) {
      S* x = X.row(r).data() + h * head_dim;
      for (index_t i = 0; i < half; ++i) {
        const S a = x[i], b = x[i + half], c = tab.cos(t, i);
        const S s = inverse ? -tab.sin(t, i) : tab.sin(t, i);
        x[i] = a * c - b * s;
        x[i + half] = b * c + a * s;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Causal grouped-query attention over `seqs` independent sequences of `T` tokens:
// q [seqs*T, heads*d], k and v [seqs*T, kv_heads*d]; query head h reads key/value head
// h / (heads / kv_heads). O = softmax(q k^T / sqrt(d) + causal mask) v per head. The
// probabilities are kept for the backward pass ([seqs*heads*T, T]).
struct attention_shape {
  index_t seqs = 1, tokens = 1, heads = 1, kv_heads = 1, head_dim = 1;
};

template <class S>
void attention_forward(const tensor<S>& q, const tensor<S>& k, const tensor<S>& v,
                       const attention_shape& a, tensor<S>& out, tensor<S>& probs,
                       const executor& ex) {
  const index_t T = a.tokens, d = a.head_dim, group = a.heads / a.kv_heads;
  BITLIN_REQUIRE(a.heads % a.kv_heads == 0, value_error, "attention: ", a.heads,
                 " heads are not a multiple of ", a.kv_heads, " key/value heads");
  BITLIN_REQUIRE(q.rows() == a.seqs * T && q.cols() == a.heads * d && k.rows() == q.rows() &&
                     v.rows() == q.rows() && k.cols() == a.kv_heads * d && v.cols() == k.cols(),
                 shape_error, "attention: q/k/v shapes do not match the attention shape");
  out.resize(q.rows(), q.cols());
  probs.resize(a.seqs * a.heads * T, T);
  const S scale = S(1) / std::sqrt(static_cast<S>(d));
  ex.parallel_for(a.seqs * a.heads, 1, [&](index_t j0, index_t j1) {
    for (index_t j = j0; j < j1; ++j) {
      const index_t b = j / a.heads, h = j % a.heads, g = h / group;
      auto Q = q.block(b * T, h * d, T, d);
      auto K = k.block(b * T, g * d, T, d);
      auto V = v.block(b * T, g * d, T, d);
      auto P = probs.middleRows(j * T, T);
      P.noalias() = Q * K.transpose();
      for (index_t t = 0; t < T; ++t) {
        S mx = -std::numeric_limits<S>::infinity();
        for (index_t u = 0; u <= t; ++u) {
          P(t, u) *= scale;
          mx = std::max(mx, P(t, u));
        }
        S sum = 0;
        for (index_t u = 0; u <= t; ++u) {
          P(t, u) = std::exp(P(t, u) - mx);
          sum += P(t, u);
        }
        for (index_t u = 0; u <= t; ++u) P(t, u) /= sum;
        for (index_t u = t + 1; u < T; ++u) P(t, u) = 0;
      }
      out.block(b * T, h * d, T, d).noalias() = P * V;
    }
  });
}

// dS = P (dP - rowsum(dP P)) with dP = dO V^T; dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d),
// dV = P^T dO; key/value gradients summed over the query heads of their group.
template <class S>
void attention_backward(const tensor<S>& q, const tensor<S>& k, const tensor<S>& v,
                        const attention_shape& a, const tensor<S>& probs, const tensor<S>& dout,
                        tensor<S>& dq, tensor<S>& dk, tensor<S>& dv, const executor& ex) {
  const index_t T = a.tokens, d = a.head_dim, group = a.heads / a.kv_heads;
  dq.setZero(q.rows(), q.cols());
  dk.setZero(k.rows(), k.cols());
  dv.setZero(v.rows(), v.cols());
  const S scale = S(1) / std::sqrt(static_cast<S>(d));
  // One task per (sequence, key/value head): the heads of a group write the same dK/dV block.
  ex.parallel_for(a.seqs * a.kv_heads, 1, [&](index_t j0, index_t j1) {
    tensor<S> dP(T, T);
    for (index_t j = j0; j < j1; ++j) {
      const index_t b = j / a.kv_heads, g = j % a.kv_heads;
      auto K = k.block(b * T, g * d, T, d);
      auto V = v.block(b * T, g * d, T, d);
      auto dK = dk.block(b * T, g * d, T, d);
      auto dV = dv.block(b * T, g * d, T, d);
      for (index_t h = g * group; h < (g + 1) * group; ++h) {
        auto P = probs.middleRows((b * a.heads + h) * T, T);
        auto dO = dout.block(b * T, h * d, T, d);
        dV.noalias() += P.transpose() * dO;
        dP.noalias() = dO * V.transpose();
        for (index_t t = 0; t < T; ++t) {
          S dot = 0;
          for (index_t u = 0; u <= t; ++u) dot += dP(t, u) * P(t, u);
          for (index_t u = 0; u < T; ++u)
            dP(t, u) = u <= t ? P(t, u) * (dP(t, u) - dot) * scale : 0;
        }
        dq.block(b * T, h * d, T, d).noalias() = dP * K;
        dK.noalias() += dP.transpose() * q.block(b * T, h * d, T, d);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Gated feed-forward activations on [tokens, 2F] = [gate | up]: relu2 (BitNet's squared ReLU,
// relu(g)^2 u, in the inference model's order) or SiLU (silu(g) u, LLaMA's SwiGLU).
enum class gate_kind { relu2, silu };

template <class S>
void gated_forward(const tensor<S>& gate, const tensor<S>& up, gate_kind kind, tensor<S>& out) {
  BITLIN_REQUIRE(gate.rows() == up.rows() && gate.cols() == up.cols(), shape_error,
                 "gated_forward: gate and up differ in shape");
  out.resize(gate.rows(), gate.cols());
  for (index_t r = 0; r < gate.rows(); ++r)
    for (index_t c = 0; c < gate.cols(); ++c) {
      const S g = gate(r, c);
      if (kind == gate_kind::relu2) {
        const S p = g > S(0) ? g : S(0);
        out(r, c) = p * p * up(r, c);
      } else {
        out(r, c) = g / (S(1) + std::exp(-g)) * up(r, c);
      }
    }
}

template <class S>
void gated_backward(const tensor<S>& gate, const tensor<S>& up, gate_kind kind,
                    const tensor<S>& dout, tensor<S>& dgate, tensor<S>& dup) {
  dgate.resize(gate.rows(), gate.cols());
  dup.resize(up.rows(), up.cols());
  for (index_t r = 0; r < gate.rows(); ++r)
    for (index_t c = 0; c < gate.cols(); ++c) {
      const S g = gate(r, c), u = up(r, c), d = dout(r, c);
      if (kind == gate_kind::relu2) {
        const S p = g > S(0) ? g : S(0);
        dgate(r, c) = d * u * S(2) * p;
        dup(r, c) = d * p * p;
      } else {
        const S sig = S(1) / (S(1) + std::exp(-g));
        dgate(r, c) = d * u * sig * (S(1) + g * (S(1) - sig));
        dup(r, c) = d * g * sig;
      }
    }
}

// ---------------------------------------------------------------------------------------------
// Embedding lookup and its scatter-add backward (in token order, so sums are reproducible).
template <class S>
void embedding_forward(const tensor<S>& E, const std::vector<std::int32_t>& ids, tensor<S>& X) {
  X.resize(static_cast<index_t>(ids.size()), E.cols());
  for (std::size_t t = 0; t < ids.size(); ++t) {
    BITLIN_REQUIRE(ids[t] >= 0 && ids[t] < E.rows(), value_error, "embedding: token id ", ids[t],
                   " at position ", t, " is outside the vocabulary [0, ", E.rows(), ")");
    X.row(static_cast<index_t>(t)) = E.row(ids[t]);
  }
}

template <class S>
void embedding_backward(const std::vector<std::int32_t>& ids, const tensor<S>& dX, tensor<S>& dE) {
  for (std::size_t t = 0; t < ids.size(); ++t) dE.row(ids[t]) += dX.row(static_cast<index_t>(t));
}

// ---------------------------------------------------------------------------------------------
// Mean cross-entropy over the rows of logits [N, V] against targets; returns the loss (natural
// log units) and writes dlogits = (softmax - onehot) / N. Sums run in double.
template <class S>
double cross_entropy(const tensor<S>& logits, const std::vector<std::int32_t>& targets,
                     tensor<S>* dlogits, std::vector<double>* per_token = nullptr) {
  const index_t N = logits.rows(), V = logits.cols();
  BITLIN_REQUIRE(static_cast<index_t>(targets.size()) == N, shape_error,
                 "cross_entropy: ", targets.size(), " targets for ", N, " rows");
  BITLIN_REQUIRE(N > 0, shape_error, "cross_entropy: no rows");
  if (dlogits) dlogits->resize(N, V);
  if (per_token) per_token->assign(static_cast<std::size_t>(N), 0.0);
  double total = 0.0;
  for (index_t r = 0; r < N; ++r) {
    const std::int32_t y = targets[static_cast<std::size_t>(r)];
    BITLIN_REQUIRE(y >= 0 && y < V, value_error, "cross_entropy: target ", y, " at row ", r,
                   " is outside the vocabulary [0, ", V, ")");
    double mx = -std::numeric_limits<double>::infinity();
    for (index_t c = 0; c < V; ++c) mx = std::max(mx, static_cast<double>(logits(r, c)));
    double sum = 0.0;
    for (index_t c = 0; c < V; ++c) sum += std::exp(static_cast<double>(logits(r, c)) - mx);
    const double lse = mx + std::log(sum);
    const double l = lse - static_cast<double>(logits(r, y));
    total += l;
    if (per_token) (*per_token)[static_cast<std::size_t>(r)] = l;
    if (dlogits)
      for (index_t c = 0; c < V; ++c) {
        const double p = std::exp(static_cast<double>(logits(r, c)) - lse);
        (*dlogits)(r, c) = static_cast<S>((p - (c == y ? 1.0 : 0.0)) / static_cast<double>(N));
      }
  }
  return total / static_cast<double>(N);
}

}  // namespace bitlin::train
