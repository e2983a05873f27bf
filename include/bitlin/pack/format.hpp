// The portable packed formats: the interchange between quantizers, files and the kernels (which
// convert into layouts of their own). A format is a tag type plus a format_traits specialization
// with pack/unpack over a sequence of any length; a matrix packs each row separately so that rows
// stay addressable. Adding a format = one header with a tag and its traits, plus an entry in
// all_formats (pack/formats.hpp), and the round-trip tests pick it up.
#pragma once

#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/core/weight_kind.hpp"

namespace bitlin {

template <class Format>
struct format_traits;  // specialized per format

template <class Format>
struct packed_matrix {
  index_t rows = 0, cols = 0, row_bytes = 0;
  std::vector<std::uint8_t> data;  // rows * row_bytes

  const std::uint8_t* row(index_t r) const { return data.data() + r * row_bytes; }
  std::uint8_t* row(index_t r) { return data.data() + r * row_bytes; }
  std::size_t bytes() const { return data.size(); }
};

template <class Format>
packed_matrix<Format> pack_matrix(const Eigen::Ref<const matrix_i8>& q) {
  using traits = format_traits<Format>;
  packed_matrix<Format> p;
  p.rows = q.rows();
  p.cols = q.cols();
  p.row_bytes = traits::packed_bytes(q.cols());
  p.data.assign(static_cast<std::size_t>(p.rows * p.row_bytes), 0);
  for (index_t r = 0; r < p.rows; ++r) {
    try {
      traits::pack(q.row(r).data(), p.cols, p.row(r));
    } catch (const value_error& e) {
      throw value_error(detail::concat("pack_matrix<", traits::name, ">: row ", r, ": ", e.what()));
    }
  }
  return p;
}

template <class Format>
matrix_i8 unpack_matrix(const packed_matrix<Format>& p) {
  using traits = format_traits<Format>;
  BITLIN_REQUIRE(p.rows >= 0 && p.cols >= 0 && p.row_bytes == traits::packed_bytes(p.cols) &&
                     p.data.size() == static_cast<std::size_t>(p.rows * p.row_bytes),
                 format_error, "unpack_matrix<", traits::name, ">: ", p.rows, " x ", p.cols,
                 " needs ", traits::packed_bytes(p.cols), " bytes per row and ",
                 p.rows * traits::packed_bytes(p.cols), " in all; got row_bytes ", p.row_bytes,
                 " and ", p.data.size(), " bytes");
  matrix_i8 q(p.rows, p.cols);
  for (index_t r = 0; r < p.rows; ++r) {
    try {
      traits::unpack(p.row(r), p.cols, q.row(r).data());
    } catch (const format_error& e) {
      throw format_error(
          detail::concat("unpack_matrix<", traits::name, ">: row ", r, ": ", e.what()));
    }
  }
  return q;
}

namespace detail {
template <class Kind>
void require_values(const std::int8_t* v, index_t n, const char* format) {
  for (index_t i = 0; i < n; ++i)
    BITLIN_REQUIRE(Kind::valid(v[i]), value_error, format, ": value ", static_cast<int>(v[i]),
                   " at position ", i, " is not ", Kind::name);
}
}  // namespace detail

}  // namespace bitlin
