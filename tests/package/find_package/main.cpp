// Built against an installed bitlin: proves that the installed headers (the whole umbrella), the
// exported include path and the dependency chain reach a consumer, that the headers match the
// package's version, and that the program runs.
#include <bitlin/bitlin.hpp>

#include <cstring>
#include <iostream>

int main() {
  if (std::strcmp(bitlin::version_string, BITLIN_EXPECTED_VERSION) != 0) {
    std::cerr << "headers say version " << bitlin::version_string << ", the CMake package says "
              << BITLIN_EXPECTED_VERSION << "\n";
    return 1;
  }
  bitlin::matrix_f m(2, 3);
  m << 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f;
  if (m.sum() != 21.0f || !m.IsRowMajor || bitlin::round_half_even(2.5f) != 2.0f) {
    std::cerr << "unexpected results from bitlin's headers\n";
    return 1;
  }
  try {
    BITLIN_REQUIRE(m.rows() == m.cols(), bitlin::shape_error, "matrix is ", m.rows(), "x",
                   m.cols());
  } catch (const bitlin::shape_error& e) {
    std::cout << "bitlin " << bitlin::version_string << " consumer OK (" << e.what() << ")\n";
    return 0;
  }
  std::cerr << "BITLIN_REQUIRE did not throw\n";
  return 1;
}
