// The packed layout of Hugging Face BitNet checkpoints (e.g. microsoft/bitnet-b1.58-2B-4T): a uint8
// tensor [ceil(out/4), in] whose row r holds, in bits 2i..2i+1, the trit of original row
// r + i * ceil(out/4), encoded as t + 1. Rows beyond `out` (when out is not a multiple of 4) stay
// code 0, as transformers' packer leaves them; they are ignored on import.
#pragma once

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/pack/format.hpp"

namespace bitlin {

inline matrix_u8 pack_hf_bitnet(const Eigen::Ref<const matrix_i8>& q) {
  const index_t out = q.rows(), in = q.cols(), packed_rows = (out + 3) / 4;
  matrix_u8 p = matrix_u8::Zero(packed_rows, in);
  for (index_t n = 0; n < out; ++n) {
    const index_t r = n % packed_rows, shift = 2 * (n / packed_rows);
    for (index_t k = 0; k < in; ++k) {
      const std::int8_t t = q(n, k);
      BITLIN_REQUIRE(ternary::valid(t), value_error, "pack_hf_bitnet: value ", static_cast<int>(t),
                     " at (", n, ", ", k, ") is not ternary");
      p(r, k) = static_cast<std::uint8_t>(p(r, k) | (static_cast<unsigned>(t + 1) << shift));
    }
  }
  return p;
}

inline matrix_i8 unpack_hf_bitnet(const Eigen::Ref<const matrix_u8>& packed, index_t out_features) {
  const index_t packed_rows = packed.rows();
  BITLIN_REQUIRE(out_features >= 0 && (out_features + 3) / 4 == packed_rows, shape_error,
                 "unpack_hf_bitnet: ", out_features, " output features need ",
                 (out_features + 3) / 4, " packed rows, the tensor has ", packed_rows);
  matrix_i8 q(out_features, packed.cols());
  for (index_t n = 0; n < out_features; ++n) {
    const index_t r = n % packed_rows, shift = 2 * (n / packed_rows);
    for (index_t k = 0; k < packed.cols(); ++k) {
      const unsigned code = (static_cast<unsigned>(packed(r, k)) >> shift) & 3u;
      BITLIN_REQUIRE(code != 3u, format_error, "unpack_hf_bitnet: invalid code 3 for row ", n,
                     ", column ", k);
      q(n, k) = static_cast<std::int8_t>(static_cast<int>(code) - 1);
    }
  }
  return q;
}

}  // namespace bitlin
