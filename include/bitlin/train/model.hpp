// The BitNet b1.58 decoder as the inference model runs it (model/bitnet.hpp), with a backward
// pass: embeddings (tied head) -> per layer [RMSNorm -> q/k/v BitLinear -> RoPE -> causal GQA
// attention -> attn_sub_norm -> o BitLinear -> residual; RMSNorm -> gate/up BitLinear -> relu2 ->
// ffn_sub_norm -> down BitLinear -> residual] -> RMSNorm -> logits. Parameter names are the Hugging
// Face ones, so a checkpoint is the parameter list written out (train/checkpoint.hpp).
//
// Scalar float is the training model (quantized layers on the integer kernels, ste_linear.hpp);
// scalar double runs the same graph with full-precision layers only, for finite-difference checks
// of the whole composition.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/train/ops.hpp"
#include "bitlin/train/ste_linear.hpp"

namespace bitlin::train {

struct model_shape {
  index_t vocab = 512, hidden = 128, ffn = 256, layers = 2, heads = 4, kv_heads = 2, context = 64;
  double rope_theta = 10000.0;
  float eps = 1e-5f;
  weight_mode weights = weight_mode::ternary;
  int act_bits = 8;
  gate_kind gate = gate_kind::relu2;
  float init_std = 0.02f;

  index_t head_dim() const { return heads > 0 ? hidden / heads : 0; }

  void validate() const {
    auto positive = [](index_t v, const char* what) {
      BITLIN_REQUIRE(v > 0, value_error, "model shape: ", what, " must be positive, got ", v);
    };
    positive(vocab, "vocab");
    positive(hidden, "hidden");
    positive(ffn, "ffn");
    positive(layers, "layers");
    positive(heads, "heads");
    positive(kv_heads, "kv-heads");
    positive(context, "context");
    BITLIN_REQUIRE(hidden % heads == 0, value_error, "model shape: hidden ", hidden,
                   " is not a multiple of heads ", heads);
    BITLIN_REQUIRE(heads % kv_heads == 0, value_error, "model shape: heads ", heads,
                   " is not a multiple of kv-heads ", kv_heads);
    BITLIN_REQUIRE(head_dim() % 2 == 0, value_error, "model shape: head dimension ", head_dim(),
                   " must be even (rotary embeddings)");
    BITLIN_REQUIRE(act_bits >= 2 && act_bits <= 8, value_error,
                   "model shape: activation bits must be in [2, 8], got ", act_bits);
  }
};

template <class S>
struct layer_params {
  tensor<S> input_norm, q, k, v, o, attn_sub_norm, post_norm, gate, up, down, ffn_sub_norm;
};

template <class S>
struct model_params {
  tensor<S> embed;  // [vocab, hidden], also the output head
  std::vector<layer_params<S>> layers;
  tensor<S> final_norm;  // [1, hidden]

  // f(name, tensor, decays): every parameter in a fixed order, with the Hugging Face name and
  // whether weight decay applies (matrices yes, norm gains no).
  template <class F>
  void visit(F&& f) {
    visit_impl(*this, f);
  }
  template <class F>
  void visit(F&& f) const {
    visit_impl(*this, f);
  }

  // Zeros of the same shapes (gradients, optimizer moments).
  model_params zeros_like() const {
    model_params z = *this;
    z.visit([](const std::string&, tensor<S>& t, bool) { t.setZero(); });
    return z;
  }

  template <class T>
  model_params<T> cast() const {
    model_params<T> out;
    out.embed = embed.template cast<T>();
    out.final_norm = final_norm.template cast<T>();
    for (const auto& l : layers) {
      layer_params<T> m;
      m.input_norm = l.input_norm.template cast<T>();
      m.q = l.q.template cast<T>();
      m.k = l.k.template cast<T>();
      m.v = l.v.template cast<T>();
      m.o = l.o.template cast<T>();
      m.attn_sub_norm = l.attn_sub_norm.template cast<T>();
      m.post_norm = l.post_norm.template cast<T>();
      m.gate = l.gate.template cast<T>();
      m.up = l.up.template cast<T>();
      m.down = l.down.template cast<T>();
      m.ffn_sub_norm = l.ffn_sub_norm.template cast<T>();
      out.layers.push_back(std::move(m));
    }
    return out;
  }

