// The weights of a BitNet decoder layer as a checkpoint describes them (what loaders build and
// the block consumes), and the one place where projections that read the same input are fused
// into a single BitLinear: q/k/v and gate/up are concatenated along the output dimension, and
// their differing per-tensor scales become row groups of the epilogue, so the fused product is
// bit-identical to separate ones while its input is quantized once.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin::model {

// One ternary projection: trits [out, in] and one per-tensor scale applied with `convention`.
struct ternary_projection {
  matrix_i8 trits;
  float scale = 1.0f;
  scale_convention convention = scale_convention::divide;
};

// The weights of one decoder layer, as named in the checkpoint.
struct block_weights {
  std::vector<float> input_layernorm, post_attention_layernorm, attn_sub_norm, ffn_sub_norm;
  ternary_projection q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
};

// The kernel layout the model's ternary projections are packed into: the 2-bit i2 tile (default)
// or the 1.6-bit base3 tile (20 % less weight traffic per token). Any checkpoint loads into
// either; the products are exact integers, so the logits are bit-identical.
enum class ternary_layout { i2, base3 };

inline const char* ternary_layout_name(ternary_layout l) {
  return l == ternary_layout::base3 ? "base3" : "i2";
}
inline ternary_layout parse_ternary_layout(const std::string& name) {
  if (name == "i2") return ternary_layout::i2;
  BITLIN_REQUIRE(name == "base3", value_error, "ternary layout '", name,
                 "' is not one of i2, base3");
  return ternary_layout::base3;
}

// The BitLinear the model runs (W1.58 A8, per-token activations) on the layout chosen at load
// time: one of the bit_linear instantiations, with the calls the model makes forwarded to it.
class projection_layer {
 public:
  using i2_layer = bit_linear<ternary, 8, i2_tile>;
  using base3_layer = bit_linear<ternary, 8, base3_tile>;

 private:
  // Defined before its uses: they deduce their return types from it.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), layer_);
  }

 public:
  projection_layer() = default;
  projection_layer(i2_layer l) : layer_(std::move(l)) {}
  projection_layer(base3_layer l) : layer_(std::move(l)) {}

  static projection_layer from_quantized(const Eigen::Ref<const matrix_i8>& q, weight_scales ws,
                                         isa target, ternary_layout layout) {
    if (layout == ternary_layout::base3) {
      base3_layer::options opt;
      opt.target = target;
      return base3_layer::from_quantized(q, std::move(ws), nullptr, opt);
    }
    i2_layer::options opt;
    opt.target = target;
    return i2_layer::from_quantized(q, std::move(ws), nullptr, opt);
  }

  ternary_layout layout() const {
    return std::holds_alternative<base3_layer>(layer_) ? ternary_layout::base3 : ternary_layout::i2;
  }
  index_t in_features() const {
    return visit([](const auto& l) { return l.in_features(); });
  }
  index_t out_features() const {
    return visit([](const auto& l) { return l.out_features(); });
  }
  const weight_scales& scales() const {
    return visit([](const auto& l) -> const weight_scales& { return l.scales(); });
  }
  matrix_i8 weights() const {
    return visit([](const auto& l) { return l.weights(); });
  }
  std::size_t weight_bytes() const {
    return visit([](const auto& l) { return l.weight_bytes(); });
  }
  isa kernel_path() const {
    return visit([](const auto& l) { return l.kernel_path(); });
  }
  void set_executor(const executor& ex) {
    std::visit([&](auto& l) { l.set_executor(ex); }, layer_);
  }
  void forward(const activation_buffer& x, float* y, index_t ldy, const executor& ex) const {
    visit([&](const auto& l) { l.forward(x, y, ldy, ex); });
  }
  // The exact int32 products on the fast kernels (Y[t, n] = sum_k X[t, k] * W[n, k]).
  void gemm_int32(const std::int8_t* X, index_t tokens, index_t ldx, std::int32_t* Y, index_t ldy,
                  const executor& ex) const {
    visit([&](const auto& l) { gemm(l.fast_weights(), X, tokens, ldx, Y, ldy, ex); });
  }
  void forward_quantized(const quantized_activations& xq, Eigen::Ref<matrix_f> y) const {
    visit([&](const auto& l) { l.forward_quantized(xq, y); });
  }

 private:
  std::variant<i2_layer, base3_layer> layer_;
};

// Several projections that read the same input as one layer.
inline projection_layer fuse_projections(const std::vector<const ternary_projection*>& parts,
                                         isa target = active_isa(),
                                         ternary_layout layout = ternary_layout::i2) {
  BITLIN_REQUIRE(!parts.empty(), shape_error, "fuse_projections: no projections");
  const index_t in = parts.front()->trits.cols();
  index_t out = 0, group = 0;
  bool same_convention = true;
  for (const auto* p : parts) {
    BITLIN_REQUIRE(p->trits.cols() == in, shape_error, "fuse_projections: projections read ", in,
                   " and ", p->trits.cols(), " features");
    BITLIN_REQUIRE(p->trits.rows() > 0, shape_error, "fuse_projections: empty projection");
    out += p->trits.rows();
    group = std::gcd(group, p->trits.rows());
    same_convention = same_convention && p->convention == parts.front()->convention;
  }
  // Mixed conventions only arise from a checkpoint mixing packed and float projections; the
  // divide form is then used for all, with 1/scale for the multiplying ones (not bit-exact).
  const scale_convention convention =
      same_convention ? parts.front()->convention : scale_convention::divide;
  std::vector<float> per_part;
  for (const auto* p : parts) {
    float s = p->scale;
    if (p->convention != convention) {
      BITLIN_REQUIRE(s != 0.0f, value_error,
                     "fuse_projections: cannot mix a zero multiplying scale with dividing ones");
      s = 1.0f / s;
    }
    BITLIN_REQUIRE(std::isfinite(s) && (s != 0.0f || convention == scale_convention::multiply),
                   value_error, "fuse_projections: weight scale ", s, " is not usable");
    per_part.push_back(s);
  }
  weight_scales ws;
  ws.convention = convention;
  const bool uniform =
      std::all_of(per_part.begin(), per_part.end(), [&](float s) { return s == per_part.front(); });
  if (uniform) {
    ws.layout = scale_layout(out, in, scale_groups::per_tensor());
    ws.values = {per_part.front()};
  } else {
    ws.layout = scale_layout(out, in, scale_groups::row_groups(group));
    for (std::size_t i = 0; i < parts.size(); ++i)
      ws.values.insert(ws.values.end(), static_cast<std::size_t>(parts[i]->trits.rows() / group),
                       per_part[i]);
  }
  if (parts.size() == 1)
    return projection_layer::from_quantized(parts.front()->trits, std::move(ws), target, layout);
  matrix_i8 all(out, in);
  index_t r = 0;
  for (const auto* p : parts) {
    all.middleRows(r, p->trits.rows()) = p->trits;
    r += p->trits.rows();
  }
  return projection_layer::from_quantized(all, std::move(ws), target, layout);
}

}  // namespace bitlin::model
