// BitNet b1.58 (Hugging Face `BitNetForCausalLM`) as reusable library code: the transformer block,
// the whole model with a KV cache for incremental decoding, and a generator of random models of
// any shape (for benchmarks, without files). Loading checkpoints lives in loader.hpp.
//
// Exactness: every BitLinear quantizes its input per token to int8 (absmax, round half to even),
// multiplies exactly in integers on the fast ternary kernels, and rescales with the checkpoint's
// convention (acc / (s_x * s_w) for "bitlinear", acc / s_x * s_w for "autobitlinear"). One
// normalized activation is quantized once and shared by the projections that read it (q/k/v,
// gate/up), which are concatenated into one weight matrix; their differing per-tensor scales
// become row groups of the epilogue, so the fused product is bit-identical to separate ones.
// Norms, RoPE, attention and softmax run in float, as transformers does in float32.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/model/act_quant.hpp"
#include "bitlin/model/attention.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/model/head_gemv.hpp"
#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/norm.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin::model {

// One ternary projection as a checkpoint describes it: trits [out, in] and one per-tensor scale
// applied with `convention`.
struct ternary_projection {
  matrix_i8 trits;
  float scale = 1.0f;
  scale_convention convention = scale_convention::divide;
};

// Several projections that read the same input, concatenated along the output dimension and
// packed once into the fast kernel's layout.
class fused_linear {
 public:
  fused_linear() = default;

  fused_linear(const std::vector<const ternary_projection*>& parts, isa target = active_isa()) {
    BITLIN_REQUIRE(!parts.empty(), shape_error, "fused_linear: no projections");
    const index_t in = parts.front()->trits.cols();
    index_t out = 0, group = 0;
    bool same_convention = true;
    for (const auto* p : parts) {
      BITLIN_REQUIRE(p->trits.cols() == in, shape_error, "fused_linear: projections read ", in,
                     " and ", p->trits.cols(), " features");
      BITLIN_REQUIRE(p->trits.rows() > 0, shape_error, "fused_linear: empty projection");
      out += p->trits.rows();
      group = std::gcd(group, p->trits.rows());
      same_convention = same_convention && p->convention == parts.front()->convention;
    }
    // Mixed conventions only arise from a checkpoint mixing packed and float projections; the
    // divide form is then used for all, with 1/scale for the multiplying ones (not bit-exact).
    convention_ = same_convention ? parts.front()->convention : scale_convention::divide;
    std::vector<float> per_part;
    for (const auto* p : parts) {
      float s = p->scale;
      if (p->convention != convention_) {
        BITLIN_REQUIRE(s != 0.0f, value_error,
                       "fused_linear: cannot mix a zero multiplying scale with dividing ones");
        s = 1.0f / s;
      }
      BITLIN_REQUIRE(std::isfinite(s) && (s != 0.0f || convention_ == scale_convention::multiply),
                     value_error, "fused_linear: weight scale ", s, " is not usable");
      per_part.push_back(s);
    }
    const bool uniform = std::all_of(per_part.begin(), per_part.end(),
                                     [&](float s) { return s == per_part.front(); });
    if (uniform) {
      rows_per_group_ = 0;
      scales_ = {per_part.front()};
    } else {
      rows_per_group_ = group;
      for (std::size_t i = 0; i < parts.size(); ++i)
        scales_.insert(scales_.end(), static_cast<std::size_t>(parts[i]->trits.rows() / group),
                       per_part[i]);
    }
    if (parts.size() == 1) {
      weights_ = std::make_shared<ternary_gemm_weights>(parts.front()->trits, target);
    } else {
      matrix_i8 all(out, in);
      index_t r = 0;
      for (const auto* p : parts) {
        all.middleRows(r, p->trits.rows()) = p->trits;
        r += p->trits.rows();
      }
      weights_ = std::make_shared<ternary_gemm_weights>(all, target);
    }
  }

  index_t in_features() const { return weights_ ? weights_->cols() : 0; }
  index_t out_features() const { return weights_ ? weights_->rows() : 0; }
  std::size_t bytes() const {
    return (weights_ ? weights_->bytes() : 0) + scales_.size() * sizeof(float);
  }
  const ternary_gemm_weights& weights() const { return *weights_; }
  scale_convention convention() const { return convention_; }

