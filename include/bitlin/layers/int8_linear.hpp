// The optional 8-bit output head: each row of a float table quantized to int8 with its own scale
// (absmax, W ~= q * row_scale), and the activations quantized per token to int8 (absmax) before an
// exact integer dot product on the int8 row kernels of an ISA (kernels/dense/). It halves the bytes
// a BF16 head reads per decoded token; the price is two extra roundings, so it is opt-in and
// checked against the fixture band. Every path gives the same bits (the products are exact).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/dense/kernels.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/layers/dense_linear.hpp"
#include "bitlin/quant/act_quant.hpp"
#include "bitlin/quant/activation.hpp"

namespace bitlin {

namespace detail {
BITLIN_KERNEL_TABLE(int8_rows_kernel_of, int8_rows_fn, kernels::int8_rows_kernel(tag))
}  // namespace detail

// The ISA whose kernel int8_linear::multiply runs for path i.
inline isa int8_linear_kernel_path(isa i) {
  return detail::int8_rows_kernel_of(i).path;
}

class int8_linear {
 public:
  int8_linear() = default;
  explicit int8_linear(const dense_matrix& m) : rows_(m.rows()), cols_(m.cols()) {
    q_.resize(static_cast<std::size_t>(rows_ * cols_));
    scale_.resize(static_cast<std::size_t>(rows_));
    row_sum_.resize(static_cast<std::size_t>(rows_));
    std::vector<float> row(static_cast<std::size_t>(cols_));
    for (index_t n = 0; n < rows_; ++n) {
      m.row(n, row.data());
      std::int8_t* q = q_.data() + n * cols_;
      const float s = absmax_quantize_row(row.data(), cols_, q);
      scale_[static_cast<std::size_t>(n)] = 1.0f / s;
      std::int32_t sum = 0;
      for (index_t i = 0; i < cols_; ++i) sum += q[i];
      row_sum_[static_cast<std::size_t>(n)] = sum;
    }
  }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  std::size_t bytes() const {
    return q_.size() + (scale_.size() + row_sum_.size()) * sizeof(float);
  }

  // Y[t, n] ~= sum_k X[t, k] * W[n, k].
  void multiply(const float* X, index_t tokens, index_t ldx, float* Y, index_t ldy,
                const executor& ex = serial(), isa path = active_isa()) const {
    BITLIN_REQUIRE(ldx >= cols_ && ldy >= rows_ && tokens >= 0, shape_error,
                   "int8_head::multiply: leading dimensions ", ldx, "/", ldy, " too small for ",
                   rows_, " x ", cols_);
    // Per-thread storage that only grows: a decode step allocates nothing once warm.
    static thread_local std::vector<std::int8_t> xq;
    static thread_local std::vector<std::uint8_t> xu;
    static thread_local std::vector<std::int32_t> acc;
    if (xq.size() < static_cast<std::size_t>(cols_)) {
      xq.resize(static_cast<std::size_t>(cols_));
      xu.resize(static_cast<std::size_t>(cols_));
    }
    if (acc.size() < static_cast<std::size_t>(rows_)) acc.resize(static_cast<std::size_t>(rows_));
    // The workers see their own thread_locals: hand them this thread's buffers.
    const std::uint8_t* xu_p = xu.data();
    std::int32_t* acc_p = acc.data();
    const int8_rows_fn fn = detail::int8_rows_kernel_of(path).fn;
    for (index_t t = 0; t < tokens; ++t) {
      const float sx = quantize_row_i8(X + t * ldx, cols_, xq.data(), nullptr, path);
      for (index_t i = 0; i < cols_; ++i)
        xu[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(xq[static_cast<std::size_t>(i)] + 128);
      ex.parallel_for(rows_, 256,
                      [&](index_t n0, index_t n1) { fn(q_.data(), cols_, n0, n1, xu_p, acc_p); });
      float* y = Y + t * ldy;
      for (index_t n = 0; n < rows_; ++n) {
        const auto i = static_cast<std::size_t>(n);
        y[n] = static_cast<float>(acc[i] - 128 * row_sum_[i]) * scale_[i] / sx;
      }
    }
  }

 private:
  index_t rows_ = 0, cols_ = 0;
  std::vector<std::int8_t> q_;
  std::vector<float> scale_;
  std::vector<std::int32_t> row_sum_;
};

}  // namespace bitlin
