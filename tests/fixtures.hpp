// Where the golden data lives: tests/data by default, or the directory named by BITLIN_FIXTURES,
// so the same checks can be pointed at freshly generated fixtures.
#pragma once
#include <cstdlib>
#include <string>

namespace bitlin_test {
inline std::string fixture_dir() {
  if (const char* env = std::getenv("BITLIN_FIXTURES"); env && *env) return env;
  return BITLIN_TEST_DATA_DIR;
}
}  // namespace bitlin_test
