// The float side of a BitNet model: the token embedding table and the output head (lm_head, often
// the same tied matrix). They stay in 16- or 32-bit floats in every published checkpoint, and at
// decode time the head is the largest single tensor read per token (vocab x hidden, ~656 MB in
// BF16 for BitNet-2B), so its matrix-vector product decides a large share of decode speed.
//
// `dense_matrix` owns such a table in F32 or BF16 and multiplies it with float activations on the
// dense kernels of an ISA (kernels/dense/; the active one unless told otherwise). Every path
// widens BF16 to float exactly and accumulates in float; only the summation order differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/core/half.hpp"
#include "bitlin/kernels/dense/kernels.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {

enum class dense_storage { f32, bf16 };
inline const char* dense_storage_name(dense_storage s) {
  return s == dense_storage::f32 ? "F32" : "BF16";
}

namespace detail {
BITLIN_KERNEL_TABLE(dense_f32_kernel_of, dense_f32_fn, kernels::dense_f32_kernel(tag))
BITLIN_KERNEL_TABLE(dense_bf16_kernel_of, dense_bf16_fn, kernels::dense_bf16_kernel(tag))
}  // namespace detail

// The ISA whose kernel dense_matrix::multiply runs for storage s and path i.
inline isa dense_kernel_path(dense_storage s, isa i) {
  return s == dense_storage::f32 ? detail::dense_f32_kernel_of(i).path
                                 : detail::dense_bf16_kernel_of(i).path;
}

// A [rows x cols] float table stored row-major as F32 or BF16 (the raw 16-bit patterns).
class dense_matrix {
 public:
  dense_matrix() = default;

  static dense_matrix from_f32(Eigen::Ref<const matrix_f> m, dense_storage s = dense_storage::f32) {
    dense_matrix d;
    d.rows_ = m.rows();
    d.cols_ = m.cols();
    d.storage_ = s;
    const auto count = static_cast<std::size_t>(d.rows_ * d.cols_);
    if (s == dense_storage::f32) {
      d.f32_.resize(count);
      for (index_t r = 0; r < d.rows_; ++r)
        for (index_t c = 0; c < d.cols_; ++c)
          d.f32_[static_cast<std::size_t>(r * d.cols_ + c)] = m(r, c);
    } else {
      d.bf16_.resize(count);
      for (index_t r = 0; r < d.rows_; ++r)
        for (index_t c = 0; c < d.cols_; ++c)
          d.bf16_[static_cast<std::size_t>(r * d.cols_ + c)] = io::f32_to_bf16(m(r, c));
    }
    return d;
  }
  static dense_matrix from_f32(index_t rows, index_t cols, std::vector<float> data) {
    BITLIN_REQUIRE(static_cast<index_t>(data.size()) == rows * cols, shape_error,
                   "dense_matrix: ", data.size(), " values for a ", rows, " x ", cols, " matrix");
    dense_matrix d;
    d.rows_ = rows;
    d.cols_ = cols;
    d.storage_ = dense_storage::f32;
    d.f32_ = std::move(data);
    return d;
  }
  static dense_matrix from_bf16(index_t rows, index_t cols, std::vector<std::uint16_t> data) {
    BITLIN_REQUIRE(static_cast<index_t>(data.size()) == rows * cols, shape_error,
                   "dense_matrix: ", data.size(), " values for a ", rows, " x ", cols, " matrix");
    dense_matrix d;
    d.rows_ = rows;
    d.cols_ = cols;
    d.storage_ = dense_storage::bf16;
    d.bf16_ = std::move(data);
    return d;
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  dense_storage storage() const { return storage_; }
  std::size_t bytes() const {
    return f32_.size() * sizeof(float) + bf16_.size() * sizeof(std::uint16_t);
  }
  const float* f32_data() const { return f32_.data(); }
  const std::uint16_t* bf16_data() const { return bf16_.data(); }

  // Row r widened to float (the embedding lookup, layers/embedding.hpp).
  void row(index_t r, float* out) const {
    BITLIN_REQUIRE(r >= 0 && r < rows_, value_error, "dense_matrix: row ", r, " out of range [0, ",
                   rows_, ")");
    const auto off = static_cast<std::size_t>(r * cols_);
    if (storage_ == dense_storage::f32)
      std::memcpy(out, f32_.data() + off, static_cast<std::size_t>(cols_) * sizeof(float));
    else
      io::bf16_to_f32(bf16_.data() + off, out, static_cast<std::size_t>(cols_));
  }

  // Y[t, n] = sum_k X[t, k] * this[n, k] for t < tokens, n < rows(); X rows are cols() long.
  void multiply(const float* X, index_t tokens, index_t ldx, float* Y, index_t ldy,
                const executor& ex = serial(), isa path = active_isa()) const {
    BITLIN_REQUIRE(ldx >= cols_ && ldy >= rows_ && tokens >= 0, shape_error,
                   "dense_matrix::multiply: leading dimensions ", ldx, "/", ldy, " too small for ",
                   rows_, " x ", cols_);
    // Rows are split between threads so each weight byte is read once whatever the token count.
    const index_t grain = 64;
    if (storage_ == dense_storage::f32) {
      const dense_f32_fn fn = detail::dense_f32_kernel_of(path).fn;
      ex.parallel_for(rows_, grain, [&](index_t n0, index_t n1) {
        fn(f32_.data(), cols_, n0, n1, X, tokens, ldx, Y, ldy);
      });
      return;
    }
    const dense_bf16_ops& ops = *detail::dense_bf16_kernel_of(path).fn;
    // The kernel's activation order, made once for every row chunk; per-thread storage that only
    // grows, so a decode step allocates nothing.
    static thread_local std::vector<float> xprep;
    xprep.clear();
    if (ops.prepare) ops.prepare(X, tokens, ldx, cols_, xprep);
    const float* xp = xprep.empty() ? nullptr : xprep.data();
    ex.parallel_for(rows_, grain, [&](index_t n0, index_t n1) {
      ops.rows(bf16_.data(), cols_, n0, n1, X, tokens, ldx, Y, ldy, xp);
    });
  }

 private:
  index_t rows_ = 0, cols_ = 0;
  dense_storage storage_ = dense_storage::f32;
  std::vector<float> f32_;
  std::vector<std::uint16_t> bf16_;
};

}  // namespace bitlin
