// BitLinear, the layer BitNet puts in place of nn.Linear:
//   float x [tokens x in] -> optional LayerNorm/RMSNorm -> absmax activation quantization (ActBits)
//   -> exact integer matmul with ternary or binary weights -> rescale (+ bias) -> float [tokens x
//   out]
// Weights are quantized (or taken already quantized) and packed once at construction; forward never
// re-quantizes them. The normalization has no affine parameters (BitNet b1's SubLN form); models
// with learned norm weights normalize themselves and call forward_quantized.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/kernels/reference.hpp"
#include "bitlin/pack/binary_b1.hpp"
#include "bitlin/pack/ternary_i2.hpp"
#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/quant/norm.hpp"
#include "bitlin/quant/onebit.hpp"
#include "bitlin/quant/ternary.hpp"

namespace bitlin {

enum class norm_kind { none, layer_norm, rms_norm };

template <class WeightKind = ternary, int ActBits = 8>
class bit_linear {
  static_assert(std::is_same_v<WeightKind, ternary> || std::is_same_v<WeightKind, binary>,
                "bit_linear: WeightKind is bitlin::ternary or bitlin::binary");
  static_assert(ActBits >= 2 && ActBits <= 8, "bit_linear: ActBits must be in [2, 8]");

 public:
  using weight_kind = WeightKind;
  using format = std::conditional_t<std::is_same_v<WeightKind, ternary>, ternary_i2, binary_b1>;
  static constexpr int activation_bits = ActBits;
  // The kernel layout the fast path keeps the weights in.
  using fast_weights = kernel_weights<default_layout_t<WeightKind>>;

  struct options {
    norm_kind norm = norm_kind::none;
    float norm_eps = 1e-5f;
    scale_groups weight_groups = scale_groups::per_tensor();
    scale_groups act_groups = scale_groups::per_row();
    bool absmedian = false;  // ternary only: median|W| instead of mean|W|
    // binary only: OneBit's W ~= sign(W) (.) a b^T (quant/onebit.hpp) instead of sign_binary;
    // weight_groups is then ignored (a is per row by construction).
    bool onebit = false;
  };

  // Quantize float latent weights [out x in] (absmean / absmedian ternary, or sign binary).
  static bit_linear from_float(const Eigen::Ref<const matrix_f>& W, const float* bias = nullptr,
                               options opt = {}) {
    if constexpr (std::is_same_v<WeightKind, ternary>) {
      BITLIN_REQUIRE(!opt.onebit, value_error,
                     "bit_linear<ternary>: the OneBit form applies to binary weights");
      ternary_weights tw = opt.absmedian ? absmedian_ternary(W, opt.weight_groups)
                                         : absmean_ternary(W, opt.weight_groups);
      return bit_linear(tw.q, std::move(tw.scales), bias, opt);
    } else {
      BITLIN_REQUIRE(!opt.absmedian, value_error,
                     "bit_linear<binary>: absmedian applies to ternary weights");
      if (opt.onebit) return from_onebit(onebit_svid(W), bias, opt);
      binary_weights bw = sign_binary(W, opt.weight_groups);
      return bit_linear(bw.q, std::move(bw.scales), bias, opt);
    }
  }

  // OneBit weights: b scales the (normalized) input per feature before its quantization, a
  // becomes the per-row weight scale of the epilogue (multiply convention).
  static bit_linear from_onebit(const onebit_weights& w, const float* bias = nullptr,
                                options opt = {}) {
    static_assert(std::is_same_v<WeightKind, binary>, "bit_linear: OneBit weights are binary");
    BITLIN_REQUIRE(static_cast<index_t>(w.a.size()) == w.q.rows() &&
                       static_cast<index_t>(w.b.size()) == w.q.cols(),
                   shape_error, "bit_linear::from_onebit: a has ", w.a.size(), " and b ",
                   w.b.size(), " entries for ", w.q.rows(), " x ", w.q.cols(), " weights");
    weight_scales ws;
    ws.layout = scale_layout(w.q.rows(), w.q.cols(), scale_groups::per_row());
    ws.values = w.a;
    ws.convention = scale_convention::multiply;
    opt.onebit = true;
    bit_linear layer(w.q, std::move(ws), bias, opt);
    for (std::size_t i = 0; i < w.b.size(); ++i)
      BITLIN_REQUIRE(std::isfinite(w.b[i]), value_error, "bit_linear::from_onebit: b[", i, "] is ",
                     w.b[i]);
    layer.in_scale_ = w.b;
    return layer;
  }

  // Weights already quantized (e.g. loaded from a checkpoint) with their scales.
  static bit_linear from_quantized(const Eigen::Ref<const matrix_i8>& q, weight_scales scales,
                                   const float* bias = nullptr, options opt = {}) {
    return bit_linear(q, std::move(scales), bias, opt);
  }

