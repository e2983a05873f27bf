// One BitNet b1.58 decoder layer (Hugging Face `BitNetDecoderLayer`), built from layers/: RMSNorm,
// the fused q/k/v BitLinear, RoPE, causal grouped-query attention, attn_sub_norm, o_proj; RMSNorm,
// the fused gate/up BitLinear, relu²·up, ffn_sub_norm, down_proj; residuals.
// The same layer is the BitNet b1 variant when the config says so (weight_bits 1): binary
// projections on the 1-bit kernels and, with activation_norm "layer_norm", the b1 paper's
// affine-free LayerNorm on every BitLinear input right before its absmax quantization.
//
// Exactness: every BitLinear quantizes its input per token to int8 (absmax, round half to even),
// multiplies exactly in integers on the fast kernels, and rescales with the checkpoint's
// convention. One normalized activation is quantized once into kernel-ready rows
// (activation_buffer) and shared by the projections that read it. Norms, RoPE, attention and
// softmax run in float, as transformers does in float32.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/activation_buffer.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/layers/attention.hpp"
#include "bitlin/layers/relu2_gate.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/model/kv_cache.hpp"
#include "bitlin/model/rope.hpp"
#include "bitlin/model/weights.hpp"
#include "bitlin/norm/norm.hpp"
#include "bitlin/quant/activation.hpp"

