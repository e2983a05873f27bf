// Binary x binary products (XNOR-Net / FBI-LLM style 1-bit activations on 1-bit weights): for +-1
// rows packed as bits, sum_k a_k * w_k = K - 2 * popcount(a XOR w). The popcounts are the Hamming
// kernels' (kernels/hamming/), shared with the Hamming top-k index; this file adds the weights
// object, the work split and the epilogue (the shared apply_epilogue, so float results equal
// reference_bitlinear_matmul's for whole-row scales, bit for bit, on every path).
//
// Exactness: a distance is at most K and the kernels count in 64-bit lanes, so for K < 2^31 both
// the distance and K - 2 * distance (in [-K, K]) are exact in int32; larger K is a shape_error.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/gemm/bit_rows.hpp"
#include "bitlin/gemm/driver.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/hamming/kernels.hpp"

namespace bitlin {

// +-1 weights [N x K] packed as bit rows, with the ISA path that multiplies with them.
class xnor_weights {
 public:
  static constexpr index_t max_cols = index_t{0x7FFFFFFF};

  xnor_weights() = default;
  explicit xnor_weights(const Eigen::Ref<const matrix_i8>& q, isa target = active_isa()) {
    BITLIN_REQUIRE(q.cols() <= max_cols, shape_error, "xnor_weights: K = ", q.cols(),
                   " exceeds the supported maximum ", max_cols);
    set_target(target);
    bits_ = bit_rows::from_signs(q);
  }
  index_t rows() const { return bits_.rows(); }
  index_t cols() const { return bits_.bits(); }
  const bit_rows& bits() const { return bits_; }
  std::size_t bytes() const { return bits_.bytes(); }
  matrix_i8 unpack() const { return bits_.to_signs(); }
  isa target() const { return target_; }
  void set_target(isa target) {
    BITLIN_REQUIRE(isa_supported(target), value_error, "xnor_weights: ISA '", isa_name(target),
                   "' is not supported by this build or CPU");
    target_ = target;
  }

 private:
  bit_rows bits_;
  isa target_ = isa::scalar;
};

// Which ISA's Hamming kernel a path runs (after the lineage fallback).
inline isa hamming_kernel_path(isa i) {
  return detail::hamming_kernel_of(i).path;
}

namespace detail {

constexpr index_t xnor_panel_rows = 64;
constexpr index_t xnor_token_block = 16;

// Calls out(t0, t1, n0, n1, dist) for every (token block x weight panel) item, dist[t * ld + n]
// the distances of tokens [t0, t1) x rows [n0, n1) (ld = xnor_panel_rows).
template <class Out>
void xnor_run(const xnor_weights& W, const bit_rows& A, const executor& ex, Out&& out) {
  BITLIN_REQUIRE(A.bits() == W.cols(), shape_error, "xnor_gemm: activations have K = ", A.bits(),
                 ", the weights ", W.cols());
  const hamming_fn fn = hamming_kernel_of(W.target()).fn;
  const index_t n = W.rows(), tokens = A.rows();
  if (n == 0 || tokens == 0) return;
  const index_t panels = ceil_div(n, xnor_panel_rows);
  const index_t tblocks = ceil_div(tokens, xnor_token_block);
  const bit_rows& B = W.bits();
  ex.parallel_for(panels * tblocks, 1, [&](index_t i0, index_t i1) {
    std::int32_t dist[xnor_token_block * xnor_panel_rows];
    for (index_t i = i0; i < i1; ++i) {
      const index_t p = i / tblocks, b = i % tblocks;
      const index_t n0 = p * xnor_panel_rows, n1 = std::min(n, n0 + xnor_panel_rows);
      const index_t t0 = b * xnor_token_block, t1 = std::min(tokens, t0 + xnor_token_block);
      fn(A.row(t0), t1 - t0, A.stride(), B.row(n0), n1 - n0, B.stride(), B.stride(), dist,
         xnor_panel_rows);
      out(t0, t1, n0, n1, static_cast<const std::int32_t*>(dist));
    }
  });
}

}  // namespace detail

// Y[t, n] = sum_k a[t, k] * w[n, k] exactly (int32), A the +-1 activations as bit rows.
inline void xnor_gemm(const xnor_weights& W, const bit_rows& A, std::int32_t* Y, index_t ldy,
                      const executor& ex = serial()) {
  BITLIN_REQUIRE(ldy >= W.rows(), shape_error, "xnor_gemm: ldy = ", ldy,
                 " is smaller than N = ", W.rows());
  BITLIN_REQUIRE(A.rows() == 0 || W.rows() == 0 || Y != nullptr, value_error,
                 "xnor_gemm: output is null");
  const std::int32_t k = static_cast<std::int32_t>(W.cols());
  detail::xnor_run(W, A, ex,
                   [&](index_t t0, index_t t1, index_t n0, index_t n1, const std::int32_t* d) {
                     for (index_t t = t0; t < t1; ++t)
                       for (index_t j = n0; j < n1; ++j)
                         Y[t * ldy + j] = k - 2 * d[(t - t0) * detail::xnor_panel_rows + (j - n0)];
                   });
}

// The same with the fused float epilogue: y[t, n] = apply_epilogue(dot, act_scale[t], ...), the
// weight side expanded once (weight_epilogue for W.rows() rows, padding not needed).
inline void xnor_gemm_f32(const xnor_weights& W, const bit_rows& A, const float* act_scale,
                          const weight_epilogue& ep, float* y, index_t ldy,
                          const executor& ex = serial()) {
  BITLIN_REQUIRE(ldy >= W.rows(), shape_error, "xnor_gemm_f32: ldy = ", ldy,
                 " is smaller than N = ", W.rows());
  BITLIN_REQUIRE(ep.rows() == W.rows(), shape_error, "xnor_gemm_f32: the epilogue is for ",
                 ep.rows(), " rows, the weights have ", W.rows());
  if (A.rows() == 0 || W.rows() == 0) return;
  BITLIN_REQUIRE(act_scale != nullptr && y != nullptr, value_error,
                 "xnor_gemm_f32: act_scale or output is null");
  const std::int32_t k = static_cast<std::int32_t>(W.cols());
  const float* ws = ep.row_scale();
  const float* bias = ep.bias();
  const bool mul = ep.multiply();
  detail::xnor_run(
      W, A, ex, [&](index_t t0, index_t t1, index_t n0, index_t n1, const std::int32_t* d) {
        for (index_t t = t0; t < t1; ++t)
          for (index_t j = n0; j < n1; ++j)
            y[t * ldy + j] =
                detail::apply_epilogue(k - 2 * d[(t - t0) * detail::xnor_panel_rows + (j - n0)],
                                       act_scale[t], ws[j], bias, j, mul);
      });
}

// Plain-pointer epilogue (as gemm_f32's): expands the weight side per call.
inline void xnor_gemm_f32(const xnor_weights& W, const bit_rows& A, const gemm_epilogue& ep,
                          float* y, index_t ldy, const executor& ex = serial()) {
  weight_epilogue w(W.rows(), W.rows(), ep.weight_scale, ep.rows_per_scale_group, ep.convention,
                    ep.bias);
  xnor_gemm_f32(W, A, ep.act_scale, w, y, ldy, ex);
}

}  // namespace bitlin