  // y[t, :] = rescale(xq[t, :] . W^T) for int8 rows xq with per-token scales sx.
  void forward(const std::int8_t* xq, const float* sx, index_t tokens, index_t ldx, float* y,
               index_t ldy, const executor& ex) const {
    gemm_epilogue ep;
    ep.act_scale = sx;
    ep.weight_scale = scales_.data();
    ep.rows_per_scale_group = rows_per_group_;
    ep.convention = convention_;
    ternary_gemm_f32(*weights_, xq, tokens, ldx, ep, y, ldy, ex);
  }

 private:
  std::shared_ptr<const ternary_gemm_weights> weights_;  // immutable once packed; copies share it
  std::vector<float> scales_;
  index_t rows_per_group_ = 0;
  scale_convention convention_ = scale_convention::divide;
};

// The weights of one decoder layer, as named in the checkpoint.
struct block_weights {
  std::vector<float> input_layernorm, post_attention_layernorm, attn_sub_norm, ffn_sub_norm;
  ternary_projection q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
};

// Keys and values of one layer, [capacity, num_key_value_heads * head_dim] each, after RoPE.
struct layer_kv {
  matrix_f k, v;
};

// The KV cache of a whole model: what incremental decoding keeps between calls.
class kv_cache {
 public:
  kv_cache() = default;
  // max_tokens: the most positions the model supports (max_position_embeddings; 0 = no limit).
  kv_cache(index_t layers, index_t kv_size, index_t max_tokens = 0)
      : kv_size_(kv_size), max_tokens_(max_tokens), layers_(static_cast<std::size_t>(layers)) {}

  index_t size() const { return len_; }
  index_t capacity() const { return layers_.empty() ? 0 : layers_.front().k.rows(); }
  void clear() { len_ = 0; }
  std::size_t bytes() const {
    return layers_.size() * 2 * static_cast<std::size_t>(capacity() * kv_size_) * sizeof(float);
  }
  // Makes room for `tokens` cached positions, keeping what is cached.
  void reserve(index_t tokens) {
    BITLIN_REQUIRE(max_tokens_ <= 0 || tokens <= max_tokens_, value_error, "kv_cache: ", tokens,
                   " positions needed, but the model supports ", max_tokens_,
                   " (config max_position_embeddings); the prompt and generated tokens must fit");
    if (tokens <= capacity()) return;
    index_t cap = std::max(tokens, 2 * capacity());
    if (max_tokens_ > 0) cap = std::min(cap, max_tokens_);
    for (auto& l : layers_) {
      for (matrix_f* m : {&l.k, &l.v}) {
        matrix_f grown(cap, kv_size_);
        // A cache that never held anything is still 0 x 0, so there is nothing (of any width) to
        // keep.
        if (len_ > 0) grown.topRows(len_) = m->topRows(len_);
        *m = std::move(grown);
      }
    }
  }
  layer_kv& layer(index_t i) { return layers_[static_cast<std::size_t>(i)]; }
  index_t layers() const { return static_cast<index_t>(layers_.size()); }
  void advance(index_t tokens) { len_ += tokens; }

 private:
  index_t kv_size_ = 0;
  index_t max_tokens_ = 0;
  index_t len_ = 0;
  std::vector<layer_kv> layers_;
};

// cos/sin of the default rotary embedding for a run of consecutive positions, [tokens, head_dim/2].
// Computed as transformers does in float32: inv_freq = 1 / theta^(2i/d), angle = position *
// inv_freq.
struct rope_angles {
  matrix_f cos, sin;
  rope_angles(const bitnet_config& c, index_t pos0, index_t tokens) {
    const index_t half = c.head_dim / 2;
    cos.resize(tokens, half);
    sin.resize(tokens, half);
    for (index_t i = 0; i < half; ++i) {
      const float expo = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
      const auto inv_freq =
          static_cast<float>(1.0 / std::pow(c.rope_theta, static_cast<double>(expo)));
      for (index_t t = 0; t < tokens; ++t) {
        const float angle = static_cast<float>(pos0 + t) * inv_freq;
        cos(t, i) = static_cast<float>(std::cos(static_cast<double>(angle)));
        sin(t, i) = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
    }
  }
  // Rotate-half convention: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin) over the two halves.
  void apply(float* x, index_t t) const {
    const index_t half = cos.cols();
    for (index_t i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half], c = cos(t, i), s = sin(t, i);
      x[i] = a * c - b * s;
      x[i + half] = b * c + a * s;
    }
  }
};

