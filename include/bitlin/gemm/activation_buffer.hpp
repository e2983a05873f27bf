// Per-token absmax activations written straight into the rows the kernels read: zero-padded to
// activation_row_align (which every kernel layout's K blocking divides), with each row's sum and
// scale beside it. A layer or model keeps one buffer and refills it, so quantizing the input of a
// product copies nothing afterwards and allocates nothing once the buffer has held as many tokens.
// The values are those of absmax_quantize(X, bits, scale_groups::per_row()), bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/config/cpu.hpp"
#include "bitlin/quant/act_quant.hpp"
#include "bitlin/quant/activation.hpp"

namespace bitlin {

namespace detail {
// One token: q[0..k) and its scale, as absmax_quantize_row; the sum is taken from the codes.
// Every per-token quantization of the library goes through here: 8 bits run on the activation
// quantizer kernel of `path` (quant/act_quant.hpp, bit-identical), other widths on the oracle.
inline float quantize_token(const float* x, index_t k, std::int8_t* q, int bits, std::int32_t* sum,
                            isa path = active_isa()) {
  if (bits == 8) return quantize_row_i8(x, k, q, sum, path);
  const float s = absmax_quantize_row(x, k, q, bits);
  std::int32_t acc = 0;
  for (index_t i = 0; i < k; ++i) acc += q[i];
  *sum = acc;
  return s;
}
}  // namespace detail

class activation_buffer {
 public:
  activation_buffer() = default;

  // Sizes the buffer for `tokens` rows of K = cols (keeps the storage when it is large enough).
  void resize(index_t tokens, index_t cols) {
    BITLIN_REQUIRE(tokens >= 0 && cols >= 0, shape_error, "activation_buffer: negative shape ",
                   tokens, " x ", cols);
    tokens_ = tokens;
    cols_ = cols;
    ld_ = std::max<index_t>(detail::ceil_div(cols, activation_row_align), 1) * activation_row_align;
    const auto n = static_cast<std::size_t>(tokens * ld_);
    if (q_.size() < n) q_.resize(n);
    if (sum_.size() < static_cast<std::size_t>(tokens)) {
      sum_.resize(static_cast<std::size_t>(tokens));
      scale_.resize(static_cast<std::size_t>(tokens));
    }
  }

  // Rows of X ([tokens x cols], leading dimension ldx) quantized per token to `bits` bits.
  void quantize(const float* X, index_t tokens, index_t ldx, index_t cols, int bits = 8,
                const executor& ex = serial()) {
    BITLIN_REQUIRE(ldx >= cols, shape_error, "activation_buffer: ldx = ", ldx,
                   " is smaller than K = ", cols);
    resize(tokens, cols);
    const isa path = active_isa();
    ex.parallel_for(tokens, 8, [&](index_t t0, index_t t1) {
      for (index_t t = t0; t < t1; ++t) {
        std::int8_t* q = row(t);
        scale_[static_cast<std::size_t>(t)] = detail::quantize_token(
            X + t * ldx, cols, q, bits, &sum_[static_cast<std::size_t>(t)], path);
        std::memset(q + cols, 0, static_cast<std::size_t>(ld_ - cols));
      }
    });
  }

  // Takes already quantized activations whose scales cover whole tokens.
  void assign(const quantized_activations& a) {
    BITLIN_REQUIRE(a.layout.whole_rows() && a.layout.rows == a.q.rows() &&
                       static_cast<index_t>(a.scales.size()) == a.layout.size(),
                   value_error,
                   "activation_buffer: the activations' scales do not cover whole "
                   "tokens");
    resize(a.q.rows(), a.q.cols());
    for (index_t t = 0; t < tokens_; ++t) {
      std::int8_t* q = row(t);
      std::int32_t acc = 0;
      for (index_t i = 0; i < cols_; ++i) acc += q[i] = a.q(t, i);
      std::memset(q + cols_, 0, static_cast<std::size_t>(ld_ - cols_));
      sum_[static_cast<std::size_t>(t)] = acc;
      scale_[static_cast<std::size_t>(t)] =
          a.scales[static_cast<std::size_t>(a.layout.index(t, 0))];
    }
  }

  index_t tokens() const { return tokens_; }
  index_t cols() const { return cols_; }
  index_t ld() const { return ld_; }
  std::int8_t* row(index_t t) { return q_.data() + t * ld_; }
  const std::int8_t* row(index_t t) const { return q_.data() + t * ld_; }
  const float* scales() const { return scale_.data(); }
  const std::int32_t* sums() const { return sum_.data(); }
  activation_rows rows() const { return {q_.data(), ld_, sum_.data(), tokens_, cols_}; }

 private:
  index_t tokens_ = 0, cols_ = 0, ld_ = 0;
  detail::aligned_vector<std::int8_t> q_;
  std::vector<std::int32_t> sum_;
  std::vector<float> scale_;
};

}  // namespace bitlin
