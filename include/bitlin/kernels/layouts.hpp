// The kernel layouts bitlin ships, as one list: kernel_weights<L>, the driver, the tests and the
// benchmarks iterate over it. Adding a layout: its folder kernels/<layout>/ (layout.hpp with the
// tag and kernel_layout_traits, a scalar kernel, optional ISA kernels, kernels.hpp including them),
// its include and its entry here.
#pragma once

#include "bitlin/core/weight_kind.hpp"
#include "bitlin/kernels/b1_tile/kernels.hpp"
#include "bitlin/kernels/base3_tile/kernels.hpp"
#include "bitlin/kernels/i2_tile/kernels.hpp"

namespace bitlin {

using all_kernel_layouts = type_list<i2_tile, b1_tile, base3_tile>;

// The layout a weight kind runs on unless the caller asks for another.
template <class WeightKind>
struct default_layout;
template <>
struct default_layout<ternary> {
  using type = i2_tile;
};
template <>
struct default_layout<binary> {
  using type = b1_tile;  // 1 bit per weight
};
template <class WeightKind>
using default_layout_t = typename default_layout<WeightKind>::type;

}  // namespace bitlin
