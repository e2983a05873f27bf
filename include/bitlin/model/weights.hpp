// The weights of a BitNet decoder layer as a checkpoint describes them (what loaders build and
// the block consumes), and the one place where projections that read the same input are fused
// into a single BitLinear: q/k/v and gate/up are concatenated along the output dimension, and
// their differing per-tensor scales become row groups of the epilogue, so the fused product is
// bit-identical to separate ones while its input is quantized once. The same holds for the
// binary projections of a BitNet b1 model (+-1 weights, beta per tensor or per group of rows),
// which run on the 1-bit b1_tile kernels instead of the 2-bit i2_tile ones; ternary projections
// may also be loaded into the 1.6-bit base3_tile (ternary_layout::base3).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin::model {

// One projection: integer weights [out, in] (trits for b1.58; +-1 for BitNet b1) and one
// per-tensor scale applied with `convention`, or, when group_scales is not empty, one scale per
// group of trits.rows() / group_scales.size() consecutive rows (BitNet b1's groups).
struct ternary_projection {
  matrix_i8 trits;
  float scale = 1.0f;
  scale_convention convention = scale_convention::divide;
  std::vector<float> group_scales;

  index_t group_rows() const {
    return group_scales.empty() ? trits.rows()
                                : trits.rows() / static_cast<index_t>(group_scales.size());
  }
  float scale_of_group(index_t g) const {
    return group_scales.empty() ? scale : group_scales[static_cast<std::size_t>(g)];
  }
};

// The weights of one decoder layer, as named in the checkpoint.
struct block_weights {
  std::vector<float> input_layernorm, post_attention_layernorm, attn_sub_norm, ffn_sub_norm;
  ternary_projection q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
};

// The BitLinear the model runs (W1.58 A8, per-token activations, kernel layout i2_tile), and the
// BitNet b1 one (W1 A8, kernel layout b1_tile).
using projection_layer = bit_linear<ternary, 8>;
using binary_projection_layer = bit_linear<binary, 8>;
using base3_projection_layer = bit_linear<ternary, 8, base3_tile>;

// The kernel layout a b1.58 model's ternary projections are packed into: the 2-bit i2 tile
// (default) or the 1.6-bit base3 tile (20 % less weight traffic per token). Any checkpoint loads
// into either; the products are exact integers, so the logits are bit-identical.
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

// Several projections that read the same input as one layer (Layer: projection_layer or
// binary_projection_layer; the weights must be values of its kind).
template <class Layer = projection_layer>
Layer fuse_projections(const std::vector<const ternary_projection*>& parts,
                       isa target = active_isa()) {
  BITLIN_REQUIRE(!parts.empty(), shape_error, "fuse_projections: no projections");
  const index_t in = parts.front()->trits.cols();
  index_t out = 0, group = 0;
  bool same_convention = true;
  for (const auto* p : parts) {
    BITLIN_REQUIRE(p->trits.cols() == in, shape_error, "fuse_projections: projections read ", in,
                   " and ", p->trits.cols(), " features");
    BITLIN_REQUIRE(p->trits.rows() > 0, shape_error, "fuse_projections: empty projection");
    BITLIN_REQUIRE(p->group_scales.empty() ||
                       p->trits.rows() % static_cast<index_t>(p->group_scales.size()) == 0,
                   shape_error, "fuse_projections: ", p->group_scales.size(),
                   " scale groups do not split ", p->trits.rows(), " rows");
    out += p->trits.rows();
    group = std::gcd(group, p->group_rows());
    same_convention = same_convention && p->convention == parts.front()->convention;
  }
  // Mixed conventions only arise from a checkpoint mixing packed and float projections; the
  // divide form is then used for all, with 1/scale for the multiplying ones (not bit-exact).
  const scale_convention convention =
      same_convention ? parts.front()->convention : scale_convention::divide;
  // One scale per group of `group` rows, in row order.
  std::vector<float> per_group;
  for (const auto* p : parts) {
    const index_t groups = p->trits.rows() / p->group_rows();
    for (index_t g = 0; g < groups; ++g) {
      float s = p->scale_of_group(g);
      if (p->convention != convention) {
        BITLIN_REQUIRE(s != 0.0f, value_error,
                       "fuse_projections: cannot mix a zero multiplying scale with dividing ones");
        s = 1.0f / s;
      }
      BITLIN_REQUIRE(std::isfinite(s) && (s != 0.0f || convention == scale_convention::multiply),
                     value_error, "fuse_projections: weight scale ", s, " is not usable");
      per_group.insert(per_group.end(), static_cast<std::size_t>(p->group_rows() / group), s);
    }
  }
  weight_scales ws;
  ws.convention = convention;
  const bool uniform = std::all_of(per_group.begin(), per_group.end(),
                                   [&](float s) { return s == per_group.front(); });
  if (uniform) {
    ws.layout = scale_layout(out, in, scale_groups::per_tensor());
    ws.values = {per_group.front()};
  } else {
    ws.layout = scale_layout(out, in, scale_groups::row_groups(group));
    ws.values = std::move(per_group);
  }
  typename Layer::options opt;
  opt.target = target;
  if (parts.size() == 1)
    return Layer::from_quantized(parts.front()->trits, std::move(ws), nullptr, opt);
  matrix_i8 all(out, in);
  index_t r = 0;
  for (const auto* p : parts) {
    all.middleRows(r, p->trits.rows()) = p->trits;
    r += p->trits.rows();
  }
  return Layer::from_quantized(all, std::move(ws), nullptr, opt);
}

