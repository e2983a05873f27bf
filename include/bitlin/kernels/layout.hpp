// What a kernel layout is. A layout is an empty tag type L with a specialization of
// kernel_layout_traits<L> that says everything the generic parts (kernel_weights<L>, the driver,
// tests, benchmarks) need to know:
//
//   using weight_kind = ternary | binary;          the alphabet it stores
//   static constexpr const char* name;             "i2_tile", used in benchmark and CLI names
//   static constexpr double bits_per_weight;       storage cost, padding excluded
//   static constexpr index_t row_block, k_block;   rows and K per tile
//   static constexpr index_t tile_bytes;           bytes per (row group x k block) tile
//   static constexpr index_t max_cols;             largest K whose sums the kernels keep exact
//   static void pack(Eigen::Ref<const matrix_i8> q, std::uint8_t* tiles, index_t k_blocks);
//                                                  fills every tile of [groups x k_blocks], padding
//                                                  included; value_error on a value outside the
//                                                  alphabet
//   static std::int8_t get(const std::uint8_t* tiles, index_t k_blocks, index_t n, index_t k);
//                                                  one weight back (unpack)
//
// and kernels are found by (arch tag, layout): `kernels::gemm_kernel(arch::X, L)` returning a
// kernel_entry<detail::kernel_fn>; the scalar one must exist, ISA ones are optional (the lineage
// falls back). Activations reach every layout's kernels as activation_rows
// (kernels/kernel_args.hpp). The layouts bitlin ships are listed in kernels/layouts.hpp.
#pragma once

#include <cstdint>

#include "bitlin/core/types.hpp"

namespace bitlin {

template <class Layout>
struct kernel_layout_traits;

}  // namespace bitlin
