// The contract of the Hamming-distance kernels, shared by the XNOR-popcount product
// (gemm/xnor_gemm.hpp: dot = K - 2 * distance) and the Hamming top-k index
// (search/hamming_index.hpp). Rows of packed bits (bit i of a row at byte i / 8, bit i % 8, the
// binary_b1 order) have a byte length that is a multiple of hamming_row_align and zero padding
// past their true length in both operands, so padding XORs to zero and no kernel masks a tail.
#pragma once

#include <cstdint>

#include "bitlin/core/types.hpp"

namespace bitlin {

// Row length granularity: every path reads whole 16-byte chunks (an xmm register).
constexpr index_t hamming_row_align = 16;

namespace detail {

// out[i * ldo + j] = popcount(q_i XOR d_j) for queries i < nq and database rows j < nd, each row
// `bytes` long (a multiple of hamming_row_align), rows at q + i * ldq and d + j * ldd (bytes).
// Distances are exact for any length: the kernels sum per-chunk counts in 64-bit lanes and
// reduce two rows per 64-bit lane in 32-bit halves (a row has fewer than 2^32 bits).
using hamming_fn = void (*)(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                            index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo);

}  // namespace detail
}  // namespace bitlin
