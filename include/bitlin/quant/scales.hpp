// One description of scale granularity for every quantizer and every epilogue. A scale applies to
// a rectangle of rows_per_group x cols_per_group elements of a [rows x cols] matrix, so per-tensor,
// per-row (per token), groups of rows (tensor-parallel shards) and blocks along K are the same
// mechanism with different numbers instead of separate code paths.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {

struct scale_groups {
  index_t rows_per_group = 0;  // 0: all rows share a scale
  index_t cols_per_group = 0;  // 0: the whole row length (K) shares a scale

  static scale_groups per_tensor() { return {0, 0}; }
  static scale_groups per_row() { return {1, 0}; }
  static scale_groups row_groups(index_t rows) { return {rows, 0}; }
  static scale_groups k_blocks(index_t block) { return {1, block}; }
  static scale_groups tiles(index_t rows, index_t cols) { return {rows, cols}; }
};

// scale_groups resolved against a concrete shape. Group g covers rows
// [gr*group_rows, min(rows, (gr+1)*group_rows)) x cols [gc*group_cols, ...) with g =
// gr*col_groups+gc.
struct scale_layout {
  index_t rows = 0, cols = 0;
  index_t group_rows = 1, group_cols = 1;
  index_t row_groups = 0, col_groups = 0;

  scale_layout() = default;
  scale_layout(index_t rows_, index_t cols_, scale_groups g) : rows(rows_), cols(cols_) {
    BITLIN_REQUIRE(rows_ >= 0 && cols_ >= 0, shape_error, "scale_layout: negative shape ", rows_,
                   " x ", cols_);
    BITLIN_REQUIRE(g.rows_per_group >= 0 && g.cols_per_group >= 0, shape_error,
                   "scale_groups: group sizes must be >= 0 (0 = whole extent), got ",
                   g.rows_per_group, " x ", g.cols_per_group);
    group_rows = g.rows_per_group == 0 ? (rows_ > 0 ? rows_ : 1) : g.rows_per_group;
    group_cols = g.cols_per_group == 0 ? (cols_ > 0 ? cols_ : 1) : g.cols_per_group;
    // An empty matrix still has one (unused) group so that per-tensor scales are never zero-sized.
    row_groups = rows_ == 0 ? 1 : (rows_ + group_rows - 1) / group_rows;
    col_groups = cols_ == 0 ? 1 : (cols_ + group_cols - 1) / group_cols;
  }

  index_t size() const { return row_groups * col_groups; }
  index_t index(index_t r, index_t c) const {
    return (r / group_rows) * col_groups + c / group_cols;
  }
  bool whole_rows() const { return col_groups == 1; }
  index_t row_begin(index_t gr) const { return gr * group_rows; }
  index_t row_end(index_t gr) const { return std::min(rows, (gr + 1) * group_rows); }
  index_t col_begin(index_t gc) const { return gc * group_cols; }
  index_t col_end(index_t gc) const { return std::min(cols, (gc + 1) * group_cols); }
};

// How a weight scale enters the epilogue. Hugging Face's "bitlinear" class stores s = 1/mean|W| and
// divides (y = acc / (s_x * s)); "autobitlinear" and BitNet b1's beta store the magnitude and
// multiply (y = acc / s_x * beta).
enum class scale_convention { divide, multiply };

struct weight_scales {
  std::vector<float> values;
  scale_layout layout;
  scale_convention convention = scale_convention::divide;

  // Throws unless the scales fit an [rows x cols] weight matrix and are finite; a divisor must also
  // be non-zero (a multiplier of zero is a legitimate all-zero group).
  void validate(index_t rows, index_t cols, const char* what) const {
    BITLIN_REQUIRE(layout.rows == rows && layout.cols == cols, shape_error, what,
                   ": scale layout is for ", layout.rows, " x ", layout.cols,
                   " but the weights are ", rows, " x ", cols);
    BITLIN_REQUIRE(static_cast<index_t>(values.size()) == layout.size(), shape_error, what,
                   ": expected ", layout.size(), " scales, got ", values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float v = values[i];
      BITLIN_REQUIRE(std::isfinite(v), value_error, what, ": scale ", i, " is ", v,
                     " (must be finite)");
      BITLIN_REQUIRE(v != 0.0f || convention == scale_convention::multiply, value_error, what,
                     ": scale ", i, " is zero, but the divide convention divides by it");
    }
  }
};

}  // namespace bitlin
