// Kept for code that includes it: attention moved to layers/attention.hpp (its kernels to
// kernels/attention/).
#pragma once

#include "bitlin/layers/attention.hpp"

namespace bitlin::model {
using bitlin::attend_head;
using bitlin::attention_args;
}  // namespace bitlin::model
