// BitLinear for training: the forward is the inference layer itself (layers/bit_linear.hpp: the
// latent float weights quantized by absmean ternary or sign binary, the input optionally
// normalized and quantized by absmax, the product on the fast integer kernels), the backward is
// the straight-through estimator (STE) in float on Eigen.
//
// The STE, precisely. With x^ = deq(Q_a(n(x))) the dequantized activations (n the optional norm)
// and W^ = deq(Q_w(W)) the dequantized weights, the layer computes y = x^ W^T. The backward is the
// exact gradient of the surrogate
//     y~(x, W) = (n(x) + da) (W + dw)^T,   da = x^ - n(x), dw = W^ - W held constant,
// which equals y at the current point (the `x + (q(x) - x).detach()` form of the BitNet reference
// code). So
//     dW = dY^T x^          (the gradient w.r.t. the dequantized weights reaches the latent ones
//                            unchanged, including weights that the ternary clamp saturates)
//     dn = dY W^,  dx = n'(x)^T dn   (the activation quantizer passes gradients straight through)
// Clipping: absmax takes its scale from the same group's max|x|, so no activation is ever clipped
// (|x s| <= 2^(b-1) - 1); the identity is therefore exact bookkeeping, not a choice about clipped
// values. Weights saturated by the ternary clamp (|W s| > 1.5) do receive gradient (identity STE,
// as BitNet trains).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/train/ops.hpp"

namespace bitlin::train {

enum class weight_mode { ternary, binary, full_precision };

inline const char* weight_mode_name(weight_mode m) {
  return m == weight_mode::ternary ? "ternary" : (m == weight_mode::binary ? "binary" : "float");
}

inline weight_mode parse_weight_mode(const std::string& s) {
  if (s == "ternary") return weight_mode::ternary;
  if (s == "binary") return weight_mode::binary;
  if (s == "float") return weight_mode::full_precision;
  throw value_error("weight mode must be ternary, binary or float, got '" + s + "'");
}

struct linear_spec {
  weight_mode weights = weight_mode::ternary;
  int act_bits = 8;
  norm_kind norm = norm_kind::none;  // the affine-free norm bit_linear applies before quantizing
  float norm_eps = 1e-5f;
};

// The input of a layer as the product sees it: the codes in the kernels' row layout (quantized
// modes: the product reads them without a copy) and x^, which the backward's dW = dY^T x^ needs.
template <class S>
struct prepared {
  activation_buffer q;  // empty for full precision
  tensor<S> x_hat;      // dequantized (or, full precision, normalized) activations
};
using prepared_input = prepared<float>;

// One latent weight matrix quantized for one optimizer step: quantized and packed once, then used
// by every product of the step (the forward on the integer kernels, the backward's dY W^ in
// float), so it must be kept from the forward to the backward (model.hpp's forward_cache does).
class ste_linear {
 public:
  ste_linear() = default;

  ste_linear(const matrix_f& W, const linear_spec& spec, const executor& ex = serial())
      : spec_(spec), ex_(&ex) {
    BITLIN_REQUIRE(spec.act_bits >= 2 && spec.act_bits <= 8, value_error,
                   "ste_linear: activation bits must be in [2, 8], got ", spec.act_bits);
    switch (spec.weights) {
      case weight_mode::ternary:
        build<ternary>(W);
        break;
      case weight_mode::binary:
        build<binary>(W);
        break;
      case weight_mode::full_precision:
        bitlin::detail::require_finite(W, "ste_linear");
        w_hat_ = W;
        break;
    }
  }

  const linear_spec& spec() const { return spec_; }
  index_t in_features() const { return w_hat_.cols(); }
  index_t out_features() const { return w_hat_.rows(); }
  // W^: the dequantized weights the product uses (for full precision, W itself).
  const matrix_f& w_hat() const { return w_hat_; }

