// The activation quantizer op: one token's floats -> int8 codes, the scale and the codes' sum (the
// ternary kernels correct for their offset weight codes with it, kernels/kernel_args.hpp). The
// definition is absmax_quantize_row(x, k, q, 8) (core/absmax.hpp); every ISA's kernel must
// produce the same bits. This is the portable kernel: the oracle itself, behind a finiteness check
// so that a kernel never throws (the public entry, quant/act_quant.hpp, re-runs the oracle to
// report the bad element).
#pragma once

#include <cmath>
#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/core/absmax.hpp"

namespace bitlin {

// Writes q[0..k), *scale and *sum = sum_i q[i] and returns true; returns false (what it wrote is
// unusable) when x holds NaN or Inf.
using act_quant_fn = bool (*)(const float* x, index_t k, std::int8_t* q, float* scale,
                              std::int32_t* sum);

namespace kernels {

inline bool act_quant_scalar(const float* x, index_t k, std::int8_t* q, float* scale,
                             std::int32_t* sum) {
  for (index_t i = 0; i < k; ++i)
    if (!std::isfinite(x[i])) return false;
  *scale = absmax_quantize_row(x, k, q, 8);
  std::int32_t s = 0;
  for (index_t i = 0; i < k; ++i) s += q[i];
  *sum = s;
  return true;
}

inline kernel_entry<act_quant_fn> act_quant_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&act_quant_scalar);
}

}  // namespace kernels
}  // namespace bitlin
