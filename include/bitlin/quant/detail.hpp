// Helpers shared by the quantizers: input validation and per-group reductions. Reductions
// accumulate in double and round once to float, so the result is the correctly rounded group
// statistic and does not depend on summation order (reference frameworks differ only in the last
// bit, which is why golden scales are compared to 1e-6 relative).
#pragma once

#include <cmath>
#include <functional>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin::detail {

template <class Derived>
void require_finite(const Eigen::MatrixBase<Derived>& m, const char* what) {
  // A branch-free pass first (it vectorizes; the training loop checks every weight each step),
  // then, only when it found something, the search for the element to name.
  unsigned bad = 0;
  for (index_t r = 0; r < m.rows(); ++r)
    for (index_t c = 0; c < m.cols(); ++c) bad |= static_cast<unsigned>(!std::isfinite(m(r, c)));
  if (bad == 0) return;
  for (index_t r = 0; r < m.rows(); ++r)
    for (index_t c = 0; c < m.cols(); ++c)
      BITLIN_REQUIRE(std::isfinite(m(r, c)), value_error, what, ": element (", r, ", ", c, ") is ",
                     m(r, c), "; quantizers need finite input");
}

// Calls f(group_index, row_begin, row_end, col_begin, col_end) for every group of the layout.
template <class F>
void for_each_group(const scale_layout& layout, F&& f) {
  for (index_t gr = 0; gr < layout.row_groups; ++gr)
    for (index_t gc = 0; gc < layout.col_groups; ++gc)
      f(gr * layout.col_groups + gc, layout.row_begin(gr), layout.row_end(gr), layout.col_begin(gc),
        layout.col_end(gc));
}

template <class Derived, class Op>
double group_sum(const Eigen::MatrixBase<Derived>& m, index_t r0, index_t r1, index_t c0,
                 index_t c1, Op op) {
  double s = 0.0;
  for (index_t r = r0; r < r1; ++r)
    for (index_t c = c0; c < c1; ++c) s += op(static_cast<double>(m(r, c)));
  return s;
}

template <class Derived>
float group_abs_max(const Eigen::MatrixBase<Derived>& m, index_t r0, index_t r1, index_t c0,
                    index_t c1) {
  float mx = 0.0f;
  for (index_t r = r0; r < r1; ++r)
    for (index_t c = c0; c < c1; ++c) mx = std::max(mx, std::fabs(m(r, c)));
  return mx;
}

inline void require_bits(int bits, const char* what) {
  BITLIN_REQUIRE(bits >= 2 && bits <= 8, value_error, what, ": bits must be in [2, 8], got ", bits);
}

}  // namespace bitlin::detail
