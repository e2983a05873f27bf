// Per-token int8 activation quantization on the hot path of every BitLinear: what
// absmax_quantize_row(x, k, q, 8) computes (s = 127 / max(max|x|, 1e-5), q = clamp(round half to
// even(x * s), -128, 127)), bit for bit, plus the sum of the codes that the ternary kernels need,
// on the kernel of the active ISA (kernels/act_quant/). It exists because the scalar form costs as
// much as the ternary products themselves in a 512-token prefill.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/act_quant/kernels.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/quant/activation.hpp"

namespace bitlin {

namespace detail {
BITLIN_KERNEL_TABLE(act_quant_kernel_of, act_quant_fn, kernels::act_quant_kernel(tag))
}  // namespace detail

// The ISA whose kernel quantize_row_i8 runs for path i.
inline isa act_quant_kernel_path(isa i) {
  return detail::act_quant_kernel_of(i).path;
}

// One token: q[0..k), the returned scale s and (when sum is not null) *sum = sum_i q[i], identical
// to absmax_quantize_row(x, k, q, 8) on every path. NaN or Inf in x: value_error naming the
// element.
inline float quantize_row_i8(const float* x, index_t k, std::int8_t* q, std::int32_t* sum = nullptr,
                             isa path = active_isa()) {
  float s = 0.0f;
  std::int32_t own = 0;
  if (detail::act_quant_kernel_of(path).fn(x, k, q, &s, sum ? sum : &own)) return s;
  return absmax_quantize_row(x, k, q, 8);  // throws: the kernel found a non-finite element
}

}  // namespace bitlin
