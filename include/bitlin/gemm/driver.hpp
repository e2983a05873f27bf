// The part of the GEMM that is neither ISA- nor layout-specific: argument checks, the activation
// preparation for callers that hand in plain int8 rows, the epilogue vectors, the split of the work
// into (row panel x token block) items for the executor, and the per-(ISA, layout) kernel table.
//
// Two ways in. The prepared path (activation_rows + weight_epilogue) copies nothing: a layer
// expands its scales and bias once when it is built, and its activation quantizer writes
// kernel-ready rows with their sums (quant/activation_buffer.hpp). The plain path (int8 rows with
// any leading dimension, gemm_epilogue pointers) prepares both per call in per-thread scratch.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/gemm/kernel_weights.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/layouts.hpp"
#include "bitlin/kernels/lut_gemm/kernels.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin {

// Fused epilogue of gemm_f32 (see api): y[t,n] = Y[t,n] / (act_scale[t] * ws) (divide) or
// Y[t,n] / act_scale[t] * ws (multiply), ws = weight_scale[n / rows_per_scale_group] (one scale
// when rows_per_scale_group is 0; 1 when weight_scale is nullptr); then + bias[n].
struct gemm_epilogue {
  const float* act_scale = nullptr;     // [tokens]
  const float* weight_scale = nullptr;  // [ceil(N / rows_per_scale_group)], or [1]
  index_t rows_per_scale_group = 0;     // 0 = one scale for the tensor; 1 = per row
  scale_convention convention = scale_convention::divide;
  const float* bias = nullptr;  // [N] or nullptr
};

// The weight side of the epilogue, expanded per row and padded to whole row blocks, made once per
// layer (the activation scales are the only per-call part).
class weight_epilogue {
 public:
  weight_epilogue() = default;
  // n rows, padded to np; scales as in gemm_epilogue.
  weight_epilogue(index_t n, index_t np, const float* weight_scale, index_t rows_per_scale_group,
                  scale_convention convention, const float* bias) {
    assign(n, np, weight_scale, rows_per_scale_group, convention, bias);
  }
  // The same, reusing this object's storage (no allocation once it has held as many rows).
  void assign(index_t n, index_t np, const float* weight_scale, index_t rows_per_scale_group,
              scale_convention convention, const float* bias) {
    BITLIN_REQUIRE(rows_per_scale_group >= 0, value_error,
                   "weight_epilogue: rows_per_scale_group = ", rows_per_scale_group,
                   " is negative");
    BITLIN_REQUIRE(np >= n && n >= 0, shape_error, "weight_epilogue: ", n, " rows padded to ", np);
    rows_ = n;
    multiply_ = convention == scale_convention::multiply;
    row_scale_.assign(static_cast<std::size_t>(np), 1.0f);
    const index_t rpg = rows_per_scale_group == 0 ? n : rows_per_scale_group;
    if (weight_scale) {
      for (index_t r = 0, g = 0; r < n; r += rpg, ++g)
        std::fill(row_scale_.begin() + r, row_scale_.begin() + std::min(n, r + rpg),
                  weight_scale[g]);
    }
    bias_.clear();
    if (bias) {
      bias_.assign(static_cast<std::size_t>(np), 0.0f);
      std::copy(bias, bias + n, bias_.begin());
    }
  }
  index_t rows() const { return rows_; }
  index_t padded_rows() const { return static_cast<index_t>(row_scale_.size()); }
  const float* row_scale() const { return row_scale_.data(); }
  const float* bias() const { return bias_.empty() ? nullptr : bias_.data(); }
  bool multiply() const { return multiply_; }

 private:
  index_t rows_ = 0;
  std::vector<float> row_scale_, bias_;
  bool multiply_ = false;
};