namespace bitlin::model {

// Buffers one forward pass of a block needs, kept across calls (one per model run, shared by the
// layers in turn), so that a decode step allocates nothing once they have held its shapes.
struct block_workspace {
  matrix_f xn, qkv, attn, out, gu, act;
  activation_buffer xq;
  std::vector<float> attn_scratch;  // cached_attention's, one region per head
};

// RoPE on the query and key heads of rows [0, T) of a fused q|k|v matrix (row t at position
// pos0 + t, the angles rope holds for those positions), then the keys and values of those
// positions into kv (keys as columns, see layer_kv).
inline void rope_and_store(matrix_f& qkv, index_t heads, index_t kv_heads, index_t d,
                           const rope_angles& rope, layer_kv& kv, index_t pos0) {
  const index_t qs = heads * d, kvs = kv_heads * d;
  for (index_t t = 0; t < qkv.rows(); ++t) {
    float* row = qkv.row(t).data();
    for (index_t h = 0; h < heads + kv_heads; ++h) rope.apply(row + h * d, t);
    kv.kt.col(pos0 + t) = Eigen::Map<const Eigen::VectorXf>(row + qs, kvs);
    std::copy(row + qs + kvs, row + qs + 2 * kvs, kv.v.row(pos0 + t).data());
  }
}

// Causal grouped-query attention of the T queries of qkv (positions pos0 ..) over the pos0 + T
// cached positions: attn = softmax(q k^T / sqrt(d)) v per head, in float, query head h reading KV
// head h / (heads / kv_heads).
// scratch: grown here, on the calling thread, to one region per head, so that pool workers
// allocate nothing.
inline void cached_attention(const matrix_f& qkv, index_t heads, index_t kv_heads, index_t d,
                             const layer_kv& kv, index_t pos0, matrix_f& attn,
                             std::vector<float>& scratch, const executor& ex) {
  const index_t T = qkv.rows(), group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const isa path = active_isa();
  const index_t per_head = attention_scratch_floats(kv.kt.cols());
  if (scratch.size() < static_cast<std::size_t>(heads * per_head))
    scratch.resize(static_cast<std::size_t>(heads * per_head));
  ex.parallel_for(heads, 1, [&](index_t h0, index_t h1) {
    for (index_t h = h0; h < h1; ++h) {
      const index_t g = h / group;
      attend_head({qkv.data() + h * d, qkv.cols(), kv.kt.data() + g * d * kv.kt.cols(),
                   kv.kt.cols(), kv.v.data() + g * d, kv.v.cols(), attn.data() + h * d, attn.cols(),
                   T, pos0, d, scale, scratch.data() + h * per_head},
                  path);
    }
  });
}

class transformer_block {
 public:
  // tp_groups = P: the groups of a P-rank tensor-parallel run with per-shard activation scales
  // (distributed/sharded_bitnet.hpp), in one process, as the reference the sharded model is
  // tested against: the inputs of o_proj and down_proj quantized per (token, 1/P of the
  // features), those products summed per block (the reference path), and the sub-norms' sums of
  // squares taken per block. 1 = the ordinary model.
  // layout: the kernel layout of the four projections (model/weights.hpp).
  transformer_block(const bitnet_config& c, const block_weights& w, isa target = active_isa(),
                    int tp_groups = 1, ternary_layout layout = ternary_layout::i2)
      : tp_groups_(tp_groups),
        hidden_(c.hidden_size),
        intermediate_(c.intermediate_size),
        heads_(c.num_attention_heads),
        kv_heads_(c.num_key_value_heads),
        head_dim_(c.head_dim),
        eps_(c.rms_norm_eps),
        act_layer_norm_(c.activation_layer_norm),
        act_norm_eps_(c.activation_norm_eps),
        input_norm_(w.input_layernorm),
        post_attention_norm_(w.post_attention_layernorm),
        attn_sub_norm_(w.attn_sub_norm),
        ffn_sub_norm_(w.ffn_sub_norm) {
    auto check = [](const ternary_projection& p, index_t out, index_t in, const char* name) {
      BITLIN_REQUIRE(p.trits.rows() == out && p.trits.cols() == in, shape_error,
                     "transformer_block: ", name, " is ", p.trits.rows(), " x ", p.trits.cols(),
                     ", expected ", out, " x ", in);
    };
    auto check_norm = [](const std::vector<float>& v, index_t n, const char* name) {
      BITLIN_REQUIRE(static_cast<index_t>(v.size()) == n, shape_error, "transformer_block: ", name,
                     " has ", v.size(), " values, expected ", n);
    };
    const index_t q = c.q_size(), kv = c.kv_size();
    check(w.q_proj, q, hidden_, "q_proj");
    check(w.k_proj, kv, hidden_, "k_proj");
    check(w.v_proj, kv, hidden_, "v_proj");
    check(w.o_proj, hidden_, q, "o_proj");
    check(w.gate_proj, intermediate_, hidden_, "gate_proj");
    check(w.up_proj, intermediate_, hidden_, "up_proj");
    check(w.down_proj, hidden_, intermediate_, "down_proj");
    check_norm(input_norm_, hidden_, "input_layernorm");
    check_norm(post_attention_norm_, hidden_, "post_attention_layernorm");
    check_norm(attn_sub_norm_, q, "attn_sub_norm");
    check_norm(ffn_sub_norm_, intermediate_, "ffn_sub_norm");
    const bool bin = c.binary();
    try {
      qkv_ = block_projection({&w.q_proj, &w.k_proj, &w.v_proj}, bin, target, layout);
      o_ = block_projection({&w.o_proj}, bin, target, layout);
      gate_up_ = block_projection({&w.gate_proj, &w.up_proj}, bin, target, layout);
      down_ = block_projection({&w.down_proj}, bin, target, layout);
    } catch (const value_error& e) {
      throw value_error(
          ::bitlin::detail::concat("transformer_block (", c.model_kind(), " weights): ", e.what()));
    }
    BITLIN_REQUIRE(tp_groups >= 1 && q % tp_groups == 0 && intermediate_ % tp_groups == 0,
                   shape_error, "transformer_block: tp_groups = ", tp_groups,
                   " must divide the attention width ", q, " and intermediate_size ",
                   intermediate_);
    BITLIN_REQUIRE(tp_groups == 1 || !act_layer_norm_, value_error,
                   "transformer_block: tensor-parallel groups with the BitLinear LayerNorm "
                   "(activation_norm \"layer_norm\") are not supported");
  }

  std::size_t bytes() const {
    const std::size_t norms = input_norm_.size() + post_attention_norm_.size() +
                              attn_sub_norm_.size() + ffn_sub_norm_.size();
    std::size_t b = norms * sizeof(float);
    for (const block_projection* l : {&qkv_, &o_, &gate_up_, &down_})
      b += l->weight_bytes() + l->scales().values.size() * sizeof(float);
    return b;
  }
  const block_projection& qkv() const { return qkv_; }
  const block_projection& o() const { return o_; }
  const block_projection& gate_up() const { return gate_up_; }
  const block_projection& down() const { return down_; }
  bool is_binary() const { return qkv_.is_binary(); }

