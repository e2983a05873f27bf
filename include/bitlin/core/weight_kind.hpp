// Weight kinds as types, so layers, formats and tests can be templated on them.
#pragma once

#include <cstdint>

namespace bitlin {

struct ternary {  // BitNet b1.58: {-1, 0, +1}
  static constexpr const char* name = "ternary";
  static constexpr bool valid(std::int8_t v) { return v >= -1 && v <= 1; }
};
struct binary {  // BitNet b1: {-1, +1}
  static constexpr const char* name = "binary";
  static constexpr bool valid(std::int8_t v) { return v == -1 || v == 1; }
};

template <class... Ts>
struct type_list {};

}  // namespace bitlin
