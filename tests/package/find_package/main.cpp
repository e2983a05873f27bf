// Built against an installed bitlin: proves that the installed headers, the exported include path
// and the dependency chain (Eigen) reach a consumer, and that the program runs.
#include <bitlin/core/error.hpp>
#include <bitlin/core/types.hpp>

#include <iostream>

int main() {
  bitlin::matrix_f m(2, 3);
  m << 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f;
  if (m.sum() != 21.0f || !m.IsRowMajor) {
    std::cerr << "unexpected matrix contents or layout\n";
    return 1;
  }
  try {
    BITLIN_REQUIRE(m.rows() == m.cols(), bitlin::shape_error, "matrix is ", m.rows(), "x",
                   m.cols());
  } catch (const bitlin::shape_error& e) {
    std::cout << "bitlin consumer OK (" << e.what() << ")\n";
    return 0;
  }
  std::cerr << "BITLIN_REQUIRE did not throw\n";
  return 1;
}
