// Kept for code that includes it: the dense tables and the output head moved to layers/
// (dense_linear.hpp: dense_matrix, dense_storage; int8_linear.hpp: the 8-bit head), their kernels
// to kernels/dense/.
#pragma once

#include "bitlin/layers/dense_linear.hpp"
#include "bitlin/layers/int8_linear.hpp"

namespace bitlin::model {
using bitlin::dense_matrix;
using bitlin::dense_storage;
using bitlin::dense_storage_name;
using int8_head = bitlin::int8_linear;
}  // namespace bitlin::model