  index_t in_features() const { return in_; }
  index_t out_features() const { return out_; }
  const weight_scales& scales() const { return scales_; }
  const std::vector<float>& bias() const { return bias_; }
  const options& config() const { return opt_; }
  // The weights as integers, and in the portable format of their kind (for export). Both are
  // derived on request: a layer keeps a single packed copy of its weights.
  matrix_i8 weights() const { return fast_ ? fast_->unpack() : unpack_matrix(packed_); }
  packed_matrix<format> packed_weights() const {
    return fast_ ? pack_matrix<format>(fast_->unpack()) : packed_;
  }
  // Bytes of packed weights the layer holds (the kernel layout pads rows and K to its tiles).
  std::size_t weight_bytes() const { return fast_ ? fast_->bytes() : packed_.bytes(); }
  // Weights whose scales cover whole rows (per tensor, per row, groups of rows) live in the fast
  // kernels' layout (default_layout_t<WeightKind>: the 2-bit i2 tile for ternary, the 1-bit b1
  // tile for binary); forward_quantized then uses gemm_f32 whenever the activation scales cover
  // whole tokens, and the reference path otherwise.
  bool has_fast_kernel() const { return fast_ != nullptr; }
  // Executor for the fast path (default serial()); it must outlive the calls that use it.
  void set_executor(const executor& ex) { exec_ = &ex; }

  // Normalize (if configured) and quantize activations the way forward does.
  quantized_activations quantize_input(const Eigen::Ref<const matrix_f>& x) const {
    BITLIN_REQUIRE(x.cols() == in_features(), shape_error, "bit_linear: input has ", x.cols(),
                   " features, the layer expects ", in_features());
    if (opt_.norm == norm_kind::none && in_scale_.empty())
      return absmax_quantize(x, ActBits, opt_.act_groups);
    matrix_f normed(x.rows(), x.cols());
    if (opt_.norm == norm_kind::rms_norm)
      rms_norm(x, nullptr, opt_.norm_eps, normed);
    else if (opt_.norm == norm_kind::layer_norm)
      layer_norm(x, nullptr, nullptr, opt_.norm_eps, normed);
    else
      normed = x;
    for (std::size_t c = 0; c < in_scale_.size(); ++c)
      normed.col(static_cast<index_t>(c)) *= in_scale_[c];
    return absmax_quantize(normed, ActBits, opt_.act_groups);
  }
  // OneBit's per-feature input scale b (empty for every other weight form).
  const std::vector<float>& input_scale() const { return in_scale_; }

  void forward_quantized(const quantized_activations& xq, Eigen::Ref<matrix_f> y) const {
    BITLIN_REQUIRE(xq.q.cols() == in_features(), shape_error, "bit_linear: quantized input has ",
                   xq.q.cols(), " features, the layer expects ", in_features());
    BITLIN_REQUIRE(y.rows() == xq.q.rows() && y.cols() == out_features(), shape_error,
                   "bit_linear: output is ", y.rows(), " x ", y.cols(), ", expected ", xq.q.rows(),
                   " x ", out_features());
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    if (fast_ && xq.layout.whole_rows() && xq.layout.rows == xq.q.rows() &&
        static_cast<index_t>(xq.scales.size()) == xq.layout.size()) {
      std::vector<float> act_scale(static_cast<std::size_t>(xq.q.rows()));
      for (index_t t = 0; t < xq.q.rows(); ++t)
        act_scale[static_cast<std::size_t>(t)] =
            xq.scales[static_cast<std::size_t>(xq.layout.index(t, 0))];
      gemm_epilogue ep;
      ep.act_scale = act_scale.data();
      ep.weight_scale = scales_.values.data();
      ep.rows_per_scale_group = scales_.layout.group_rows;
      ep.convention = scales_.convention;
      ep.bias = bias;
      gemm_f32(*fast_, xq.q.data(), xq.q.rows(), xq.q.outerStride(), ep, y.data(), y.outerStride(),
               *exec_);
      return;
    }
    y = reference_bitlinear_matmul(xq, weights(), scales_, bias);
  }

  void forward(const Eigen::Ref<const matrix_f>& x, Eigen::Ref<matrix_f> y) const {
    forward_quantized(quantize_input(x), y);
  }

  matrix_f forward(const Eigen::Ref<const matrix_f>& x) const {
    matrix_f y(x.rows(), out_features());
    forward(x, y);
    return y;
  }

 private:
  bit_linear(const Eigen::Ref<const matrix_i8>& q, weight_scales scales, const float* bias,
             options opt)
      : in_(q.cols()), out_(q.rows()), scales_(std::move(scales)), opt_(opt) {
    scales_.validate(q.rows(), q.cols(), "bit_linear");
    if (bias) {
      bias_.assign(bias, bias + q.rows());
      for (std::size_t i = 0; i < bias_.size(); ++i)
        BITLIN_REQUIRE(std::isfinite(bias_[i]), value_error, "bit_linear: bias ", i, " is ",
                       bias_[i]);
    }
    // Packing validates the alphabet (ternary or binary) whichever layout is kept.
    packed_ = pack_matrix<format>(q);
    if (scales_.layout.whole_rows() && q.rows() > 0 && q.cols() <= fast_weights::max_cols) {
      fast_ = std::make_shared<const fast_weights>(q);
      packed_ = packed_matrix<format>{};
    }
  }

  index_t in_ = 0, out_ = 0;
  packed_matrix<format> packed_;  // empty when fast_ holds the weights
  weight_scales scales_;
  std::vector<float> bias_;
  std::vector<float> in_scale_;
  options opt_;
  std::shared_ptr<const fast_weights> fast_;  // null: reference path only
  const executor* exec_ = &serial();
};

}  // namespace bitlin
