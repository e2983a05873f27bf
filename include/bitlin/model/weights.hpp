// The weights of a BitNet decoder layer as a checkpoint describes them (what loaders build and
// the block consumes), and the one place where projections that read the same input are fused
// into a single BitLinear: q/k/v and gate/up are concatenated along the output dimension, and
// their differing per-tensor scales become row groups of the epilogue, so the fused product is
// bit-identical to separate ones while its input is quantized once.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
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

// The BitLinear the model runs (W1.58 A8, per-token activations, kernel layout i2_tile).
using projection_layer = bit_linear<ternary, 8>;

// Several projections that read the same input as one layer.
inline projection_layer fuse_projections(const std::vector<const ternary_projection*>& parts,
                                         isa target = active_isa()) {
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
  projection_layer::options opt;
  opt.target = target;
  if (parts.size() == 1)
    return projection_layer::from_quantized(parts.front()->trits, std::move(ws), nullptr, opt);
  matrix_i8 all(out, in);
  index_t r = 0;
  for (const auto* p : parts) {
    all.middleRows(r, p->trits.rows()) = p->trits;
    r += p->trits.rows();
  }
  return projection_layer::from_quantized(all, std::move(ws), nullptr, opt);
}

}  // namespace bitlin::model
