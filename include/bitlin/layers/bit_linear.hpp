// BitLinear, the layer BitNet puts in place of nn.Linear:
//   float x [tokens x in] -> optional LayerNorm/RMSNorm -> absmax activation quantization (ActBits)
//   -> exact integer matmul with ternary or binary weights -> rescale (+ bias) -> float [tokens x
//   out]
// Weights are quantized (or taken already quantized) and packed once at construction into the
// kernel layout `Layout` (default: the weight kind's, kernels/layouts.hpp), and the epilogue
// (scales expanded per row, bias) is prepared then too; forward never re-quantizes or re-expands.
// The normalization has no affine parameters (BitNet b1's SubLN form); models with learned norm
// weights normalize themselves and call forward on an activation_buffer, which copies nothing.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "bitlin/gemm/activation_buffer.hpp"
#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/gemm/reference.hpp"
#include "bitlin/pack/binary_b1.hpp"
#include "bitlin/pack/ternary_i2.hpp"
#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/norm/norm.hpp"
#include "bitlin/quant/onebit.hpp"
#include "bitlin/quant/ternary.hpp"

namespace bitlin {

enum class norm_kind { none, layer_norm, rms_norm };

template <class WeightKind = ternary, int ActBits = 8, class Layout = default_layout_t<WeightKind>>
class bit_linear {
  static_assert(std::is_same_v<WeightKind, ternary> || std::is_same_v<WeightKind, binary>,
                "bit_linear: WeightKind is bitlin::ternary or bitlin::binary");
  static_assert(ActBits >= 2 && ActBits <= 8, "bit_linear: ActBits must be in [2, 8]");
  // Binary weights (+-1) fit a ternary layout; ternary weights never fit a binary one.
  static_assert(std::is_same_v<typename kernel_layout_traits<Layout>::weight_kind, WeightKind> ||
                    std::is_same_v<typename kernel_layout_traits<Layout>::weight_kind, ternary>,
                "bit_linear: the layout cannot hold this weight kind");

 public:
  using weight_kind = WeightKind;
  using layout = Layout;
  using weights_type = kernel_weights<Layout>;
  using format = std::conditional_t<std::is_same_v<WeightKind, ternary>, ternary_i2, binary_b1>;
  static constexpr int activation_bits = ActBits;

  struct options {
    norm_kind norm = norm_kind::none;
    float norm_eps = 1e-5f;
    scale_groups weight_groups = scale_groups::per_tensor();
    scale_groups act_groups = scale_groups::per_row();
    bool absmedian = false;     // ternary only: median|W| instead of mean|W|
    std::optional<isa> target;  // the kernels' ISA path (default: active_isa() when built)
    // binary only: OneBit's W ~= sign(W) (.) a b^T (quant/onebit.hpp) instead of sign_binary;
    // weight_groups is then ignored (a is per row by construction).
    bool onebit = false;
  };

  // An empty layer (0 x 0), to be assigned.
  bit_linear() = default;

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
    for (std::size_t i = 0; i < w.b.size(); ++i)
      BITLIN_REQUIRE(std::isfinite(w.b[i]), value_error, "bit_linear::from_onebit: b[", i, "] is ",
                     w.b[i]);
    weight_scales ws;
    ws.layout = scale_layout(w.q.rows(), w.q.cols(), scale_groups::per_row());
    ws.values = w.a;
    ws.convention = scale_convention::multiply;
    opt.onebit = true;
    bit_linear layer(w.q, std::move(ws), bias, opt);
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
  // The weights as integers, and in the portable format of their kind (for export). Derived on
  // request: a layer keeps a single copy of its weights.
  matrix_i8 weights() const { return fast_ ? fast_->unpack() : q_; }
  packed_matrix<format> packed_weights() const { return pack_matrix<format>(weights()); }
  // Bytes of weights the layer holds (the kernel layout pads rows and K to its tiles).
  std::size_t weight_bytes() const {
    return fast_ ? fast_->bytes() : static_cast<std::size_t>(q_.size());
  }
  // Weights whose scales cover whole rows (per tensor, per row, groups of rows) live in the
  // kernel layout; products then run on the fast kernels whenever the activation scales cover
  // whole tokens, and on the reference path otherwise (whose weights are kept as int8, so it
  // unpacks nothing per call).
  bool has_fast_kernel() const { return fast_ != nullptr; }
  const weights_type& fast_weights() const {
    BITLIN_REQUIRE(fast_ != nullptr, value_error, "bit_linear: no fast kernel weights");
    return *fast_;
  }
  // The ISA path the fast kernel runs on (after the lineage fallback), and changing it.
  isa kernel_path() const { return fast_ ? gemm_kernel_path(*fast_) : isa::scalar; }
  void set_target(isa target) {
    if (fast_) {
      auto w = std::make_shared<weights_type>(*fast_);
      w->set_target(target);
      fast_ = std::move(w);
    }
  }
  // Executor for the fast path (default serial()); it must outlive the calls that use it.
  void set_executor(const executor& ex) { exec_ = &ex; }

  // Normalize (if configured) and quantize activations the way forward does.
  quantized_activations quantize_input(const Eigen::Ref<const matrix_f>& x) const {
    check_input(x.cols());
    if (opt_.norm == norm_kind::none && in_scale_.empty())
      return absmax_quantize(x, ActBits, opt_.act_groups);
    return absmax_quantize(normalize(x), ActBits, opt_.act_groups);
  }
  // OneBit's per-feature input scale b (empty for every other weight form).
  const std::vector<float>& input_scale() const { return in_scale_; }

