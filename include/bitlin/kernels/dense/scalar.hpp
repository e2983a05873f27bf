// The dense ops of the float side of a model: Y[t, n] = sum_k X[t, k] * W[n, k] with W in F32 or
// BF16 (the output head, the embedding table when tied), and the int8 head's exact integer row
// products. This header holds the op signatures and the portable kernels, which are the oracles
// the ISA kernels (x86/) are tested against. All float paths widen BF16 to float exactly (a 16-bit
// shift) and accumulate in float; only the summation order differs between them.
#pragma once

#include <cstdint>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/core/half.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {

// Rows [n0, n1) of Y = X W^T for `tokens` rows of X (leading dimension ldx) into Y (ldy).
using dense_f32_fn = void (*)(const float* W, index_t k, index_t n0, index_t n1, const float* X,
                              index_t tokens, index_t ldx, float* Y, index_t ldy);

// The BF16 product of one ISA: `prepare` (null when the kernel needs none) reorders the
// activations once per product into what `rows` reads as xprep, so that the row chunks threads
// share do not each redo it; `rows` also accepts xprep = null and then prepares them itself. Both
// come from one ISA file, so a kernel never receives another kernel's preparation.
struct dense_bf16_ops {
  void (*rows)(const std::uint16_t* W, index_t k, index_t n0, index_t n1, const float* X,
               index_t tokens, index_t ldx, float* Y, index_t ldy, const float* xprep);
  void (*prepare)(const float* X, index_t tokens, index_t ldx, index_t k, std::vector<float>& out);
};
using dense_bf16_fn = const dense_bf16_ops*;

// acc[n] = sum_k xu[k] * q[n, k] for rows [n0, n1): int8 weights times the activations offset to
// unsigned bytes (xu = x + 128, the form vpdpbusd multiplies). Exact in int32 for any K below
// 2^31 / (255 * 128).
using int8_rows_fn = void (*)(const std::int8_t* q, index_t k, index_t n0, index_t n1,
                              const std::uint8_t* xu, std::int32_t* acc);

namespace kernels {
namespace dense_detail {

inline float load_elem(const float* w, index_t i) {
  return w[i];
}
inline float load_elem(const std::uint16_t* w, index_t i) {
  return io::bf16_to_f32(w[i]);
}

template <class T>
void dense_rows_scalar(const T* W, index_t k, index_t n0, index_t n1, const float* X,
                       index_t tokens, index_t ldx, float* Y, index_t ldy) {
  for (index_t n = n0; n < n1; ++n) {
    const T* w = W + n * k;
    for (index_t t = 0; t < tokens; ++t) {
      const float* x = X + t * ldx;
      float acc = 0.0f;
      for (index_t i = 0; i < k; ++i) acc += load_elem(w, i) * x[i];
      Y[t * ldy + n] = acc;
    }
  }
}

inline void dense_bf16_rows_scalar(const std::uint16_t* W, index_t k, index_t n0, index_t n1,
                                   const float* X, index_t tokens, index_t ldx, float* Y,
                                   index_t ldy, const float*) {
  dense_rows_scalar(W, k, n0, n1, X, tokens, ldx, Y, ldy);
}

inline constexpr dense_bf16_ops bf16_scalar_ops{&dense_bf16_rows_scalar, nullptr};

inline void int8_rows_scalar(const std::int8_t* q, index_t k, index_t n0, index_t n1,
                             const std::uint8_t* xu, std::int32_t* acc) {
  for (index_t n = n0; n < n1; ++n) {
    std::int32_t a = 0;
    for (index_t i = 0; i < k; ++i) a += static_cast<std::int32_t>(xu[i]) * q[n * k + i];
    acc[n] = a;
  }
}

}  // namespace dense_detail

inline kernel_entry<dense_f32_fn> dense_f32_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&dense_detail::dense_rows_scalar<float>);
}
inline kernel_entry<dense_bf16_fn> dense_bf16_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&dense_detail::bf16_scalar_ops);
}
inline kernel_entry<int8_rows_fn> int8_rows_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&dense_detail::int8_rows_scalar);
}

}  // namespace kernels
}  // namespace bitlin