namespace detail {
// Per-token int8 quantization of the rows of X into q (same shape), scales into s.
inline void quantize_rows(const matrix_f& X, matrix_i8& q, std::vector<float>& s) {
  q.resize(X.rows(), X.cols());
  s.resize(static_cast<std::size_t>(X.rows()));
  for (index_t t = 0; t < X.rows(); ++t)
    s[static_cast<std::size_t>(t)] = absmax_i8_row(X.row(t).data(), X.cols(), q.row(t).data());
}
}  // namespace detail

class transformer_block {
 public:
  transformer_block(const bitnet_config& c, const block_weights& w, isa target = active_isa())
      : hidden_(c.hidden_size),
        intermediate_(c.intermediate_size),
        heads_(c.num_attention_heads),
        kv_heads_(c.num_key_value_heads),
        head_dim_(c.head_dim),
        eps_(c.rms_norm_eps),
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
    qkv_ = fused_linear({&w.q_proj, &w.k_proj, &w.v_proj}, target);
    o_ = fused_linear({&w.o_proj}, target);
    gate_up_ = fused_linear({&w.gate_proj, &w.up_proj}, target);
    down_ = fused_linear({&w.down_proj}, target);
  }

  std::size_t bytes() const {
    const std::size_t norms = input_norm_.size() + post_attention_norm_.size() +
                              attn_sub_norm_.size() + ffn_sub_norm_.size();
    return qkv_.bytes() + o_.bytes() + gate_up_.bytes() + down_.bytes() + norms * sizeof(float);
  }

  // Runs x [tokens, hidden] (the residual stream at positions pos0 ..) through the layer in place.
  // Keys and values of these positions are written to rows pos0 .. of kv, whose rows [0, pos0)
  // must hold the earlier positions; its capacity must cover pos0 + tokens.
  void forward(matrix_f& x, layer_kv& kv, index_t pos0, const rope_angles& rope,
               const executor& ex) const {
    const index_t T = x.rows();
    const index_t qs = heads_ * head_dim_, kvs = kv_heads_ * head_dim_;
    BITLIN_REQUIRE(x.cols() == hidden_, shape_error, "transformer_block: input has ", x.cols(),
                   " features, expected ", hidden_);
    BITLIN_REQUIRE(kv.k.rows() >= pos0 + T && kv.k.cols() == kvs, shape_error,
                   "transformer_block: KV cache too small");
    matrix_i8 xq;
    std::vector<float> sx;

    // Attention.
    matrix_f xn(T, hidden_);
    rms_norm(x, input_norm_.data(), eps_, xn);
    detail::quantize_rows(xn, xq, sx);
    matrix_f qkv(T, qs + 2 * kvs);
    qkv_.forward(xq.data(), sx.data(), T, hidden_, qkv.data(), qkv.cols(), ex);
    for (index_t t = 0; t < T; ++t) {
      float* row = qkv.row(t).data();
      for (index_t h = 0; h < heads_ + kv_heads_; ++h) rope.apply(row + h * head_dim_, t);
      std::copy(row + qs, row + qs + kvs, kv.k.row(pos0 + t).data());
      std::copy(row + qs + kvs, row + qs + 2 * kvs, kv.v.row(pos0 + t).data());
    }
    matrix_f attn(T, qs);
    attention(qkv, kv, pos0, attn, ex);
    rms_norm(attn, attn_sub_norm_.data(), eps_, attn);
    detail::quantize_rows(attn, xq, sx);
    matrix_f out(T, hidden_);
    o_.forward(xq.data(), sx.data(), T, qs, out.data(), hidden_, ex);
    x += out;

    // Feed-forward.
    rms_norm(x, post_attention_norm_.data(), eps_, xn);
    detail::quantize_rows(xn, xq, sx);
    matrix_f gu(T, 2 * intermediate_);
    gate_up_.forward(xq.data(), sx.data(), T, hidden_, gu.data(), gu.cols(), ex);
    matrix_f act(T, intermediate_);
    for (index_t t = 0; t < T; ++t) {
      const float* g = gu.row(t).data();
      const float* u = g + intermediate_;
      float* a = act.row(t).data();
      for (index_t i = 0; i < intermediate_; ++i) {
        const float r = g[i] > 0.0f ? g[i] : 0.0f;
        a[i] = r * r * u[i];
      }
    }
    rms_norm(act, ffn_sub_norm_.data(), eps_, act);
    detail::quantize_rows(act, xq, sx);
    down_.forward(xq.data(), sx.data(), T, intermediate_, out.data(), hidden_, ex);
    x += out;
  }

 private:
  // Causal grouped-query attention of the T new queries (positions pos0 ..) over the
  // pos0 + T cached keys; softmax(q k^T / sqrt(d)) v per head, in float.
  void attention(const matrix_f& qkv, const layer_kv& kv, index_t pos0, matrix_f& attn,
                 const executor& ex) const {
    const index_t T = qkv.rows(), d = head_dim_;
    const index_t group = heads_ / kv_heads_;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    ex.parallel_for(heads_, 1, [&](index_t h0, index_t h1) {
      for (index_t h = h0; h < h1; ++h) {
        const index_t g = h / group;
        attention_args a{qkv.data() + h * d,
                         qkv.cols(),
                         kv.k.data() + g * d,
                         kv.v.data() + g * d,
                         kv.k.cols(),
                         attn.data() + h * d,
                         attn.cols(),
                         T,
                         pos0,
                         d,
                         scale};
        attend_head(a);
      }
    });
  }

  index_t hidden_, intermediate_, heads_, kv_heads_, head_dim_;
  float eps_;
  std::vector<float> input_norm_, post_attention_norm_, attn_sub_norm_, ffn_sub_norm_;
  fused_linear qkv_, o_, gate_up_, down_;
};

