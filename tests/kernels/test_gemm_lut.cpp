// The lookup-table GEMM kernels (kernels/lut_gemm) against the reference oracle on every path that
// has one, bit for bit: forced on for any shape (both thresholds 1) over every N and K tail, token
// counts around the 32-token table row, K chunks (the kernels' int16 runs) and their tails, the
// accumulator extremes up to K = 2^20, thread counts; then the driver's own thresholds and which
// ISAs have a table kernel. (The float epilogue is checked with the other paths' in test_gemm.cpp.)
#include <bitlin/gemm/ternary_gemm.hpp>
#include <bitlin/gemm/reference.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "catch.hpp"
#include "kernels/layout_weights.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::lut_thresholds;
using bitlin_test::quick;
using bitlin_test::random_acts;
using bitlin_test::random_weights;

// The paths of this CPU that have a table kernel for the layout.
template <class Layout>
std::vector<isa> lut_paths() {
  std::vector<isa> out;
  for (isa p : supported_isas())
    if (has_lut_gemm<Layout>(p)) out.push_back(p);
  return out;
}

template <class Layout>
void check_lut(isa path, const matrix_i8& W, const matrix_i8& X, const matrix_i32& ref,
               const executor& ex = serial()) {
  const kernel_weights<Layout> pw(W, path);
  REQUIRE(runs_lut_gemm<Layout>(path, X.rows(), W.rows()));
  matrix_i32 y(X.rows(), W.rows());
  y.setConstant(-7);
  gemm(pw, X.data(), X.rows(), X.cols(), y.data(), W.rows(), ex);
  INFO("layout " << kernel_layout_traits<Layout>::name << " isa " << isa_name(path) << " tokens "
                 << X.rows() << " N " << W.rows() << " K " << X.cols() << " threads "
                 << ex.threads());
  REQUIRE(y == ref);
}

template <class Layout>
void check_lut(isa path, const matrix_i8& W, const matrix_i8& X) {
  check_lut<Layout>(path, W, X, reference_gemm(X, W));
}

}  // namespace

TEST_CASE("the SIMD paths have table kernels for the ternary layouts, where they pay") {
  for (isa p : supported_isas()) {
    CAPTURE(isa_name(p));
    CHECK_FALSE(has_lut_gemm<b1_tile>(p));
    if (p == isa::scalar) {
      CHECK_FALSE(has_lut_gemm<i2_tile>(p));
      CHECK_FALSE(has_lut_gemm<base3_tile>(p));
    }
#if defined(BITLIN_ARCH_X86)
    if (p != isa::scalar) {
      // vpdpbusd's own i2 kernel is the faster one where it exists (kernels/lut_gemm/kernels.hpp)
      const bool vnni =
          p == isa::avx_vnni || p == isa::avx512vnni || p == isa::avx512icl || p == isa::avx512amx;
      CHECK(has_lut_gemm<i2_tile>(p) == !vnni);
      CHECK(has_lut_gemm<base3_tile>(p) == (p != isa::avx512amx));  // AMX's tiles are faster
    }
#elif defined(BITLIN_ARCH_AARCH64)
    if (p != isa::scalar) {
      // as on x86, sdot's own i2 kernel is kept where it exists
      CHECK(has_lut_gemm<i2_tile>(p) == (p == isa::neon));
      CHECK(has_lut_gemm<base3_tile>(p));
    }
#endif
  }
  CHECK_THROWS_AS(set_lut_min_tokens(-1), value_error);
  CHECK_THROWS_AS(set_lut_min_rows(-1), value_error);
}

TEMPLATE_LIST_TEST_CASE("table kernels: every N tail and every K tail", "[gemm][lut]",
                        all_kernel_layouts) {
  using L = TestType;
  const lut_thresholds forced(1, 1);
  std::mt19937 rng(11);
  const index_t top = quick() ? 70 : 300;
  for (isa path : lut_paths<L>()) {
    for (index_t k : {1, 67, 400}) {
      const matrix_i8 X = random_acts(33, k, rng);
      for (index_t n = 1; n <= top; ++n) check_lut<L>(path, random_weights<L>(n, k, rng), X);
    }
    for (index_t n : {1, 19, 64})
      for (index_t k = 1; k <= top; ++k)
        check_lut<L>(path, random_weights<L>(n, k, rng), random_acts(40, k, rng));
  }
}

TEMPLATE_LIST_TEST_CASE("table kernels: token counts 1..70, 128 and 200", "[gemm][lut]",
                        all_kernel_layouts) {
  using L = TestType;
  const lut_thresholds forced(1, 1);
  std::mt19937 rng(12);
  for (isa path : lut_paths<L>()) {
    // 350 columns: several K chunks (64 columns for i2, 80 for base3) and a partial one.
    const matrix_i8 W = random_weights<L>(83, 350, rng);
    for (index_t t = 1; t <= 70; ++t) check_lut<L>(path, W, random_acts(t, 350, rng));
    check_lut<L>(path, W, random_acts(128, 350, rng));
    check_lut<L>(path, random_weights<L>(1040, 160, rng), random_acts(200, 160, rng));
  }
}

TEMPLATE_LIST_TEST_CASE("table kernels: accumulator extremes up to K = 2^20", "[gemm][lut]",
                        all_kernel_layouts) {
  using L = TestType;
  const lut_thresholds forced(1, 1);
  const index_t big = index_t{1} << 20;
  for (index_t k : {index_t{80}, index_t{255}, index_t{4097}, big - 3, big}) {
    if (quick() && k > 4097) continue;
    const bitlin_test::extreme_operands ops(k);
    // Every token lane of a table row holds an extreme: the four extreme rows, repeated.
    const index_t t = k > 4097 ? 36 : 68;
    matrix_i8 X(t, k);
    for (index_t i = 0; i < t; ++i) X.row(i) = ops.X.row(i % 4);
    const matrix_i32 ref = reference_gemm(X, ops.W);
    for (isa path : lut_paths<L>()) check_lut<L>(path, ops.W, X, ref);
    if (k == big) {
      CHECK(ref(0, 0) == 128 * big);   // all -128 x all -1
      CHECK(ref(1, 1) == 127 * big);   // all +127 x all +1
      CHECK(ref(0, 1) == -128 * big);  // all -128 x all +1
    }
  }
}

TEMPLATE_LIST_TEST_CASE("table kernels: the default thresholds, any thread count",
                        "[gemm][lut][threads]", all_kernel_layouts) {
  using L = TestType;
  std::mt19937 rng(14);
  // 1040 rows (65 groups, a tail group) and 32+ tokens: the default thresholds pick the table
  // kernel; the driver splits rows as well as tokens when token blocks are fewer than threads.
  const matrix_i8 W = random_weights<L>(1040, 250, rng);
  const matrix_i8 X = random_acts(200, 250, rng);
  const matrix_i32 ref = reference_gemm(X, W);
  for (isa path : lut_paths<L>()) {
    for (index_t t : {index_t{32}, index_t{37}, index_t{96}, index_t{200}}) {
      CHECK(runs_lut_gemm<L>(path, t, 1040));
      CHECK_FALSE(runs_lut_gemm<L>(path, t, 1000));
      for (int th : {1, 2, 3}) {
        thread_pool pool(th);
        check_lut<L>(path, W, matrix_i8(X.topRows(t)), matrix_i32(ref.topRows(t)), pool);
      }
    }
    CHECK_FALSE(runs_lut_gemm<L>(path, 31, 1040));
  }
}
