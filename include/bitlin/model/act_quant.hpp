// Kept for code that includes it: the activation quantizer moved to quant/act_quant.hpp (its
// kernels to kernels/act_quant/). absmax_i8_row is quantize_row_i8 without the sum.
#pragma once

#include <cstdint>

#include "bitlin/quant/act_quant.hpp"

namespace bitlin::model {

inline float absmax_i8_row(const float* x, index_t k, std::int8_t* q, isa path = active_isa()) {
  return quantize_row_i8(x, k, q, nullptr, path);
}

}  // namespace bitlin::model