  // Runs x [tokens, hidden] (the residual stream at positions pos0 ..) through the layer in place.
  // Keys and values of these positions are written to rows pos0 .. of kv, whose rows [0, pos0)
  // must hold the earlier positions; its capacity must cover pos0 + tokens.
  void forward(matrix_f& x, layer_kv& kv, index_t pos0, const rope_angles& rope,
               const executor& ex) const {
    block_workspace ws;
    forward(x, kv, pos0, rope, ws, ex);
  }

  void forward(matrix_f& x, layer_kv& kv, index_t pos0, const rope_angles& rope,
               block_workspace& ws, const executor& ex) const {
    const index_t T = x.rows();
    const index_t qs = heads_ * head_dim_, kvs = kv_heads_ * head_dim_;
    BITLIN_REQUIRE(x.cols() == hidden_, shape_error, "transformer_block: input has ", x.cols(),
                   " features, expected ", hidden_);
    BITLIN_REQUIRE(kv.v.rows() >= pos0 + T && kv.v.cols() == kvs, shape_error,
                   "transformer_block: KV cache too small");

    // Attention.
    ws.xn.resize(T, hidden_);
    rms_norm(x, input_norm_.data(), eps_, ws.xn, 0, ex);
    activation_norm(ws.xn);
    ws.xq.quantize(ws.xn.data(), T, hidden_, hidden_, 8, ex);
    ws.qkv.resize(T, qs + 2 * kvs);
    qkv_.forward(ws.xq, ws.qkv.data(), ws.qkv.cols(), ex);
    rope_and_store(ws.qkv, heads_, kv_heads_, head_dim_, rope, kv, pos0);
    ws.attn.resize(T, qs);
    cached_attention(ws.qkv, heads_, kv_heads_, head_dim_, kv, pos0, ws.attn, ws.attn_scratch, ex);
    ws.out.resize(T, hidden_);
    if (tp_groups_ > 1) {
      const index_t block = qs / tp_groups_;
      rms_norm(ws.attn, attn_sub_norm_.data(), eps_, ws.attn, block, ex);
      o_.forward_quantized(absmax_quantize(ws.attn, 8, scale_groups::k_blocks(block)), ws.out);
    } else {
      rms_norm(ws.attn, attn_sub_norm_.data(), eps_, ws.attn, 0, ex);
      activation_norm(ws.attn);
      ws.xq.quantize(ws.attn.data(), T, qs, qs, 8, ex);
      o_.forward(ws.xq, ws.out.data(), hidden_, ex);
    }
    x += ws.out;

    // Feed-forward.
    rms_norm(x, post_attention_norm_.data(), eps_, ws.xn, 0, ex);
    activation_norm(ws.xn);
    ws.xq.quantize(ws.xn.data(), T, hidden_, hidden_, 8, ex);
    ws.gu.resize(T, 2 * intermediate_);
    gate_up_.forward(ws.xq, ws.gu.data(), ws.gu.cols(), ex);
    ws.act.resize(T, intermediate_);
    relu2_gate(ws.gu, ws.act, ex);
    if (tp_groups_ > 1) {
      const index_t block = intermediate_ / tp_groups_;
      rms_norm(ws.act, ffn_sub_norm_.data(), eps_, ws.act, block, ex);
      down_.forward_quantized(absmax_quantize(ws.act, 8, scale_groups::k_blocks(block)), ws.out);
    } else {
      rms_norm(ws.act, ffn_sub_norm_.data(), eps_, ws.act, 0, ex);
      activation_norm(ws.act);
      ws.xq.quantize(ws.act.data(), T, intermediate_, intermediate_, 8, ex);
      down_.forward(ws.xq, ws.out.data(), hidden_, ex);
    }
    x += ws.out;
  }

 private:
  // BitNet b1's BitLinear normalizes its input (no affine parameters) before quantizing it; in
  // place, on the activations the fused projections share.
  void activation_norm(matrix_f& m) const {
    if (act_layer_norm_) layer_norm(m, nullptr, nullptr, act_norm_eps_, m);
  }

  int tp_groups_ = 1;
  index_t hidden_, intermediate_, heads_, kv_heads_, head_dim_;
  float eps_;
  bool act_layer_norm_ = false;
  float act_norm_eps_ = 1e-5f;
  std::vector<float> input_norm_, post_attention_norm_, attn_sub_norm_, ffn_sub_norm_;
  block_projection qkv_, o_, gate_up_, down_;
};

}  // namespace bitlin::model
