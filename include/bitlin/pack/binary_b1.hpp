// One bit per binary weight: 1 -> +1, 0 -> -1, least significant bit first. Padding bits are 0;
// since a binary weight has no zero, kernels must bound their loops by the true length rather than
// rely on padding.
#pragma once

#include "bitlin/pack/format.hpp"

namespace bitlin {

struct binary_b1 {};

template <>
struct format_traits<binary_b1> {
  using kind = binary;
  static constexpr const char* name = "binary_b1";
  static constexpr int values_per_byte = 8;
  static constexpr double bits_per_weight = 1.0;

  static index_t packed_bytes(index_t n) { return (n + 7) / 8; }

  static void pack(const std::int8_t* v, index_t n, std::uint8_t* out) {
    detail::require_values<binary>(v, n, name);
    for (index_t b = 0; b < packed_bytes(n); ++b) {
      unsigned byte = 0;
      for (index_t j = 0; j < 8; ++j) {
        const index_t i = 8 * b + j;
        if (i < n && v[i] > 0) byte |= 1u << j;
      }
      out[b] = static_cast<std::uint8_t>(byte);
    }
  }

  static void unpack(const std::uint8_t* in, index_t n, std::int8_t* v) {
    for (index_t i = 0; i < n; ++i) v[i] = ((in[i / 8] >> (i % 8)) & 1u) ? 1 : -1;
  }
};

}  // namespace bitlin
