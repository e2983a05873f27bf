// Command-line parsing shared by the example programs: one error type for bad usage (the programs
// exit with status 2 on it) and strict number parsing that names the option.
#pragma once

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bitlin_examples {

struct cli_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

// The whole string must be the number; what names the option in the message.
inline long long parse_int(const std::string& s, const std::string& what) {
  std::size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw cli_error(what + ": '" + s + "' is not an integer");
  return v;
}

inline double parse_double(const std::string& s, const std::string& what) {
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw cli_error(what + ": '" + s + "' is not a number");
  return v;
}

}  // namespace bitlin_examples
