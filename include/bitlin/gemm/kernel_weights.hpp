// Weights packed for a kernel layout (kernel_weights<L>) and the aligned storage they live in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/kernels/layouts.hpp"
#include "bitlin/pack/ternary_i2.hpp"

namespace bitlin {

// Weights packed once, ahead of time, into a kernel layout L (kernels/<layout>/layout.hpp), 64-byte
// aligned so that every tile starts a cache line. The object also records which ISA path will
// multiply with it; the layout is the same for all paths, so set_target() never repacks.
template <class Layout>
class kernel_weights {
 public:
  using layout = Layout;
  using traits = kernel_layout_traits<Layout>;
  using weight_kind = typename traits::weight_kind;
  static constexpr index_t max_cols = traits::max_cols;

  kernel_weights() = default;

  // q: [N, K] in the layout's alphabet (value_error otherwise).
  explicit kernel_weights(const Eigen::Ref<const matrix_i8>& q, isa target = active_isa())
      : rows_(q.rows()), cols_(q.cols()) {
    set_target(target);
    BITLIN_REQUIRE(cols_ <= max_cols, shape_error, traits::name, ": K = ", cols_,
                   " exceeds the supported maximum ", max_cols);
    groups_ = detail::ceil_div(rows_, traits::row_block);
    k_blocks_ = detail::ceil_div(cols_, traits::k_block);
    data_.resize(static_cast<std::size_t>(groups_ * k_blocks_ * traits::tile_bytes));
    if (!data_.empty()) traits::pack(q, data_.data(), k_blocks_);
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  // K padded to whole blocks: the width of the activation rows the kernels read.
  index_t padded_cols() const { return k_blocks_ * traits::k_block; }
  index_t padded_rows() const { return groups_ * traits::row_block; }
  isa target() const { return target_; }
  // Chooses another path for the same packed data.
  void set_target(isa target) {
    BITLIN_REQUIRE(isa_supported(target), value_error, traits::name, ": ISA '", isa_name(target),
                   "' is not supported by this build or CPU");
    target_ = target;
  }
  std::size_t bytes() const { return data_.size(); }
  const std::uint8_t* data() const { return data_.data(); }
  index_t row_groups() const { return groups_; }
  index_t k_blocks() const { return k_blocks_; }

  // Back to integers [N, K].
  matrix_i8 unpack() const {
    matrix_i8 q(rows_, cols_);
    for (index_t n = 0; n < rows_; ++n)
      for (index_t k = 0; k < cols_; ++k) q(n, k) = traits::get(data_.data(), k_blocks_, n, k);
    return q;
  }

 private:
  index_t rows_ = 0, cols_ = 0, groups_ = 0, k_blocks_ = 0;
  isa target_ = isa::scalar;
  detail::aligned_vector<std::uint8_t> data_;
};

// The ternary kernels' weights (the name the API has always had).
using ternary_gemm_weights = kernel_weights<i2_tile>;

// Conversions with the portable interchange format (pack/ternary_i2.hpp).
inline ternary_gemm_weights to_gemm_weights(const packed_matrix<ternary_i2>& p,
                                            isa target = active_isa()) {
  return ternary_gemm_weights(unpack_matrix(p), target);
}
inline packed_matrix<ternary_i2> to_ternary_i2(const ternary_gemm_weights& w) {
  return pack_matrix<ternary_i2>(w.unpack());
}

}  // namespace bitlin