 private:
  template <class Self, class F>
  static void visit_impl(Self& self, F& f) {
    f(std::string("model.embed_tokens.weight"), self.embed, true);
    for (std::size_t i = 0; i < self.layers.size(); ++i) {
      auto& l = self.layers[i];
      const std::string p = "model.layers." + std::to_string(i) + ".";
      f(p + "input_layernorm.weight", l.input_norm, false);
      f(p + "self_attn.q_proj.weight", l.q, true);
      f(p + "self_attn.k_proj.weight", l.k, true);
      f(p + "self_attn.v_proj.weight", l.v, true);
      f(p + "self_attn.o_proj.weight", l.o, true);
      f(p + "self_attn.attn_sub_norm.weight", l.attn_sub_norm, false);
      f(p + "post_attention_layernorm.weight", l.post_norm, false);
      f(p + "mlp.gate_proj.weight", l.gate, true);
      f(p + "mlp.up_proj.weight", l.up, true);
      f(p + "mlp.down_proj.weight", l.down, true);
      f(p + "mlp.ffn_sub_norm.weight", l.ffn_sub_norm, false);
    }
    f(std::string("model.norm.weight"), self.final_norm, false);
  }
};

// A small portable generator (splitmix64): the same seed gives the same model and batches on
// every platform, which std::normal_distribution does not promise.
class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {  // Box-Muller, one value per call
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

template <class S = float>
model_params<S> init_params(const model_shape& m, std::uint64_t seed) {
  m.validate();
  rng r(seed);
  auto normal = [&](index_t rows, index_t cols) {
    tensor<S> t(rows, cols);
    for (index_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<S>(m.init_std * r.normal());
    return t;
  };
  auto ones = [](index_t n) { return tensor<S>::Ones(1, n).eval(); };
  const index_t H = m.hidden, Q = m.heads * m.head_dim(), KV = m.kv_heads * m.head_dim();
  model_params<S> p;
  p.embed = normal(m.vocab, H);
  for (index_t l = 0; l < m.layers; ++l) {
    layer_params<S> L;
    L.input_norm = ones(H);
    L.q = normal(Q, H);
    L.k = normal(KV, H);
    L.v = normal(KV, H);
    L.o = normal(H, Q);
    L.attn_sub_norm = ones(Q);
    L.post_norm = ones(H);
    L.gate = normal(m.ffn, H);
    L.up = normal(m.ffn, H);
    L.down = normal(H, m.ffn);
    L.ffn_sub_norm = ones(m.ffn);
    p.layers.push_back(std::move(L));
  }
  p.final_norm = ones(H);
  return p;
}

namespace detail {

// A projection for one step. Quantized modes: an ste_linear, i.e. the latent weights quantized
// and packed once, in the forward, and kept in the forward_cache for the backward. Full precision
// (float, and the double model of the finite-difference checks): plain products with the latent
// weights, as a float Linear layer computes them.
template <class S>
struct projection {
  using input = prepared<S>;
  projection() = default;
  projection(const tensor<S>& W, const model_shape& m, const executor& ex)
      : ex_(&ex), quantized_(m.weights != weight_mode::full_precision) {
    if constexpr (std::is_same_v<S, float>) {
      if (quantized_) {
        linear_spec spec;
        spec.weights = m.weights;
        spec.act_bits = m.act_bits;
        lin_ = ste_linear(W, spec, ex);
      }
    } else {
      BITLIN_REQUIRE(!quantized_, value_error,
                     "the double-precision model runs full-precision layers only");
    }
  }
  input prepare(const tensor<S>& x) const {
    if constexpr (std::is_same_v<S, float>) {
      if (quantized_) return lin_.prepare(x);
    }
    return input{{}, x};
  }
  // W is the latent weight matrix this projection was built from.
  void forward(const tensor<S>& W, const input& in, tensor<S>& y) const {
    if constexpr (std::is_same_v<S, float>) {
      if (quantized_) return lin_.forward(in, y);
    }
    matmul_nt(in.x_hat, W, y, *ex_);
  }
  // dW += dY^T x^; dx = dY W^ (no norm inside: the model normalizes with learned gains itself).
  void backward(const tensor<S>& W, const input& in, const tensor<S>& dy, tensor<S>* dx,
                tensor<S>& dW) const {
    matmul_tn_add(dy, in.x_hat, dW, *ex_);
    if (!dx) return;
    if constexpr (std::is_same_v<S, float>) {
      if (quantized_) return matmul_nn(dy, lin_.w_hat(), *dx, *ex_);
    }
    matmul_nn(dy, W, *dx, *ex_);
  }

 private:
  const executor* ex_ = &serial();
  bool quantized_ = false;
  ste_linear lin_;  // quantized modes only
};

}  // namespace detail

// Everything the backward pass needs from one forward pass.
template <class S>
struct forward_cache {
  struct layer {
    tensor<S> x0, xn1, q, k, v, probs, att, an, x1, xn2, g, u, m, mn;
    typename detail::projection<S>::input in_qkv, in_o, in_gu, in_down;
    // This step's quantized weights, from the forward: the backward reuses them.
    detail::projection<S> pq, pk, pv, po, pg, pu, pd;
  };
  std::vector<std::int32_t> ids;
  index_t seqs = 0, tokens = 0;
  std::vector<layer> layers;
  tensor<S> xf, h, logits;
};

// Logits [seqs*T, vocab] of `ids` (seqs sequences of T tokens each, T <= context), filling `cache`
// for the backward pass.
template <class S>
const tensor<S>& model_forward(const model_params<S>& p, const model_shape& m,
                               const std::vector<std::int32_t>& ids, index_t seqs,
                               forward_cache<S>& c, const executor& ex = serial()) {
  BITLIN_REQUIRE(seqs > 0 && !ids.empty() && static_cast<index_t>(ids.size()) % seqs == 0,
                 shape_error, "model_forward: ", ids.size(), " tokens do not split into ", seqs,
                 " sequences");
  const index_t T = static_cast<index_t>(ids.size()) / seqs;
  BITLIN_REQUIRE(T <= m.context, shape_error, "model_forward: sequences of ", T,
                 " tokens exceed the context ", m.context);
  const index_t d = m.head_dim();
  const S eps = static_cast<S>(m.eps);
  const rope_table<S> rope(T, d, m.rope_theta);
  const attention_shape as{seqs, T, m.heads, m.kv_heads, d};
  c.ids = ids;
  c.seqs = seqs;
  c.tokens = T;
  c.layers.resize(p.layers.size());
  tensor<S> x, tmp;
  embedding_forward(p.embed, ids, x);
  for (std::size_t l = 0; l < p.layers.size(); ++l) {
    const auto& L = p.layers[l];
    auto& C = c.layers[l];
    C.x0 = x;
    rms_norm_forward<S>(C.x0, L.input_norm.data(), eps, C.xn1);
    C.pq = detail::projection<S>(L.q, m, ex);
    C.pk = detail::projection<S>(L.k, m, ex);
    C.pv = detail::projection<S>(L.v, m, ex);
    C.po = detail::projection<S>(L.o, m, ex);
    // q, k and v read the same activations, quantized once (as the inference model does).
    C.in_qkv = C.pq.prepare(C.xn1);
    C.pq.forward(L.q, C.in_qkv, C.q);
    C.pk.forward(L.k, C.in_qkv, C.k);
    C.pv.forward(L.v, C.in_qkv, C.v);
    rope_apply(C.q, m.heads, d, rope);
    rope_apply(C.k, m.kv_heads, d, rope);
    attention_forward(C.q, C.k, C.v, as, C.att, C.probs, ex);
    rms_norm_forward<S>(C.att, L.attn_sub_norm.data(), eps, C.an);
    C.in_o = C.po.prepare(C.an);
    C.po.forward(L.o, C.in_o, tmp);
    C.x1 = C.x0 + tmp;
    rms_norm_forward<S>(C.x1, L.post_norm.data(), eps, C.xn2);
    C.pg = detail::projection<S>(L.gate, m, ex);
    C.pu = detail::projection<S>(L.up, m, ex);
    C.pd = detail::projection<S>(L.down, m, ex);
    C.in_gu = C.pg.prepare(C.xn2);
    C.pg.forward(L.gate, C.in_gu, C.g);
    C.pu.forward(L.up, C.in_gu, C.u);
    gated_forward(C.g, C.u, m.gate, C.m);
    rms_norm_forward<S>(C.m, L.ffn_sub_norm.data(), eps, C.mn);
    C.in_down = C.pd.prepare(C.mn);
    C.pd.forward(L.down, C.in_down, tmp);
    x = C.x1 + tmp;
  }
  c.xf = std::move(x);
  rms_norm_forward<S>(c.xf, p.final_norm.data(), eps, c.h);
  matmul_nt(c.h, p.embed, c.logits, ex);
  return c.logits;
}

// Accumulates into g (shaped like p, e.g. p.zeros_like()) the gradient of the loss whose gradient
// w.r.t. the logits is dlogits.
template <class S>
void model_backward(const model_params<S>& p, const model_shape& m, const forward_cache<S>& c,
                    const tensor<S>& dlogits, model_params<S>& g, const executor& ex = serial()) {
  const index_t d = m.head_dim();
  const S eps = static_cast<S>(m.eps);
  const rope_table<S> rope(c.tokens, d, m.rope_theta);
  const attention_shape as{c.seqs, c.tokens, m.heads, m.kv_heads, d};
  tensor<S> dh, dx, t1, t2, t3;
  matmul_nn(dlogits, p.embed, dh, ex);
  matmul_tn_add(dlogits, c.h, g.embed, ex);
  rms_norm_backward<S>(c.xf, p.final_norm.data(), eps, dh, dx, g.final_norm.data());
  for (std::size_t li = p.layers.size(); li-- > 0;) {
    const auto& L = p.layers[li];
    auto& G = g.layers[li];
    const auto& C = c.layers[li];
    // Feed-forward: x2 = x1 + down(ffn_sub_norm(relu2(gate) * up)).
    C.pd.backward(L.down, C.in_down, dx, &t1, G.down);
    rms_norm_backward<S>(C.m, L.ffn_sub_norm.data(), eps, t1, t2, G.ffn_sub_norm.data());
    tensor<S> dg, du;
    gated_backward(C.g, C.u, m.gate, t2, dg, du);
    C.pg.backward(L.gate, C.in_gu, dg, &t1, G.gate);
    C.pu.backward(L.up, C.in_gu, du, &t2, G.up);
    t1 += t2;
    rms_norm_backward<S>(C.x1, L.post_norm.data(), eps, t1, t3, G.post_norm.data());
    dx += t3;  // now d loss / d x1
    // Attention: x1 = x0 + o(attn_sub_norm(attention(rope(q), rope(k), v))).
    C.po.backward(L.o, C.in_o, dx, &t1, G.o);
    rms_norm_backward<S>(C.att, L.attn_sub_norm.data(), eps, t1, t2, G.attn_sub_norm.data());
    tensor<S> dq, dk, dv;
    attention_backward(C.q, C.k, C.v, as, C.probs, t2, dq, dk, dv, ex);
    rope_apply(dq, m.heads, d, rope, true);
    rope_apply(dk, m.kv_heads, d, rope, true);
    C.pq.backward(L.q, C.in_qkv, dq, &t1, G.q);
    C.pk.backward(L.k, C.in_qkv, dk, &t2, G.k);
    t1 += t2;
    C.pv.backward(L.v, C.in_qkv, dv, &t2, G.v);
    t1 += t2;
    rms_norm_backward<S>(C.x0, L.input_norm.data(), eps, t1, t3, G.input_norm.data());
    dx += t3;  // d loss / d x0
  }
  embedding_backward(c.ids, dx, g.embed);
}

// Mean next-token cross-entropy of `seqs` windows of T+1 tokens (inputs = first T, targets = last
// T of each), and, with grads, its gradient added to *grads.
template <class S>
double loss_and_grad(const model_params<S>& p, const model_shape& m,
                     const std::vector<std::int32_t>& windows, index_t seqs, model_params<S>* grads,
                     const executor& ex = serial(), std::vector<double>* per_token = nullptr,
                     tensor<S>* logits_out = nullptr) {
  BITLIN_REQUIRE(seqs > 0 && static_cast<index_t>(windows.size()) % seqs == 0, shape_error,
                 "loss_and_grad: ", windows.size(), " tokens do not split into ", seqs, " windows");
  const index_t W = static_cast<index_t>(windows.size()) / seqs;
  BITLIN_REQUIRE(W >= 2, shape_error, "loss_and_grad: windows need at least 2 tokens");
  std::vector<std::int32_t> ids, targets;
  ids.reserve(static_cast<std::size_t>(seqs * (W - 1)));
  targets.reserve(ids.capacity());
  for (index_t s = 0; s < seqs; ++s)
    for (index_t t = 0; t + 1 < W; ++t) {
      ids.push_back(windows[static_cast<std::size_t>(s * W + t)]);
      targets.push_back(windows[static_cast<std::size_t>(s * W + t + 1)]);
    }
  forward_cache<S> c;
  const tensor<S>& logits = model_forward(p, m, ids, seqs, c, ex);
  if (logits_out) *logits_out = logits;
  tensor<S> dl;
  const double loss = cross_entropy(logits, targets, grads ? &dl : nullptr, per_token);
  if (grads) model_backward(p, m, c, dl, *grads, ex);
  return loss;
}

}  // namespace bitlin::train
