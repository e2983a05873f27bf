// Built against an installed bitlin: proves that the installed headers (the whole umbrella), the
// exported include path and the dependency chain reach a consumer, that the headers match the
// package's version, and that the program runs.
#include <bitlin/bitlin.hpp>

#include <cstdint>
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
  // Through the dispatch tables (linked from bitlin::kernels in this consumer).
  const float x[4] = {0.5f, -1.0f, 0.25f, 2.0f};
  std::int8_t q[4], want[4];
  std::int32_t sum = 0;
  const float s = bitlin::quantize_row_i8(x, 4, q, &sum);
  if (s != bitlin::absmax_quantize_row(x, 4, want, 8) || std::memcmp(q, want, 4) != 0 ||
      sum != q[0] + q[1] + q[2] + q[3]) {
    std::cerr << "the dispatched activation quantizer disagrees with the reference\n";
    return 1;
  }
  std::cout << "act_quant kernel: "
            << bitlin::isa_name(bitlin::act_quant_kernel_path(bitlin::active_isa()))
            << ", hamming kernel: "
            << bitlin::isa_name(bitlin::hamming_kernel_path(bitlin::active_isa())) << "\n";
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
