// Every failure bitlin reports is an exception derived from bitlin::error, with a message that
// names the argument, field or file region at fault. Nothing in the library is allowed to turn bad
// input (wrong shapes, malformed files, NaN where a scale is computed) into undefined behaviour.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace bitlin {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Two operands disagree in size, or a size is outside what the operation supports.
class shape_error : public error {
 public:
  using error::error;
};

// A value is not acceptable: NaN/Inf where a scale is derived, a bit width out of range, ...
class value_error : public error {
 public:
  using error::error;
};

// A file or serialized blob is malformed, truncated or inconsistent.
class format_error : public error {
 public:
  using error::error;
};

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}
}  // namespace detail

}  // namespace bitlin

// Throws Exception with the streamed parts as message when cond is false. A macro only so that the
// message is built on the failure path alone.
#define BITLIN_REQUIRE(cond, Exception, ...)                             \
  do {                                                                   \
    if (!(cond)) throw Exception(::bitlin::detail::concat(__VA_ARGS__)); \
  } while (0)
