// Helpers shared by the model tests: finding the fixture triples and measuring how far a result is
// from a reference in the units the fixture README states its band in (fractions of max|ref|).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "bitlin/core/types.hpp"
#include "fixtures.hpp"

namespace bitlin_test {

// max and median |got - ref| as fractions of max|ref|.
struct band {
  double max_rel = 0, median_rel = 0;
  bool within(double max_limit = 0.03, double median_limit = 0.003) const {
    return max_rel <= max_limit && median_rel <= median_limit;
  }
};

inline band compare(const bitlin::matrix_f& got, const bitlin::matrix_f& ref) {
  band b;
  if (got.rows() != ref.rows() || got.cols() != ref.cols() || ref.size() == 0) {
    b.max_rel = b.median_rel = INFINITY;
    return b;
  }
  const double scale = std::max(1e-30, static_cast<double>(ref.cwiseAbs().maxCoeff()));
  std::vector<double> d(static_cast<std::size_t>(ref.size()));
  for (bitlin::index_t i = 0; i < ref.size(); ++i)
    d[static_cast<std::size_t>(i)] =
        std::fabs(static_cast<double>(got.data()[i]) - ref.data()[i]) / scale;
  b.max_rel = *std::max_element(d.begin(), d.end());
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
  b.median_rel = d[d.size() / 2];
  return b;
}

}  // namespace bitlin_test
