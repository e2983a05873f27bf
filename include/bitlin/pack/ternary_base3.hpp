// Five trits per byte in base 3: byte = sum_i (t_i + 1) * 3^i, i = 0 the first trit. 3^5 = 243
// values fit a byte, so this is 1.6 bits per weight (llama.cpp's TQ1_0 spends 1.6875 with its
// block scales, bitnet.cpp's TL2 about 1.67). Padding trits are 0 (digit 1). A byte >= 243 cannot
// be produced by pack and is rejected by unpack.
#pragma once

#include "bitlin/pack/format.hpp"

namespace bitlin {

struct ternary_base3 {};

template <>
struct format_traits<ternary_base3> {
  using kind = ternary;
  static constexpr const char* name = "ternary_base3";
  static constexpr int values_per_byte = 5;
  static constexpr double bits_per_weight = 1.6;

  static index_t packed_bytes(index_t n) { return (n + 4) / 5; }

  static void pack(const std::int8_t* v, index_t n, std::uint8_t* out) {
    detail::require_values<ternary>(v, n, name);
    for (index_t b = 0; b < packed_bytes(n); ++b) {
      unsigned byte = 0;
      for (index_t j = 4; j >= 0; --j) {  // Horner: the first trit ends up least significant
        const index_t i = 5 * b + j;
        byte = byte * 3u + (i < n ? static_cast<unsigned>(v[i] + 1) : 1u);
      }
      out[b] = static_cast<std::uint8_t>(byte);
    }
  }

  static void unpack(const std::uint8_t* in, index_t n, std::int8_t* v) {
    for (index_t b = 0; b < packed_bytes(n); ++b) {
      unsigned byte = in[b];
      BITLIN_REQUIRE(byte < 243u, format_error, name, ": byte ", b, " has value ", byte,
                     " (at most 242 encodes five trits)");
      for (index_t j = 0; j < 5; ++j, byte /= 3u) {
        const index_t i = 5 * b + j;
        if (i < n) v[i] = static_cast<std::int8_t>(static_cast<int>(byte % 3u) - 1);
      }
    }
  }
};

}  // namespace bitlin
