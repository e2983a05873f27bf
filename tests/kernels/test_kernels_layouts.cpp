// What every kernel layout (all_kernel_layouts) promises beyond its products (those are swept over
// every layout x ISA path in test_gemm.cpp): storage of exactly bits_per_weight for whole tiles,
// k_block dividing activation_row_align, unpack round trips, alphabet and K-bound errors, kernels
// resolved inside the lineage, and the default layouts (binary at 1 bit); plus exact values at the
// accumulator extremes (K = 2^20, all -128 / +127, alternating) on every path.
#include <bitlin/gemm/ternary_gemm.hpp>
#include <bitlin/gemm/reference.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "kernels/layout_weights.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::quick;
using bitlin_test::random_weights;

template <class F, class... Ls>
void for_each_layout_impl(F&& f, type_list<Ls...>) {
  (f(Ls{}), ...);
}
template <class F>
void for_each_layout(F&& f) {
  for_each_layout_impl(f, all_kernel_layouts{});
}

}  // namespace

TEST_CASE("layouts: storage, unpack and bad input") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    using traits = kernel_layout_traits<L>;
    std::mt19937 rng(6);
    for (index_t n : {1, 15, 17, 40})
      for (index_t k : {1, 3, 32, 45, 64}) {
        const matrix_i8 W = random_weights<L>(n, k, rng);
        const kernel_weights<L> pw(W, isa::scalar);
        CHECK(pw.unpack() == W);
        if constexpr (std::is_same_v<L, i2_tile>) {
          // Padding rows and the K tail hold code 1, the value 0 (unpack does not look there).
          for (index_t r = 0; r < pw.padded_rows(); ++r)
            for (index_t c = 0; c < pw.padded_cols(); ++c)
              if (r >= n || c >= k) REQUIRE(traits::get(pw.data(), pw.k_blocks(), r, c) == 0);
        }
        CHECK(pw.bytes() ==
              static_cast<std::size_t>(pw.row_groups() * pw.k_blocks() * traits::tile_bytes));
        CHECK(pw.padded_cols() % traits::k_block == 0);
        CHECK(activation_row_align % traits::k_block == 0);
      }
    // Whole tiles: storage is exactly bits_per_weight.
    const kernel_weights<L> whole(random_weights<L>(64, 320, rng), isa::scalar);
    CHECK(static_cast<double>(whole.bytes()) == traits::bits_per_weight * 64 * 320 / 8);
    matrix_i8 bad = matrix_i8::Ones(4, 8);
    bad(1, 2) = 2;
    CHECK_THROWS_AS(kernel_weights<L>(bad, isa::scalar), value_error);
    if constexpr (std::is_same_v<typename traits::weight_kind, binary>) {
      bad(1, 2) = 0;  // not in {-1, +1}
      CHECK_THROWS_AS(kernel_weights<L>(bad, isa::scalar), value_error);
    }
    CHECK_THROWS_AS(kernel_weights<L>(matrix_i8::Ones(1, traits::max_cols + 1), isa::scalar),
                    shape_error);
    // Every ISA row resolves to a kernel of its own lineage, never to a foreign one.
    for (isa i : supported_isas()) CHECK(isa_supported(gemm_kernel_path<L>(i)));
  });
}

TEST_CASE("layouts: exact values at the accumulator extremes, every path") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    const index_t big = quick() ? index_t{1} << 17 : index_t{1} << 20;
    const bitlin_test::extreme_operands ops(big);
    const matrix_i8 &W = ops.W, &X = ops.X;
    for (isa path : supported_isas()) {
      const kernel_weights<L> pw(W, path);
      for (index_t tokens : {index_t{1}, index_t{4}}) {
        std::vector<std::int32_t> y(12);
        gemm(pw, X.data(), tokens, big, y.data(), 3);
        INFO("layout " << kernel_layout_traits<L>::name << " isa " << isa_name(path) << " tokens "
                       << tokens);
        CHECK(y[0] == 128 * big);   // all -128 x all -1
        CHECK(y[1] == -128 * big);  // all -128 x all +1: b1's 2 * acc reaches -256 * K
        CHECK(y[2] == 128 * (big / 2) - 128 * (big / 2));
        if (tokens == 4) {
          CHECK(y[3 * 1 + 1] == 127 * big);         // all +127 x all +1
          CHECK(y[2 * 3 + 2] == 255 * (big / 2));   // alternating x alternating, in phase
          CHECK(y[3 * 3 + 2] == -255 * (big / 2));  // out of phase
        }
      }
    }
  });
}

TEST_CASE("the default layouts: binary weights at 1 bit, ternary at 2") {
  CHECK(kernel_layout_traits<default_layout_t<binary>>::bits_per_weight == 1.0);
  CHECK(kernel_layout_traits<default_layout_t<ternary>>::bits_per_weight == 2.0);
  CHECK(
      std::is_same_v<typename kernel_layout_traits<default_layout_t<binary>>::weight_kind, binary>);
}