namespace detail {

// The kernel of (isa, layout): the most derived arch tag with a kernel for the layout.
// (Declared only when the tables are prebuilt: src/kernel_tables.cpp instantiates it for every
// layout of all_kernel_layouts.)
template <class Layout>
const kernel_entry<kernel_fn>& gemm_kernel_of(isa i)
#if BITLIN_KERNEL_TABLES_EXTERN
    ;
#else
{
  static const auto table =
      isa_table<kernel_fn>([](auto tag) { return kernels::gemm_kernel(tag, Layout{}); });
  return table[static_cast<std::size_t>(i)];
}
#endif

// The lookup-table kernel of (isa, layout), or a null fn where there is none
// (kernels/lut_gemm/kernels.hpp).
template <class Layout>
const kernel_entry<kernel_fn>& lut_gemm_kernel_of(isa i)
#if BITLIN_KERNEL_TABLES_EXTERN
    ;
#else
{
  static const auto table =
      isa_table<kernel_fn>([](auto tag) { return kernels::lut_gemm_kernel(tag, Layout{}); });
  return table[static_cast<std::size_t>(i)];
}
#endif

// Products with at least this many tokens (and lut_min_rows rows) run the lookup-table kernel
// where the ISA has one (0 never does). Its tables cost about 600 vector operations per 4-5
// columns per 32 tokens whatever N is, so short products and few rows do not repay them: on Zen
// 4 (one thread, 2560 x 2560) 16 tokens ran at 0.6-1.0x the tile kernels, 32 tokens at 1.2-1.7x;
// 640 x 2560 at 128 tokens ran the i2 table at 0.76x (base3 1.17x).
inline std::atomic<index_t>& lut_min_tokens_setting() {
  static std::atomic<index_t> v{32};
  return v;
}
inline std::atomic<index_t>& lut_min_rows_setting() {
  static std::atomic<index_t> v{1024};
  return v;
}

// Work split: panels of 64 rows x blocks of up to 96 tokens, panel-major so that a chunk of
// consecutive items reuses one weight panel from cache across its token blocks, or token-major
// where the kernel's entry asks for it (kernel_entry::token_major).
constexpr index_t panel_rows = 64;
constexpr index_t token_block = 96;

// The least work (multiply-adds, padded K) a chunk handed to another thread must carry. Below it
// the hand-over (publishing the job, a worker noticing it, the caller waiting for the last chunk;
// a futex wake-up when the worker sleeps) costs more than the work saves, so a small product runs
// whole on the calling thread and 2 threads are never slower than 1. The default, 2^20, is 5-10 us
// of one core's AVX-512 VNNI GEMV (110-200 G MAC/s), several times a hand-over to a spinning
// worker. 2^21 kept 1024 x 2560 (2.6 M MACs) on one thread where a split into two ran 1.1-1.4x
// faster (Xeon, gemv_threads medians); bitlin_bench's gemv_threads rows compare 1 and 2 threads
// with and without the threshold in one run.
// Chunking never changes results: each output is computed by one chunk in the same order.
inline std::atomic<std::int64_t>& min_chunk_macs_setting() {
  static std::atomic<std::int64_t> v{std::int64_t{1} << 20};
  return v;
}

// Per-thread buffers reused across calls, so a GEMV allocates nothing (they keep the largest
// size seen on each calling thread).
struct gemm_scratch {
  aligned_vector<std::int8_t> x;
  std::vector<std::int32_t> xsum;
  weight_epilogue epilogue;
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

// Copies plain int8 rows into zero-padded kernel-ready rows of width kp, with their sums.
inline activation_rows prepare_rows(const std::int8_t* X, index_t tokens, index_t ldx, index_t k,
                                    index_t kp, const executor& ex) {
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
  return {xp, kp, xsum, tokens, k};
}

template <class Layout>
void run_gemm(const kernel_weights<Layout>& W, const activation_rows& x, kernel_args& a,
              const executor& ex) {
  using traits = kernel_layout_traits<Layout>;
  static_assert(activation_row_align % traits::k_block == 0,
                "a layout's k_block must divide activation_row_align");
  static_assert(panel_rows % traits::row_block == 0, "panels cover whole row groups");
  a.w = W.data();
  a.k_blocks = W.k_blocks();
  a.n = W.rows();
  a.x = x.x;
  a.ldxp = x.ld;
  a.xsum = x.xsum;
  const index_t tokens = x.tokens;
  const index_t groups = W.row_groups();
  const index_t lut_min = lut_min_tokens_setting().load(std::memory_order_relaxed);
  if (const kernel_fn lut = lut_gemm_kernel_of<Layout>(W.target()).fn;
      lut != nullptr && lut_min > 0 && tokens >= lut_min &&
      W.rows() >= lut_min_rows_setting().load(std::memory_order_relaxed)) {
    // One item per lut_tokens tokens and all rows, so that each table serves every row. When
    // the token blocks do not share out evenly over the threads, the rows are split too (into at
    // most four parts of at least 32 groups, 512 rows, so the tables still serve many rows).
    const index_t tb = lut_tokens;
    const index_t tblocks = ceil_div(tokens, tb);
    const index_t threads = ex.threads();
    index_t parts = 1;
    while (parts < 4 && (tblocks * parts) % threads != 0 && tblocks * parts < 4 * threads &&
           groups / (parts + 1) >= 32)
      ++parts;
    const index_t part_groups = ceil_div(groups, parts);
    ex.parallel_for(tblocks * parts, 1, [&](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i) {
        const index_t b = i / parts, p = i % parts;
        const index_t gb = p * part_groups, ge = std::min(groups, gb + part_groups);
        if (gb < ge) lut(a, gb, ge, tb * b, std::min(tokens, tb * (b + 1)));
      }
    });
    return;
  }
  const kernel_entry<kernel_fn>& entry = gemm_kernel_of<Layout>(W.target());
  const kernel_fn fn = entry.fn;
  const bool token_major = entry.token_major;
  constexpr index_t panel_groups = panel_rows / traits::row_block;
  const index_t panels = ceil_div(groups, panel_groups);
  const index_t tblock = tokens <= token_block ? tokens : token_block;
  const index_t tblocks = ceil_div(tokens, tblock);
  // At most total / min_chunk_macs chunks, all about the same size (a 13 + 3 split of 16 items
  // would leave one thread doing most of the work).
  const index_t items = panels * tblocks;
  const std::int64_t item_macs = std::max<std::int64_t>(
      std::int64_t{panel_rows} * W.padded_cols() * std::max<index_t>(tblock, 1), 1);
  const std::int64_t min_macs = min_chunk_macs_setting().load(std::memory_order_relaxed);
  index_t grain = 1;
  if (min_macs > 0) {
    const std::int64_t chunks = std::max<std::int64_t>(1, items * item_macs / min_macs);
    grain = static_cast<index_t>((items + chunks - 1) / chunks);
  }
  ex.parallel_for(panels * tblocks, grain, [&](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) {
      const index_t p = token_major ? i % panels : i / tblocks;
      const index_t b = token_major ? i / panels : i % tblocks;
      fn(a, p * panel_groups, std::min(groups, (p + 1) * panel_groups), b * tblock,
         std::min(tokens, (b + 1) * tblock));
    }
  });
}

