// The contract between the GEMM driver (gemm/driver.hpp) and the kernels of every layout
// (kernels/<layout>/...): where the packed weights, the prepared activations and the outputs are,
// and the float epilogue every path must compute bit-identically. The packed weight layout itself
// belongs to the layout (kernel_layout_traits<L>, kernels/<layout>/layout.hpp).
//
// Activations reach a kernel as kernel-ready int8 rows (activation_rows): zero-padded to the
// layout's K blocking, with xsum[t] = sum_k x[t,k], so that a kernel may read whole blocks without
// touching memory past the rows and can correct for weight codes stored with an offset (the i2
// tile stores c = t + 1: sum_k c*x = sum_k t*x + xsum).
#pragma once

#include <cstdint>

#include "bitlin/core/types.hpp"

namespace bitlin {
namespace detail {

struct kernel_args {
  const std::uint8_t* w = nullptr;  // packed weights in the layout's tiles
  index_t k_blocks = 0;             // tiles per row group
  index_t n = 0;                    // valid rows (outputs)
  const std::int8_t* x = nullptr;   // padded activations, row stride ldxp
  index_t ldxp = 0;
  const std::int32_t* xsum = nullptr;  // [tokens]
  // int32 output when y != nullptr ...
  std::int32_t* y = nullptr;
  index_t ldy = 0;
  // ... else float output with the fused epilogue:
  //   divide:   yf = float(acc) / (act_scale[t] * row_scale[n])
  //   multiply: yf = float(acc) / act_scale[t] * row_scale[n]
  //   then yf += bias[n] when bias != nullptr.
  float* yf = nullptr;
  index_t ldyf = 0;
  const float* act_scale = nullptr;  // [tokens]
  const float* row_scale = nullptr;  // [row groups * row_block] (expanded per row, padded)
  const float* bias = nullptr;       // [row groups * row_block] (padded) or nullptr
  bool multiply = false;
};

// Computes outputs for row groups [g0, g1) and tokens [t0, t1).
using kernel_fn = void (*)(const kernel_args&, index_t g0, index_t g1, index_t t0, index_t t1);

// Keeps the compiler from fusing the product into the following addition (an FMA rounds once
// where the reference rounds twice). An empty asm makes the value opaque; it costs nothing.
inline float opaque(float v) {
#if defined(__GNUC__) && (defined(__x86_64__) || (defined(__i386__) && defined(__SSE__)))
  __asm__("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(v));
#elif defined(__GNUC__)
  __asm__("" : "+m"(v));
#else
  volatile float keep = v;
  v = keep;
#endif
  return v;
}

// The scalar epilogue, shared by the scalar kernel and the SIMD kernels' N tails. The SIMD
// kernels perform the same IEEE operations in the same order (convert, divide by sx * ws or divide
// by sx then multiply by ws, add bias) with the same barrier before the addition, so every path
// gives bit-identical floats, equal to reference_bitlinear_matmul's for whole-row scales.
inline float apply_epilogue(std::int32_t acc, float sx, float ws, const float* bias, index_t n,
                            bool multiply) {
  float v = static_cast<float>(acc);
  if (multiply)
    v = opaque(v / sx * ws);
  else
    v = v / (sx * ws);
  if (bias) v = v + bias[n];
  return v;
}

// The output stage for partial register blocks (the N tail) and the scalar kernel: `v` holds the
// final sums (acc - xsum) of rows n0 .. n0+count-1 for token t; rows past N are dropped. Kept out
// of line: it is the cold path, and GCC 12 warns falsely about the kernels' staging arrays when
// it is inlined into them.
__attribute__((noinline)) inline void store_outputs(const kernel_args& a, const std::int32_t* v,
                                                    int count, index_t n0, index_t t) {
  const index_t m = n0 + count <= a.n ? count : a.n - n0;
  if (a.y) {
    std::int32_t* dst = a.y + t * a.ldy + n0;
    for (index_t i = 0; i < m; ++i) dst[i] = v[i];
  } else {
    float* dst = a.yf + t * a.ldyf + n0;
    const float sx = a.act_scale[t];
    for (index_t i = 0; i < m; ++i)
      dst[i] = apply_epilogue(v[i], sx, a.row_scale[n0 + i], a.bias, n0 + i, a.multiply);
  }
}

}  // namespace detail

// Kernel-ready int8 activations: row t at x + t * ld, zero-padded at least to the layout's padded
// K (kernel_weights<L>::padded_cols()), with its sum xsum[t] over the first K entries.
struct activation_rows {
  const std::int8_t* x = nullptr;
  index_t ld = 0;
  const std::int32_t* xsum = nullptr;
  index_t tokens = 0;
  index_t cols = 0;  // K
};

// Every layout pads K to a multiple of its k_block, and each k_block divides this, so activation
// rows padded to it serve every layout (one quantized activation feeds layers of any layout):
// 320 = lcm(16, 32, 80) and a multiple of the 64-byte cache line.
constexpr index_t activation_row_align = 320;

}  // namespace bitlin
