// The list of portable formats; the format tests are templated over it
// (tests/foundation/test_pack.cpp).
#pragma once

#include "bitlin/pack/binary_b1.hpp"
#include "bitlin/pack/hf_bitnet.hpp"
#include "bitlin/pack/ternary_base3.hpp"
#include "bitlin/pack/ternary_i2.hpp"

namespace bitlin {
using ternary_formats = type_list<ternary_i2, ternary_base3>;
using binary_formats = type_list<binary_b1>;
using all_formats = type_list<ternary_i2, ternary_base3, binary_b1>;
}  // namespace bitlin
