// Rows of packed bits in the layout the Hamming kernels read (kernels/hamming/args.hpp): bit i of
// a row at byte i / 8, bit i % 8 (binary_b1's order, 1 = +1), each row zero-padded to a multiple
// of hamming_row_align bytes and 64-byte aligned storage. Zero padding in both operands of an
// XOR is what lets the kernels skip tail masks, so every way in here writes it.
#pragma once

#include <cstdint>
#include <cstring>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {

class bit_rows {
 public:
  bit_rows() = default;
  // rows x bits, all bits 0.
  bit_rows(index_t rows, index_t bits) { reset(rows, bits); }

  // From +-1 values [rows x bits] (value_error on anything else).
  static bit_rows from_signs(const Eigen::Ref<const matrix_i8>& v) {
    bit_rows out(v.rows(), v.cols());
    for (index_t r = 0; r < v.rows(); ++r) {
      std::uint8_t* row = out.row(r);
      for (index_t c = 0; c < v.cols(); ++c) {
        const int s = v(r, c);
        BITLIN_REQUIRE(s == 1 || s == -1, value_error, "bit_rows: value (", r, ", ", c, ") = ", s,
                       " is not -1 or +1");
        if (s == 1) row[c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
      }
    }
    return out;
  }

  // From packed codes: `rows` codes of ceil(bits / 8) bytes each, consecutive. Bits past `bits`
  // in the last byte are cleared (they would otherwise count as differences).
  static bit_rows from_packed(const std::uint8_t* codes, index_t rows, index_t bits) {
    bit_rows out(rows, bits);
    out.assign_rows(0, codes, rows);
    return out;
  }

  // Grows or shrinks to `rows` rows; new rows are zero.
  void resize_rows(index_t rows) {
    BITLIN_REQUIRE(rows >= 0, shape_error, "bit_rows: ", rows, " rows");
    data_.resize(static_cast<std::size_t>(rows * stride_), 0);
    rows_ = rows;
  }

  // Overwrites rows [r0, r0 + n) from packed codes (layout as from_packed).
  void assign_rows(index_t r0, const std::uint8_t* codes, index_t n) {
    BITLIN_REQUIRE(r0 >= 0 && n >= 0 && r0 + n <= rows_, shape_error, "bit_rows: rows [", r0, ", ",
                   r0 + n, ") outside ", rows_);
    BITLIN_REQUIRE(n == 0 || codes != nullptr, value_error, "bit_rows: codes are null");
    const index_t cb = code_bytes();
    for (index_t r = 0; r < n; ++r) {
      std::uint8_t* row = this->row(r0 + r);
      std::memset(row, 0, static_cast<std::size_t>(stride_));
      if (cb > 0) std::memcpy(row, codes + r * cb, static_cast<std::size_t>(cb));
      if (bits_ % 8) row[cb - 1] &= static_cast<std::uint8_t>((1u << (bits_ % 8)) - 1u);
    }
  }

  index_t rows() const { return rows_; }
  index_t bits() const { return bits_; }
  index_t code_bytes() const { return (bits_ + 7) / 8; }
  // Bytes from one row to the next (and the length the kernels read).
  index_t stride() const { return stride_; }
  std::size_t bytes() const { return data_.size(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::uint8_t* row(index_t r) { return data_.data() + r * stride_; }
  const std::uint8_t* row(index_t r) const { return data_.data() + r * stride_; }

  bool get(index_t r, index_t c) const { return (row(r)[c / 8] >> (c % 8)) & 1u; }
  // Back to +-1 values.
  matrix_i8 to_signs() const {
    matrix_i8 v(rows_, bits_);
    for (index_t r = 0; r < rows_; ++r)
      for (index_t c = 0; c < bits_; ++c) v(r, c) = get(r, c) ? 1 : -1;
    return v;
  }

 private:
  void reset(index_t rows, index_t bits) {
    BITLIN_REQUIRE(rows >= 0 && bits >= 0, shape_error, "bit_rows: ", rows, " rows of ", bits,
                   " bits");
    rows_ = rows;
    bits_ = bits;
    stride_ = detail::ceil_div(code_bytes(), hamming_row_align) * hamming_row_align;
    data_.assign(static_cast<std::size_t>(rows * stride_), 0);
  }

  index_t rows_ = 0, bits_ = 0, stride_ = 0;
  detail::aligned_vector<std::uint8_t> data_;
};

}  // namespace bitlin
