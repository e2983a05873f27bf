// The token embedding: rows of a float table (F32 or BF16, layers/dense_linear.hpp) gathered by
// token id and widened to float. Its own role, separate from the products on the same table (a
// tied head multiplies it), so that the model's first step reads as a lookup.
#pragma once

#include <cstdint>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/layers/dense_linear.hpp"

namespace bitlin {

// out row t (leading dimension ldo >= table.cols()) = table row ids[t], for t < n. An id outside
// [0, table.rows()) is a value_error naming its position.
inline void embedding_lookup(const dense_matrix& table, const std::int64_t* ids, index_t n,
                             float* out, index_t ldo) {
  BITLIN_REQUIRE(n >= 0 && ldo >= table.cols(), shape_error, "embedding_lookup: ", n,
                 " rows of leading dimension ", ldo, " for a table of width ", table.cols());
  for (index_t t = 0; t < n; ++t) {
    BITLIN_REQUIRE(ids[t] >= 0 && ids[t] < table.rows(), value_error, "embedding_lookup: token id ",
                   ids[t], " at position ", t, " is outside [0, ", table.rows(), ")");
    table.row(static_cast<index_t>(ids[t]), out + t * ldo);
  }
}

}  // namespace bitlin
