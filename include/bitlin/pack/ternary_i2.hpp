// 2 bits per trit: code = t + 1 (0 -> -1, 1 -> 0, 2 -> +1), four per byte, least significant bits
// first. Padding after the last trit uses code 1, so a padded tail contributes zero to any dot
// product. Code 3 never occurs; unpack rejects it (a corrupted or foreign file).
#pragma once

#include "bitlin/pack/format.hpp"

namespace bitlin {

struct ternary_i2 {};

template <>
struct format_traits<ternary_i2> {
  using kind = ternary;
  static constexpr const char* name = "ternary_i2";
  static constexpr int values_per_byte = 4;
  static constexpr double bits_per_weight = 2.0;

  static index_t packed_bytes(index_t n) { return (n + 3) / 4; }

  static void pack(const std::int8_t* v, index_t n, std::uint8_t* out) {
    detail::require_values<ternary>(v, n, name);
    for (index_t b = 0; b < packed_bytes(n); ++b) {
      unsigned byte = 0;
      for (index_t j = 0; j < 4; ++j) {
        const index_t i = 4 * b + j;
        const unsigned code = i < n ? static_cast<unsigned>(v[i] + 1) : 1u;
        byte |= code << (2 * j);
      }
      out[b] = static_cast<std::uint8_t>(byte);
    }
  }

  static void unpack(const std::uint8_t* in, index_t n, std::int8_t* v) {
    for (index_t i = 0; i < n; ++i) {
      const unsigned code = (in[i / 4] >> (2 * (i % 4))) & 3u;
      BITLIN_REQUIRE(code != 3u, format_error, name, ": invalid code 3 at position ", i);
      v[i] = static_cast<std::int8_t>(static_cast<int>(code) - 1);
    }
  }
};

}  // namespace bitlin