  // The same straight into kernel-ready rows (per-token scales only).
  void quantize_input(const Eigen::Ref<const matrix_f>& x, activation_buffer& out) const {
    check_input(x.cols());
    BITLIN_REQUIRE(opt_.act_groups.rows_per_group == 1 && opt_.act_groups.cols_per_group == 0,
                   value_error, "bit_linear: an activation_buffer holds per-token scales");
    if (opt_.norm == norm_kind::none && in_scale_.empty()) {
      const matrix_f xc = x;  // a Ref may have any stride; the buffer reads rows
      out.quantize(xc.data(), xc.rows(), xc.cols(), xc.cols(), ActBits, *exec_);
    } else {
      const matrix_f normed = normalize(x);
      out.quantize(normed.data(), normed.rows(), normed.cols(), normed.cols(), ActBits, *exec_);
    }
  }

  // The prepared path: y[t, :] for the kernel-ready rows of x (row stride ldy).
  void forward(const activation_buffer& x, float* y, index_t ldy, const executor& ex) const {
    BITLIN_REQUIRE(x.cols() == in_features(), shape_error, "bit_linear: input has ", x.cols(),
                   " features, the layer expects ", in_features());
    if (fast_) {
      gemm_f32(*fast_, x.rows(), x.scales(), epilogue_, y, ldy, ex);
      return;
    }
    quantized_activations xq;
    xq.bits = ActBits;
    xq.q.resize(x.tokens(), x.cols());
    for (index_t t = 0; t < x.tokens(); ++t)
      std::copy(x.row(t), x.row(t) + x.cols(), xq.q.row(t).data());
    xq.layout = scale_layout(x.tokens(), x.cols(), scale_groups::per_row());
    xq.scales.assign(x.scales(), x.scales() + x.tokens());
    Eigen::Map<matrix_f, 0, Eigen::OuterStride<>> out(y, x.tokens(), out_,
                                                      Eigen::OuterStride<>(ldy));
    out = reference_bitlinear_matmul(xq, q_, scales_, bias_.empty() ? nullptr : bias_.data());
  }
  void forward(const activation_buffer& x, float* y, index_t ldy) const {
    forward(x, y, ldy, *exec_);
  }

  void forward_quantized(const quantized_activations& xq, Eigen::Ref<matrix_f> y) const {
    BITLIN_REQUIRE(xq.q.cols() == in_features(), shape_error, "bit_linear: quantized input has ",
                   xq.q.cols(), " features, the layer expects ", in_features());
    BITLIN_REQUIRE(y.rows() == xq.q.rows() && y.cols() == out_features(), shape_error,
                   "bit_linear: output is ", y.rows(), " x ", y.cols(), ", expected ", xq.q.rows(),
                   " x ", out_features());
    if (fast_ && xq.layout.whole_rows() && xq.layout.rows == xq.q.rows() &&
        static_cast<index_t>(xq.scales.size()) == xq.layout.size()) {
      activation_buffer buf;
      buf.assign(xq);
      gemm_f32(*fast_, buf.rows(), buf.scales(), epilogue_, y.data(), y.outerStride(), *exec_);
      return;
    }
    y = reference_bitlinear_matmul(xq, weights(), scales_, bias_.empty() ? nullptr : bias_.data());
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
    for (index_t n = 0; n < q.rows(); ++n)
      for (index_t k = 0; k < q.cols(); ++k)
        BITLIN_REQUIRE(WeightKind::valid(q(n, k)), value_error, "bit_linear: weight (", n, ", ", k,
                       ") = ", static_cast<int>(q(n, k)), " is not a ", WeightKind::name, " value");
    if (scales_.layout.whole_rows() && q.rows() > 0 && q.cols() <= weights_type::max_cols) {
      fast_ = std::make_shared<const weights_type>(q, opt_.target.value_or(active_isa()));
      epilogue_ = weight_epilogue(out_, fast_->padded_rows(), scales_.values.data(),
                                  scales_.layout.row_groups == 1 ? 0 : scales_.layout.group_rows,
                                  scales_.convention, bias_.empty() ? nullptr : bias_.data());
    } else {
      q_ = q;
    }
  }

  void check_input(index_t cols) const {
    BITLIN_REQUIRE(cols == in_features(), shape_error, "bit_linear: input has ", cols,
                   " features, the layer expects ", in_features());
  }
  // The configured norm, then OneBit's input scale b where the layer has one.
  matrix_f normalize(const Eigen::Ref<const matrix_f>& x) const {
    matrix_f normed(x.rows(), x.cols());
    if (opt_.norm == norm_kind::rms_norm)
      rms_norm(x, nullptr, opt_.norm_eps, normed);
    else if (opt_.norm == norm_kind::layer_norm)
      layer_norm(x, nullptr, nullptr, opt_.norm_eps, normed);
    else
      normed = x;
    for (std::size_t c = 0; c < in_scale_.size(); ++c)
      normed.col(static_cast<index_t>(c)) *= in_scale_[c];
    return normed;
  }

  index_t in_ = 0, out_ = 0;
  matrix_i8 q_;  // the reference path's weights; empty when fast_ holds them
  weight_scales scales_;
  std::vector<float> bias_;
  std::vector<float> in_scale_;  // OneBit's b, else empty
  options opt_;
  std::shared_ptr<const weights_type> fast_;  // null: reference path only; copies share it
  weight_epilogue epilogue_;
  const executor* exec_ = &serial();
};

}  // namespace bitlin