  // Normalize (per spec) and quantize, through bit_linear::quantize_input.
  prepared_input prepare(const matrix_f& x) const {
    BITLIN_REQUIRE(x.cols() == in_features(), shape_error, "ste_linear: input has ", x.cols(),
                   " features, the layer expects ", in_features());
    prepared_input p;
    if (spec_.weights == weight_mode::full_precision) {
      if (spec_.norm == norm_kind::none) {
        p.x_hat = x;
      } else {
        p.x_hat.resize(x.rows(), x.cols());
        if (spec_.norm == norm_kind::rms_norm)
          rms_norm(x, nullptr, spec_.norm_eps, p.x_hat);
        else
          layer_norm(x, nullptr, nullptr, spec_.norm_eps, p.x_hat);
      }
      return p;
    }
    quantize_(x, p.q);
    // x^ = q / s per token: dequantize()'s arithmetic (int8 -> float, one division), row by row.
    p.x_hat.resize(x.rows(), x.cols());
    const activation_buffer& b = p.q;
    ex_->parallel_for(x.rows(), 16, [&](index_t t0, index_t t1) {
      for (index_t t = t0; t < t1; ++t) {
        const std::int8_t* q = b.row(t);
        const float s = b.scales()[t];
        float* o = p.x_hat.row(t).data();
        for (index_t c = 0; c < b.cols(); ++c) o[c] = static_cast<float>(q[c]) / s;
      }
    });
    return p;
  }

  // y = x^ W^T: on the integer kernels for quantized modes (bit_linear::forward_quantized).
  void forward(const prepared_input& in, matrix_f& y) const {
    y.resize(in.x_hat.rows(), out_features());
    if (spec_.weights == weight_mode::full_precision)
      matmul_nt(in.x_hat, w_hat_, y, *ex_);
    else
      product_(in.q, y);
  }

  // dW += dY^T x^; with dx, the gradient w.r.t. the layer's raw input x (through the norm, if
  // any).
  void backward(const matrix_f& x, const prepared_input& in, const matrix_f& dy, matrix_f* dx,
                matrix_f& dW) const {
    BITLIN_REQUIRE(dy.rows() == in.x_hat.rows() && dy.cols() == out_features(), shape_error,
                   "ste_linear: output gradient is ", dy.rows(), " x ", dy.cols(), ", expected ",
                   in.x_hat.rows(), " x ", out_features());
    matmul_tn_add(dy, in.x_hat, dW, *ex_);
    if (!dx) return;
    if (spec_.norm == norm_kind::none) {
      matmul_nn(dy, w_hat_, *dx, *ex_);
      return;
    }
    matrix_f dn;
    matmul_nn(dy, w_hat_, dn, *ex_);
    if (spec_.norm == norm_kind::rms_norm)
      rms_norm_backward<float>(x, nullptr, spec_.norm_eps, dn, *dx, nullptr);
    else
      layer_norm_backward<float>(x, nullptr, spec_.norm_eps, dn, *dx, nullptr, nullptr);
  }

 private:
  template <class Kind, int Bits>
  void build_bits(const matrix_f& W) {
    using layer_t = bit_linear<Kind, Bits>;
    typename layer_t::options o;
    o.norm = spec_.norm;
    o.norm_eps = spec_.norm_eps;
    std::shared_ptr<layer_t> layer;
    // Per-tensor scales, so W^ is one vectorized pass (dequantize()'s arithmetic: q / s for
    // ternary, q * beta for binary).
    if constexpr (std::is_same_v<Kind, ternary>) {
      ternary_weights tw = absmean_ternary(W);
      w_hat_ = tw.q.cast<float>().array() / tw.scales.values.at(0);
      layer = std::make_shared<layer_t>(
          layer_t::from_quantized(tw.q, std::move(tw.scales), nullptr, o));
    } else {
      binary_weights bw = sign_binary(W);
      w_hat_ = bw.q.cast<float>().array() * bw.scales.values.at(0);
      layer = std::make_shared<layer_t>(
          layer_t::from_quantized(bw.q, std::move(bw.scales), nullptr, o));
    }
    layer->set_executor(*ex_);
    quantize_ = [layer](const matrix_f& x, activation_buffer& q) { layer->quantize_input(x, q); };
    product_ = [layer](const activation_buffer& q, matrix_f& y) {
      layer->forward(q, y.data(), y.cols());
    };
  }

  template <class Kind>
  void build(const matrix_f& W) {
    switch (spec_.act_bits) {
      case 2:
        return build_bits<Kind, 2>(W);
      case 3:
        return build_bits<Kind, 3>(W);
      case 4:
        return build_bits<Kind, 4>(W);
      case 5:
        return build_bits<Kind, 5>(W);
      case 6:
        return build_bits<Kind, 6>(W);
      case 7:
        return build_bits<Kind, 7>(W);
      default:
        return build_bits<Kind, 8>(W);
    }
  }

  linear_spec spec_;
  const executor* ex_ = &serial();
  matrix_f w_hat_;
  std::function<void(const matrix_f&, activation_buffer&)> quantize_;
  std::function<void(const activation_buffer&, matrix_f&)> product_;
};

}  // namespace bitlin::train