template <class Layout>
void check_gemm_args(const char* what, const kernel_weights<Layout>& W, const void* X,
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

template <class Layout>
void check_rows(const char* what, const kernel_weights<Layout>& W, const activation_rows& x) {
  BITLIN_REQUIRE(x.cols == W.cols(), shape_error, what, ": activations have K = ", x.cols,
                 ", the weights ", W.cols());
  BITLIN_REQUIRE(x.ld >= W.padded_cols(), shape_error, what, ": activation rows are ", x.ld,
                 " wide, the layout reads ", W.padded_cols());
  BITLIN_REQUIRE(x.tokens >= 0, shape_error, what, ": tokens = ", x.tokens, " is negative");
  BITLIN_REQUIRE(x.tokens == 0 || (x.x != nullptr && x.xsum != nullptr), value_error, what,
                 ": activation rows are null");
}

}  // namespace detail

// The work threshold for splitting a product across threads (see detail::min_chunk_macs_setting);
// 0 splits every product as finely as the executor likes (what benchmarks compare against).
inline std::int64_t min_chunk_macs() {
  return detail::min_chunk_macs_setting().load(std::memory_order_relaxed);
}
inline void set_min_chunk_macs(std::int64_t macs) {
  BITLIN_REQUIRE(macs >= 0, value_error, "set_min_chunk_macs: ", macs, " is negative");
  detail::min_chunk_macs_setting().store(macs, std::memory_order_relaxed);
}

// The token count from which products run the lookup-table kernel where the ISA has one
// (detail::lut_min_tokens_setting); 0 turns it off (benchmarks compare both).
inline index_t lut_min_tokens() {
  return detail::lut_min_tokens_setting().load(std::memory_order_relaxed);
}
inline void set_lut_min_tokens(index_t tokens) {
  BITLIN_REQUIRE(tokens >= 0, value_error, "set_lut_min_tokens: ", tokens, " is negative");
  detail::lut_min_tokens_setting().store(tokens, std::memory_order_relaxed);
}
// ... and the least output rows (detail::lut_min_rows_setting).
inline index_t lut_min_rows() {
  return detail::lut_min_rows_setting().load(std::memory_order_relaxed);
}
inline void set_lut_min_rows(index_t rows) {
  BITLIN_REQUIRE(rows >= 0, value_error, "set_lut_min_rows: ", rows, " is negative");
  detail::lut_min_rows_setting().store(rows, std::memory_order_relaxed);
}
// Whether a product of `tokens` tokens with `rows` output rows and weights for ISA i runs the
// lookup-table kernel.
template <class Layout>
bool runs_lut_gemm(isa i, index_t tokens, index_t rows) {
  const index_t m = lut_min_tokens();
  return detail::lut_gemm_kernel_of<Layout>(i).fn != nullptr && m > 0 && tokens >= m &&
         rows >= lut_min_rows();
}
// Whether ISA i has a lookup-table kernel for the layout at all.
template <class Layout>
bool has_lut_gemm(isa i) {
  return detail::lut_gemm_kernel_of<Layout>(i).fn != nullptr;
}

