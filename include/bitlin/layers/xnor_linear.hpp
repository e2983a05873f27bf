// The binary x binary linear layer (1-bit activations on 1-bit weights, XNOR-Net / FBI-LLM style):
//   float x -> optional LayerNorm/RMSNorm -> sign with a per-token scale 1 / mean|x|
//   (sign_quantize) -> XNOR-popcount product on packed bits (gemm/xnor_gemm.hpp) -> the shared
//   epilogue with BitNet b1's weight scales beta (sign_binary; per tensor, row or row group) +
//   bias.
// It is bit_linear's activation-bits = 1 mode, kept as its own small class while bit_linear is
// being rewritten around kernel layouts (its int8 activation path does not apply to 1-bit
// activations, which need the packed-bit kernels instead). The reference path is
// reference_bitlinear_matmul on the +-1 values, which the fast path matches bit for bit.
#pragma once

#include <memory>
#include <vector>

#include "bitlin/gemm/xnor_gemm.hpp"
#include "bitlin/gemm/reference.hpp"
#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/norm/norm.hpp"
#include "bitlin/quant/sign_activation.hpp"

namespace bitlin {

// (Outside the class: a nested aggregate with member initializers cannot be a default argument
// of its enclosing class's members.)
struct xnor_linear_options {
  norm_kind norm = norm_kind::none;
  float norm_eps = 1e-5f;
  scale_groups weight_groups = scale_groups::per_tensor();
};

class xnor_linear {
 public:
  static constexpr int activation_bits = 1;
  using options = xnor_linear_options;

  static xnor_linear from_float(const Eigen::Ref<const matrix_f>& W, const float* bias = nullptr,
                                options opt = {}) {
    binary_weights bw = sign_binary(W, opt.weight_groups);
    return xnor_linear(bw.q, std::move(bw.scales), bias, opt);
  }
  static xnor_linear from_quantized(const Eigen::Ref<const matrix_i8>& q, weight_scales scales,
                                    const float* bias = nullptr, options opt = {}) {
    return xnor_linear(q, std::move(scales), bias, opt);
  }

  index_t in_features() const { return weights_.cols(); }
  index_t out_features() const { return weights_.rows(); }
  const weight_scales& scales() const { return scales_; }
  matrix_i8 weights() const { return weights_.unpack(); }
  // Packed bits held (rows padded to hamming_row_align bytes).
  std::size_t weight_bytes() const { return weights_.bytes(); }
  // Whole-row weight scales run the XNOR kernels; other granularities the reference path.
  bool has_fast_kernel() const { return fast_; }
  void set_executor(const executor& ex) { exec_ = &ex; }

  quantized_activations quantize_input(const Eigen::Ref<const matrix_f>& x) const {
    BITLIN_REQUIRE(x.cols() == in_features(), shape_error, "xnor_linear: input has ", x.cols(),
                   " features, the layer expects ", in_features());
    if (opt_.norm == norm_kind::none) return sign_quantize(x);
    matrix_f normed(x.rows(), x.cols());
    if (opt_.norm == norm_kind::rms_norm)
      rms_norm(x, nullptr, opt_.norm_eps, normed);
    else
      layer_norm(x, nullptr, nullptr, opt_.norm_eps, normed);
    return sign_quantize(normed);
  }

  void forward_quantized(const quantized_activations& xq, Eigen::Ref<matrix_f> y) const {
    BITLIN_REQUIRE(xq.q.cols() == in_features(), shape_error, "xnor_linear: quantized input has ",
                   xq.q.cols(), " features, the layer expects ", in_features());
    BITLIN_REQUIRE(y.rows() == xq.q.rows() && y.cols() == out_features(), shape_error,
                   "xnor_linear: output is ", y.rows(), " x ", y.cols(), ", expected ", xq.q.rows(),
                   " x ", out_features());
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    if (fast_ && xq.layout.whole_rows() && xq.layout.rows == xq.q.rows() &&
        static_cast<index_t>(xq.scales.size()) == xq.layout.size() && y.outerStride() >= y.cols()) {
      std::vector<float> act_scale(static_cast<std::size_t>(xq.q.rows()));
      for (index_t t = 0; t < xq.q.rows(); ++t)
        act_scale[static_cast<std::size_t>(t)] =
            xq.scales[static_cast<std::size_t>(xq.layout.index(t, 0))];
      xnor_gemm_f32(weights_, bit_rows::from_signs(xq.q), act_scale.data(), epilogue_, y.data(),
                    y.outerStride(), *exec_);
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
  xnor_linear(const Eigen::Ref<const matrix_i8>& q, weight_scales scales, const float* bias,
              options opt)
      : weights_(q), scales_(std::move(scales)), opt_(opt) {
    scales_.validate(q.rows(), q.cols(), "xnor_linear");
    if (bias) {
      bias_.assign(bias, bias + q.rows());
      for (std::size_t i = 0; i < bias_.size(); ++i)
        BITLIN_REQUIRE(std::isfinite(bias_[i]), value_error, "xnor_linear: bias ", i, " is ",
                       bias_[i]);
    }
    fast_ = scales_.layout.whole_rows();
    if (fast_)
      epilogue_.assign(q.rows(), q.rows(), scales_.values.data(), scales_.layout.group_rows,
                       scales_.convention, bias);
  }

  xnor_weights weights_;  // validates +-1
  weight_scales scales_;
  std::vector<float> bias_;
  options opt_;
  bool fast_ = false;
  weight_epilogue epilogue_;
  const executor* exec_ = &serial();
};

}  // namespace bitlin