// A decoder layer's fused projection, ternary or binary as the model's config says: the block
// holds these, so one block implementation runs both BitNet variants.
class block_projection {
 public:
  block_projection() = default;
  // layout: where ternary projections are packed (binary ones always use the 1-bit layout).
  block_projection(const std::vector<const ternary_projection*>& parts, bool binary,
                   isa target = active_isa(), ternary_layout layout = ternary_layout::i2) {
    if (binary)
      layer_ = fuse_projections<binary_projection_layer>(parts, target);
    else if (layout == ternary_layout::base3)
      layer_ = fuse_projections<base3_projection_layer>(parts, target);
    else
      layer_ = fuse_projections<projection_layer>(parts, target);
  }

  bool is_binary() const { return std::holds_alternative<binary_projection_layer>(layer_); }
  // The layout of a ternary projection (i2 for binary ones, which have their own).
  ternary_layout layout() const {
    return std::holds_alternative<base3_projection_layer>(layer_) ? ternary_layout::base3
                                                                  : ternary_layout::i2;
  }
  // The ternary layer on the i2 tile (what the tensor-parallel shards and the kernel benchmarks
  // take apart).
  const projection_layer& ternary_layer() const {
    BITLIN_REQUIRE(!is_binary(), value_error, "block_projection: the projection is binary");
    BITLIN_REQUIRE(layout() == ternary_layout::i2, value_error,
                   "block_projection: the projection is on the base3 layout, not i2");
    return std::get<projection_layer>(layer_);
  }

  void forward(const activation_buffer& x, float* y, index_t ldy, const executor& ex) const {
    std::visit([&](const auto& l) { l.forward(x, y, ldy, ex); }, layer_);
  }
  void forward_quantized(const quantized_activations& xq, Eigen::Ref<matrix_f> y) const {
    std::visit([&](const auto& l) { l.forward_quantized(xq, y); }, layer_);
  }
  index_t in_features() const {
    return std::visit([](const auto& l) { return l.in_features(); }, layer_);
  }
  index_t out_features() const {
    return std::visit([](const auto& l) { return l.out_features(); }, layer_);
  }
  const weight_scales& scales() const {
    return std::visit([](const auto& l) -> const weight_scales& { return l.scales(); }, layer_);
  }
  matrix_i8 weights() const {
    return std::visit([](const auto& l) { return l.weights(); }, layer_);
  }
  std::size_t weight_bytes() const {
    return std::visit([](const auto& l) { return l.weight_bytes(); }, layer_);
  }
  bool has_fast_kernel() const {
    return std::visit([](const auto& l) { return l.has_fast_kernel(); }, layer_);
  }
  isa kernel_path() const {
    return std::visit([](const auto& l) { return l.kernel_path(); }, layer_);
  }

 private:
  std::variant<projection_layer, binary_projection_layer, base3_projection_layer> layer_;
};

}  // namespace bitlin::model