// Which ISA's kernel a product with these weights runs (after the lineage fallback).
template <class Layout>
isa gemm_kernel_path(const kernel_weights<Layout>& W) {
  return detail::gemm_kernel_of<Layout>(W.target()).path;
}
template <class Layout>
isa gemm_kernel_path(isa i) {
  return detail::gemm_kernel_of<Layout>(i).path;
}

// Y[t,n] = sum_k X[t,k] * W[n,k] exactly (int32), for any tokens, N, K; X row-major with leading
// dimension ldx (>= K), Y with ldy (>= N). Never reads X beyond row t's first K entries.
template <class Layout>
void gemm(const kernel_weights<Layout>& W, const std::int8_t* X, index_t tokens, index_t ldx,
          std::int32_t* Y, index_t ldy, const executor& ex = serial()) {
  detail::check_gemm_args("gemm", W, X, tokens, ldx, Y, ldy);
  if (tokens == 0 || W.rows() == 0) return;
  detail::kernel_args a;
  a.y = Y;
  a.ldy = ldy;
  const activation_rows x = detail::prepare_rows(X, tokens, ldx, W.cols(), W.padded_cols(), ex);
  detail::run_gemm(W, x, a, ex);
}

// The prepared path: kernel-ready rows, per-token scales, an epilogue expanded once. Copies
// nothing.
template <class Layout>
void gemm_f32(const kernel_weights<Layout>& W, const activation_rows& x, const float* act_scale,
              const weight_epilogue& ep, float* y, index_t ldy, const executor& ex = serial()) {
  detail::check_rows("gemm_f32", W, x);
  BITLIN_REQUIRE(ldy >= W.rows(), shape_error, "gemm_f32: ldy = ", ldy,
                 " is smaller than N = ", W.rows());
  BITLIN_REQUIRE(ep.rows() == W.rows() && ep.padded_rows() >= W.padded_rows(), shape_error,
                 "gemm_f32: the epilogue is for ", ep.rows(), " rows, the weights have ", W.rows());
  if (x.tokens == 0 || W.rows() == 0) return;
  BITLIN_REQUIRE(act_scale != nullptr && y != nullptr, value_error,
                 "gemm_f32: act_scale or output is null");
  detail::kernel_args a;
  a.yf = y;
  a.ldyf = ldy;
  a.act_scale = act_scale;
  a.row_scale = ep.row_scale();
  a.bias = ep.bias();
  a.multiply = ep.multiply();
  detail::run_gemm(W, x, a, ex);
}

// gemm followed by the fused epilogue, float output (plain path).
template <class Layout>
void gemm_f32(const kernel_weights<Layout>& W, const std::int8_t* X, index_t tokens, index_t ldx,
              const gemm_epilogue& ep, float* y, index_t ldy, const executor& ex = serial()) {
  detail::check_gemm_args("gemm_f32", W, X, tokens, ldx, y, ldy);
  if (tokens == 0 || W.rows() == 0) return;
  BITLIN_REQUIRE(ep.act_scale != nullptr, value_error, "gemm_f32: act_scale is null");
  detail::gemm_scratch& s = detail::thread_scratch();
  s.epilogue.assign(W.rows(), W.padded_rows(), ep.weight_scale, ep.rows_per_scale_group,
                    ep.convention, ep.bias);
  const activation_rows x = detail::prepare_rows(X, tokens, ldx, W.cols(), W.padded_cols(), ex);
  gemm_f32(W, x, ep.act_scale, s.epilogue, y, ldy, ex);
}

// The ternary entry points under the names the API has always had.
inline void ternary_gemm(const ternary_gemm_weights& W, const std::int8_t* X, index_t tokens,
                         index_t ldx, std::int32_t* Y, index_t ldy, const executor& ex = serial()) {
  gemm(W, X, tokens, ldx, Y, ldy, ex);
}
inline void ternary_gemm_f32(const ternary_gemm_weights& W, const std::int8_t* X, index_t tokens,
                             index_t ldx, const gemm_epilogue& ep, float* y, index_t ldy,
                             const executor& ex = serial()) {
  gemm_f32(W, X, tokens, ldx, ep, y, ldy, ex);
}

}  // namespace bitlin