// Which positions get logits from a forward pass.
enum class logits_for { all, last, none };

class bitnet_model {
 public:
  // lm_head empty = tied to the embedding table.
  bitnet_model(bitnet_config c, dense_matrix embed, std::vector<transformer_block> blocks,
               std::vector<float> final_norm, std::optional<dense_matrix> lm_head = std::nullopt)
      : config_(std::move(c)),
        embed_(std::move(embed)),
        blocks_(std::move(blocks)),
        final_norm_(std::move(final_norm)),
        lm_head_(std::move(lm_head)) {
    config_.validate();
    BITLIN_REQUIRE(embed_.rows() == config_.vocab_size && embed_.cols() == config_.hidden_size,
                   shape_error, "bitnet_model: embedding table is ", embed_.rows(), " x ",
                   embed_.cols(), ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    BITLIN_REQUIRE(static_cast<index_t>(blocks_.size()) == config_.num_hidden_layers, shape_error,
                   "bitnet_model: ", blocks_.size(), " layers, config says ",
                   config_.num_hidden_layers);
    BITLIN_REQUIRE(static_cast<index_t>(final_norm_.size()) == config_.hidden_size, shape_error,
                   "bitnet_model: final norm has ", final_norm_.size(), " values, expected ",
                   config_.hidden_size);
    if (lm_head_) {
      BITLIN_REQUIRE(
          lm_head_->rows() == config_.vocab_size && lm_head_->cols() == config_.hidden_size,
          shape_error, "bitnet_model: lm_head is ", lm_head_->rows(), " x ", lm_head_->cols(),
          ", expected ", config_.vocab_size, " x ", config_.hidden_size);
    }
  }

  // A model of the given shape with random weights (trits with P(0) = 1/2, BitNet-like scales,
  // random norms and a random embedding/head table), made in memory: for benchmarks and tests.
  static bitnet_model random(const bitnet_config& c, std::uint64_t seed,
                             dense_storage embed_storage = dense_storage::bf16,
                             isa target = active_isa()) {
    c.validate();
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    auto next = [&state]() {  // splitmix64
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    auto uniform = [&next]() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); };
    auto trits = [&](index_t rows, index_t cols) {
      ternary_projection p;
      p.trits.resize(rows, cols);
      std::int8_t* d = p.trits.data();
      const index_t n = rows * cols;
      for (index_t i = 0; i < n;) {
        std::uint64_t bits = next();
        for (int j = 0; j < 32 && i < n; ++j, ++i, bits >>= 2) {
          const auto v = static_cast<int>(bits & 3u);  // 0 -> -1, 1, 2 -> 0, 3 -> +1
          d[i] = static_cast<std::int8_t>(v == 0 ? -1 : (v == 3 ? 1 : 0));
        }
      }
      p.convention = c.convention();
      const float mean_abs = 0.02f * (0.5f + uniform());
      p.scale = c.convention() == scale_convention::divide ? 1.0f / mean_abs : mean_abs;
      return p;
    };
    auto norm = [&](index_t n) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (auto& x : v) x = 0.5f + uniform();
      return v;
    };
    std::vector<transformer_block> blocks;
    blocks.reserve(static_cast<std::size_t>(c.num_hidden_layers));
    for (index_t l = 0; l < c.num_hidden_layers; ++l) {
      block_weights w;
      w.input_layernorm = norm(c.hidden_size);
      w.post_attention_layernorm = norm(c.hidden_size);
      w.attn_sub_norm = norm(c.q_size());
      w.ffn_sub_norm = norm(c.intermediate_size);
      w.q_proj = trits(c.q_size(), c.hidden_size);
      w.k_proj = trits(c.kv_size(), c.hidden_size);
      w.v_proj = trits(c.kv_size(), c.hidden_size);
      w.o_proj = trits(c.hidden_size, c.q_size());
      w.gate_proj = trits(c.intermediate_size, c.hidden_size);
      w.up_proj = trits(c.intermediate_size, c.hidden_size);
      w.down_proj = trits(c.hidden_size, c.intermediate_size);
      blocks.emplace_back(c, w, target);
    }
    auto table = [&](index_t rows, index_t cols) {
      const auto n = static_cast<std::size_t>(rows * cols);
      if (embed_storage == dense_storage::bf16) {
        std::vector<std::uint16_t> v(n);
        for (auto& x : v) x = io::f32_to_bf16(0.04f * (uniform() - 0.5f));
        return dense_matrix::from_bf16(rows, cols, std::move(v));
      }
      std::vector<float> v(n);
      for (auto& x : v) x = 0.04f * (uniform() - 0.5f);
      return dense_matrix::from_f32(rows, cols, std::move(v));
    };
    dense_matrix embed = table(c.vocab_size, c.hidden_size);
    std::optional<dense_matrix> head;
    if (!c.tie_word_embeddings) head = table(c.vocab_size, c.hidden_size);
    return bitnet_model(c, std::move(embed), std::move(blocks), norm(c.hidden_size),
                        std::move(head));
  }

  const bitnet_config& config() const { return config_; }
  const dense_matrix& embedding() const { return embed_; }
  const dense_matrix& head() const { return lm_head_ ? *lm_head_ : embed_; }
  const transformer_block& block(index_t i) const { return blocks_[static_cast<std::size_t>(i)]; }

  kv_cache new_cache() const {
    return kv_cache(config_.num_hidden_layers, config_.kv_size(), config_.max_position_embeddings);
  }

  // Switches the output head to (or back from) the 8-bit form: per-row int8 weights and per-token
  // int8 activations (see int8_head). Off by default because it rounds twice more than the
  // float head; the embedding lookup keeps using the float table.
  void use_int8_head(bool on) {
    if (on && !head8_) head8_ = std::make_shared<const int8_head>(head());
    if (!on) head8_.reset();
  }
  bool uses_int8_head() const { return head8_ != nullptr; }

  // Weight bytes a decode step streams: the layers, the final norm and the head in its current
  // form (the embedding table is only looked up, except when it is the tied float head).
  std::size_t bytes_read_per_token() const {
    std::size_t b = final_norm_.size() * sizeof(float);
    for (const auto& blk : blocks_) b += blk.bytes();
    return b + (head8_ ? head8_->bytes() : head().bytes());
  }

  // Bytes of weights held in memory (packed trits, scales, norms, embedding and head).
  std::size_t resident_bytes() const {
    std::size_t b = embed_.bytes() + final_norm_.size() * sizeof(float);
    if (lm_head_) b += lm_head_->bytes();
    if (head8_) b += head8_->bytes();
    for (const auto& blk : blocks_) b += blk.bytes();
    return b;
  }

  // Runs `n` tokens at positions cache.size() .. through the model, appending their keys and values
  // to the cache. Returns the logits of all n positions, the last one, or none ([rows, vocab]).
  // With `hidden_states`, also records the residual stream entering each layer and the output of
  // the final norm (what the head multiplies), [n, hidden] each.
  matrix_f forward(const std::int64_t* ids, index_t n, kv_cache& cache,
                   logits_for which = logits_for::last, const executor& ex = serial(),
                   std::vector<matrix_f>* hidden_states = nullptr) const {
    BITLIN_REQUIRE(n >= 0, value_error, "bitnet_model::forward: negative token count");
    BITLIN_REQUIRE(cache.layers() == config_.num_hidden_layers, shape_error,
                   "bitnet_model::forward: the KV cache belongs to a model with ", cache.layers(),
                   " layers, this one has ", config_.num_hidden_layers);
    if (hidden_states) hidden_states->clear();
    const index_t H = config_.hidden_size, V = config_.vocab_size;
    if (n == 0) return matrix_f(0, V);
    for (index_t t = 0; t < n; ++t)
      BITLIN_REQUIRE(ids[t] >= 0 && ids[t] < V, value_error, "bitnet_model::forward: token id ",
                     ids[t], " at position ", t, " is outside the vocabulary [0, ", V, ")");
    const index_t pos0 = cache.size();
    BITLIN_REQUIRE(
        config_.max_position_embeddings <= 0 || n <= config_.max_position_embeddings - pos0,
        value_error, "bitnet_model::forward: ", n, " tokens at position ", pos0,
        " exceed the model's ", config_.max_position_embeddings,
        " positions (config max_position_embeddings)");
    cache.reserve(pos0 + n);
    matrix_f x(n, H);
    for (index_t t = 0; t < n; ++t) embed_.row(static_cast<index_t>(ids[t]), x.row(t).data());
    const rope_angles rope(config_, pos0, n);
    for (index_t l = 0; l < config_.num_hidden_layers; ++l) {
      if (hidden_states) hidden_states->push_back(x);
      blocks_[static_cast<std::size_t>(l)].forward(x, cache.layer(l), pos0, rope, ex);
    }
    cache.advance(n);
    if (which == logits_for::none && !hidden_states) return matrix_f(0, V);
    const index_t first = which == logits_for::all || hidden_states ? 0 : n - 1;
    matrix_f h = x.bottomRows(n - first);
    rms_norm(h, final_norm_.data(), config_.rms_norm_eps, h);
    if (hidden_states) hidden_states->push_back(h);
    if (which == logits_for::none) return matrix_f(0, V);
    if (which == logits_for::last && first == 0) h = h.bottomRows(1).eval();
    matrix_f logits(h.rows(), V);
    if (head8_)
      head8_->multiply(h.data(), h.rows(), H, logits.data(), V, ex);
    else
      head().multiply(h.data(), h.rows(), H, logits.data(), V, ex);
    return logits;
  }

  // Logits of every position of `ids`, from an empty cache.
  matrix_f logits(const std::vector<std::int64_t>& ids, const executor& ex = serial()) const {
    kv_cache cache = new_cache();
    return forward(ids.data(), static_cast<index_t>(ids.size()), cache, logits_for::all, ex);
  }

 private:
  bitnet_config config_;
  dense_matrix embed_;
  std::vector<transformer_block> blocks_;
  std::vector<float> final_norm_;
  std::optional<dense_matrix> lm_head_;
  std::shared_ptr<const int8_head> head8_;
};

}  // namespace bitlin::model
