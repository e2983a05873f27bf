// The part of the GEMM that is not ISA-specific: argument checks, the zero-padded activation copy
// with its per-token sums, the expanded epilogue vectors, the split of the work into
// (row panel x token block) items for the executor, and the per-ISA kernel table chosen once.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/gemm/kernel_args.hpp"
#include "bitlin/gemm/packed_weights.hpp"
#include "bitlin/kernels/scalar.hpp"
#if defined(BITLIN_ARCH_X86) && defined(__x86_64__)
#include "bitlin/kernels/x86/sse41.hpp"
#include "bitlin/kernels/x86/avx2.hpp"
#include "bitlin/kernels/x86/avx_vnni.hpp"
#include "bitlin/kernels/x86/avx512bw.hpp"
#include "bitlin/kernels/x86/avx512vnni.hpp"
#endif
#if defined(BITLIN_ARCH_AARCH64)
#include "bitlin/kernels/arm/neon.hpp"
#include "bitlin/kernels/arm/neon_dotprod.hpp"
#endif
#include "bitlin/quant/scales.hpp"

namespace bitlin {

// Fused epilogue of ternary_gemm_f32 (see api): y[t,n] = Y[t,n] / (act_scale[t] * ws) (divide) or
// Y[t,n] / act_scale[t] * ws (multiply), ws = weight_scale[n / rows_per_scale_group] (one scale
// when rows_per_scale_group is 0; 1 when weight_scale is nullptr); then + bias[n].
struct gemm_epilogue {
  const float* act_scale = nullptr;     // [tokens]
  const float* weight_scale = nullptr;  // [ceil(N / rows_per_scale_group)], or [1]
  index_t rows_per_scale_group = 0;     // 0 = one scale for the tensor; 1 = per row
  scale_convention convention = scale_convention::divide;
  const float* bias = nullptr;  // [N] or nullptr
};

namespace detail {

// The kernel of each path; the overload for the most derived arch tag wins (kernels/...).
template <isa I>
kernel_fn kernel_for() {
  if constexpr (isa_compiled(I))
    return kernels::gemm_kernel(typename arch_of<I>::type{});
  else
    return &kernels::scalar_gemm;
}

inline kernel_fn kernel_of(isa i) {
  static const std::array<kernel_fn, 8> table = {
      kernel_for<isa::scalar>(),   kernel_for<isa::sse41>(),       kernel_for<isa::avx2>(),
      kernel_for<isa::avx_vnni>(), kernel_for<isa::avx512bw>(),    kernel_for<isa::avx512vnni>(),
      kernel_for<isa::neon>(),     kernel_for<isa::neon_dotprod>()};
  return table[static_cast<std::size_t>(i)];
}

// Work split: panels of 4 row groups (64 rows) x blocks of up to 96 tokens, panel-major so that a
// chunk of consecutive items reuses one weight panel from cache across its token blocks.
constexpr index_t panel_groups = 4;
constexpr index_t token_block = 96;

// Per-thread buffers reused across calls, so a GEMV allocates nothing (they keep the largest
// size seen on each calling thread).
struct gemm_scratch {
  aligned_vector<std::int8_t> x;
  std::vector<std::int32_t> xsum;
  std::vector<float> row_scale, bias;
};
inline gemm_scratch& thread_scratch() {
  static thread_local gemm_scratch s;
  return s;
}
template <class V>
typename V::value_type* grow(V& v, index_t n) {
  if (v.size() < static_cast<std::size_t>(n)) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

inline void run_gemm(const ternary_gemm_weights& W, const std::int8_t* X, index_t tokens,
                     index_t ldx, kernel_args& a, const executor& ex) {
  const index_t k = W.cols(), kp = W.k_blocks() * i2_tiles::k_block;
  // Zero-padded copy of the activations and their sums (the correction term).
  gemm_scratch& s = thread_scratch();
  std::int8_t* xp = grow(s.x, std::max<index_t>(tokens * kp, 1));
  std::int32_t* xsum = grow(s.xsum, tokens);
  ex.parallel_for(tokens, 16, [&](index_t t0, index_t t1) {
    for (index_t t = t0; t < t1; ++t) {
      const std::int8_t* src = X + t * ldx;
      std::int8_t* dst = xp + t * kp;
      if (k > 0) std::memcpy(dst, src, static_cast<std::size_t>(k));
      std::memset(dst + k, 0, static_cast<std::size_t>(kp - k));
      std::int32_t sum = 0;
      for (index_t i = 0; i < k; ++i) sum += src[i];
      xsum[t] = sum;
    }
  });
  a.w = W.data();
  a.k_blocks = W.k_blocks();
  a.n = W.rows();
  a.x = xp;
  a.ldxp = kp;
  a.xsum = xsum;
  const kernel_fn fn = kernel_of(W.target());
  const index_t groups = W.row_groups();
  const index_t panels = ceil_div(groups, panel_groups);
  const index_t tblock = tokens <= token_block ? tokens : token_block;
  const index_t tblocks = ceil_div(tokens, tblock);
  ex.parallel_for(panels * tblocks, 1, [&](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) {
      const index_t p = i / tblocks, b = i % tblocks;
      fn(a, p * panel_groups, std::min(groups, (p + 1) * panel_groups), b * tblock,
         std::min(tokens, (b + 1) * tblock));
    }
  });
}

inline void check_gemm_args(const char* what, const ternary_gemm_weights& W, const void* X,
                            index_t tokens, index_t ldx, const void* Y, index_t ldy) {
  BITLIN_REQUIRE(tokens >= 0, shape_error, what, ": tokens = ", tokens, " is negative");
  BITLIN_REQUIRE(ldx >= W.cols(), shape_error, what, ": ldx = ", ldx,
                 " is smaller than K = ", W.cols());
  BITLIN_REQUIRE(ldy >= W.rows(), shape_error, what, ": ldy = ", ldy,
                 " is smaller than N = ", W.rows());
  BITLIN_REQUIRE(tokens == 0 || W.cols() == 0 || X != nullptr, value_error, what, ": X is null");
  BITLIN_REQUIRE(tokens == 0 || W.rows() == 0 || Y != nullptr, value_error, what,
                 ": output is null");
}

}  // namespace detail

// Y[t,n] = sum_k X[t,k] * W[n,k] exactly (int32), for any tokens, N, K; X row-major with leading
// dimension ldx (>= K), Y with ldy (>= N). Never reads X beyond row t's first K entries.
inline void ternary_gemm(const ternary_gemm_weights& W, const std::int8_t* X, index_t tokens,
                         index_t ldx, std::int32_t* Y, index_t ldy, const executor& ex = serial()) {
  detail::check_gemm_args("ternary_gemm", W, X, tokens, ldx, Y, ldy);
  if (tokens == 0 || W.rows() == 0) return;
  detail::kernel_args a;
  a.y = Y;
  a.ldy = ldy;
  detail::run_gemm(W, X, tokens, ldx, a, ex);
}

// ternary_gemm followed by the fused epilogue, float output.
inline void ternary_gemm_f32(const ternary_gemm_weights& W, const std::int8_t* X, index_t tokens,
                             index_t ldx, const gemm_epilogue& ep, float* y, index_t ldy,
                             const executor& ex = serial()) {
  detail::check_gemm_args("ternary_gemm_f32", W, X, tokens, ldx, y, ldy);
  if (tokens == 0 || W.rows() == 0) return;
  BITLIN_REQUIRE(ep.act_scale != nullptr, value_error, "ternary_gemm_f32: act_scale is null");
  BITLIN_REQUIRE(ep.rows_per_scale_group >= 0, value_error,
                 "ternary_gemm_f32: rows_per_scale_group = ", ep.rows_per_scale_group,
                 " is negative");
  const index_t np = W.row_groups() * detail::i2_tiles::row_block;
  detail::gemm_scratch& s = detail::thread_scratch();
  float* row_scale = detail::grow(s.row_scale, np);
  // Expanded per row, group by group (no division per row: this runs on every call).
  const index_t n = W.rows();
  const index_t rpg = ep.rows_per_scale_group == 0 ? n : ep.rows_per_scale_group;
  if (!ep.weight_scale)
    std::fill(row_scale, row_scale + n, 1.0f);
  else if (rpg == 1)
    std::copy(ep.weight_scale, ep.weight_scale + n, row_scale);
  else
    for (index_t r = 0, g = 0; r < n; r += rpg, ++g)
      std::fill(row_scale + r, row_scale + std::min(n, r + rpg), ep.weight_scale[g]);
  std::fill(row_scale + n, row_scale + np, 1.0f);
  float* bias = nullptr;
  if (ep.bias) {
    bias = detail::grow(s.bias, np);
    std::copy(ep.bias, ep.bias + W.rows(), bias);
    std::fill(bias + W.rows(), bias + np, 0.0f);
  }
  detail::kernel_args a;
  a.yf = y;
  a.ldyf = ldy;
  a.act_scale = ep.act_scale;
  a.row_scale = row_scale;
  a.bias = bias;
  a.multiply = ep.convention == scale_convention::multiply;
  detail::run_gemm(W, X, tokens, ldx, a, ex);
}

}  // namespace bitlin
