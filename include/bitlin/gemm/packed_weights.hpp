// Ternary weights packed once, ahead of time, into the kernels' i2 tile layout
// (gemm/kernel_args.hpp), 64-byte aligned so that every tile is one cache line. The object also
// records which ISA path will multiply with it; the layout itself is the same for all paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/kernel_args.hpp"
#include "bitlin/pack/ternary_i2.hpp"

namespace bitlin {
namespace detail {

// std::allocator with a fixed over-alignment (C++17 aligned new).
template <class T, std::size_t Align = 64>
struct aligned_allocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Align>;
  };
  aligned_allocator() = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Align>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Align}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{Align}); }
  template <class U>
  bool operator==(const aligned_allocator<U, Align>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const aligned_allocator<U, Align>&) const noexcept {
    return false;
  }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

inline index_t ceil_div(index_t a, index_t b) {
  return (a + b - 1) / b;
}

}  // namespace detail

class ternary_gemm_weights {
 public:
  // Largest K the kernels accept: they accumulate sum_k c*x with c = t + 1 <= 2 and |x| <= 128,
  // so |acc| <= 256 * K must stay below 2^31.
  static constexpr index_t max_cols = (index_t{1} << 23) - 1;

  ternary_gemm_weights() = default;

  // trits: [N, K] with values in {-1, 0, 1} (value_error otherwise).
  explicit ternary_gemm_weights(Eigen::Ref<const matrix_i8> trits, isa target = active_isa())
      : rows_(trits.rows()), cols_(trits.cols()) {
    set_target(target);
    BITLIN_REQUIRE(cols_ <= max_cols, shape_error, "ternary_gemm_weights: K = ", cols_,
                   " exceeds the supported maximum ", max_cols);
    using tiles = detail::i2_tiles;
    groups_ = detail::ceil_div(rows_, tiles::row_block);
    k_blocks_ = detail::ceil_div(cols_, tiles::k_block);
    // Code 1 (= 0b01) in all four 2-bit fields: the padding value 0 everywhere.
    data_.assign(static_cast<std::size_t>(groups_ * k_blocks_ * tiles::tile_bytes), 0x55);
    for (index_t n = 0; n < rows_; ++n) {
      std::uint8_t* tile_row = data_.data() + (n / 16) * k_blocks_ * 64 + 4 * (n % 16);
      for (index_t k = 0; k < cols_; ++k) {
        const int t = trits(n, k);
        BITLIN_REQUIRE(t >= -1 && t <= 1, value_error, "ternary_gemm_weights: trits(", n, ", ", k,
                       ") = ", t, " is not in {-1, 0, 1}");
        std::uint8_t& byte = tile_row[(k / 16) * 64 + (k % 4)];
        const int shift = 2 * static_cast<int>((k % 16) / 4);
        byte = static_cast<std::uint8_t>((byte & ~(3u << shift)) |
                                         (static_cast<unsigned>(t + 1) << shift));
      }
    }
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  isa target() const { return target_; }
  // Chooses another path for the same packed data (the layout is shared by all paths).
  void set_target(isa target) {
    BITLIN_REQUIRE(isa_supported(target), value_error, "ternary_gemm_weights: ISA '",
                   isa_name(target), "' is not supported by this build or CPU");
    target_ = target;
  }
  std::size_t bytes() const { return data_.size(); }
  const std::uint8_t* data() const { return data_.data(); }
  index_t row_groups() const { return groups_; }
  index_t k_blocks() const { return k_blocks_; }

  // Back to trits [N, K].
  matrix_i8 unpack() const {
    matrix_i8 q(rows_, cols_);
    for (index_t n = 0; n < rows_; ++n) {
      const std::uint8_t* tile_row = data_.data() + (n / 16) * k_blocks_ * 64 + 4 * (n % 16);
      for (index_t k = 0; k < cols_; ++k) {
        const unsigned byte = tile_row[(k / 16) * 64 + (k % 4)];
        q(n, k) =
            static_cast<std::int8_t>(static_cast<int>((byte >> (2 * ((k % 16) / 4))) & 3u) - 1);
      }
    }
    return q;
  }

 private:
  index_t rows_ = 0, cols_ = 0, groups_ = 0, k_blocks_ = 0;
  isa target_ = isa::scalar;
  detail::aligned_vector<std::uint8_t> data_;
};

// Conversions with the portable interchange format (pack/ternary_i2.hpp).
inline ternary_gemm_weights to_gemm_weights(const packed_matrix<ternary_i2>& p,
                                            isa target = active_isa()) {
  return ternary_gemm_weights(unpack_matrix(p), target);
}
inline packed_matrix<ternary_i2> to_ternary_i2(const ternary_gemm_weights& w) {
  return pack_matrix<ternary_i2>(w.unpack());
}

}  // namespace bitlin
