// Shared vocabulary: the index type and the row-major Eigen aliases used on every public
// boundary. Row-major because a weight row (one output feature) and an activation row (one token)
// are the contiguous units every kernel streams.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>

namespace bitlin {

using index_t = std::ptrdiff_t;

template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using matrix_f = row_matrix<float>;
using matrix_i8 = row_matrix<std::int8_t>;
using matrix_u8 = row_matrix<std::uint8_t>;
using matrix_i32 = row_matrix<std::int32_t>;
using vector_f = Eigen::VectorXf;

}  // namespace bitlin
