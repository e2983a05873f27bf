// Every kernel layout (all_kernel_layouts) on every ISA path this CPU runs (supported_isas()),
// against the oracle reference_gemm: bit-exact int32 for every N and K tail, tokens 1..17,
// BitNet-2B shapes, adversarial extremes up to K = 2^20, thread-count independence, and the fused
// float epilogue per tensor, per row and per row group, bit for bit. A new layout is tested by
// adding it to the list.
#include <bitlin/gemm/ternary_gemm.hpp>
#include <bitlin/kernels/reference.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "catch.hpp"

using namespace bitlin;

namespace {

bool quick() {
#if !defined(__OPTIMIZE__)
  return true;
#endif
  for (const char* name : {"BITLIN_TEST_QUICK", "BITLIN_EMULATED"})
    if (const char* q = std::getenv(name); q && *q) return true;
  return false;
}

template <class F, class... Ls>
void for_each_layout_impl(F&& f, type_list<Ls...>) {
  (f(Ls{}), ...);
}
template <class F>
void for_each_layout(F&& f) {
  for_each_layout_impl(f, all_kernel_layouts{});
}

// Random weights in the layout's alphabet.
template <class L>
matrix_i8 random_weights(index_t n, index_t k, std::mt19937& rng) {
  constexpr bool bin = std::is_same_v<typename kernel_layout_traits<L>::weight_kind, binary>;
  std::uniform_int_distribution<int> d(-1, 1);
  matrix_i8 w(n, k);
  for (index_t i = 0; i < w.size(); ++i) {
    int v = d(rng);
    if (bin && v == 0) v = (rng() & 1) ? 1 : -1;
    w.data()[i] = static_cast<std::int8_t>(v);
  }
  return w;
}

matrix_i8 random_acts(index_t t, index_t k, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  matrix_i8 x(t, k);
  for (index_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<std::int8_t>(d(rng));
  return x;
}

template <class L>
void check_case(isa path, const matrix_i8& W, const matrix_i8& X, index_t pad = 0,
                const executor& ex = serial()) {
  const index_t t = X.rows(), n = W.rows(), k = W.cols();
  const kernel_weights<L> pw(W, path);
  const index_t ldx = k + pad, ldy = n + pad;
  std::vector<std::int8_t> xbuf(static_cast<std::size_t>(t * ldx), 99);
  for (index_t i = 0; i < t; ++i) std::memcpy(&xbuf[i * ldx], X.row(i).data(), k);
  std::vector<std::int32_t> y(static_cast<std::size_t>(t * ldy), -7);
  gemm(pw, xbuf.data(), t, ldx, y.data(), ldy, ex);
  const matrix_i32 ref = reference_gemm(X, W);
  bool same = true;
  for (index_t i = 0; i < t && same; ++i) {
    for (index_t j = 0; j < n; ++j) same = same && y[i * ldy + j] == ref(i, j);
    for (index_t j = n; j < ldy; ++j) same = same && y[i * ldy + j] == -7;  // padding untouched
  }
  INFO("layout " << kernel_layout_traits<L>::name << " isa " << isa_name(path) << " (kernel "
                 << isa_name(gemm_kernel_path<L>(path)) << ") tokens " << t << " N " << n << " K "
                 << k << " pad " << pad);
  REQUIRE(same);
}

}  // namespace

TEST_CASE("layouts: every N tail and every K tail, every path") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    std::mt19937 rng(1);
    const index_t top = quick() ? 70 : 300;
    for (isa path : supported_isas()) {
      for (index_t k : {1, 32, 67}) {
        const matrix_i8 X = random_acts(3, k, rng);
        for (index_t n = 1; n <= top; ++n) check_case<L>(path, random_weights<L>(n, k, rng), X);
      }
      for (index_t n : {1, 19, 64}) {
        for (index_t k = 1; k <= top; ++k)
          check_case<L>(path, random_weights<L>(n, k, rng), random_acts(2, k, rng));
      }
      std::uniform_int_distribution<index_t> d(1, top);
      for (int r = 0; r < (quick() ? 10 : 60); ++r) {
        const index_t n = d(rng), k = d(rng);
        check_case<L>(path, random_weights<L>(n, k, rng), random_acts(1 + r % 7, k, rng),
                      r % 3 == 0 ? 5 : 0);
      }
    }
  });
}

TEST_CASE("layouts: token counts 1..17, 32 and 128, every path") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    std::mt19937 rng(2);
    for (isa path : supported_isas()) {
      const matrix_i8 W = random_weights<L>(83, 150, rng);
      for (index_t t = 1; t <= 17; ++t)
        check_case<L>(path, W, random_acts(t, 150, rng), t % 2 ? 0 : 3);
      check_case<L>(path, W, random_acts(32, 150, rng));
      check_case<L>(path, random_weights<L>(70, 200, rng), random_acts(128, 200, rng), 1);
    }
  });
}

TEST_CASE("layouts: BitNet-2B shapes, every path", "[slow]") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    std::mt19937 rng(3);
    struct shape {
      index_t n, k;
    };
    const shape shapes[] = {{2560, 2560}, {6912, 2560}, {2560, 6912}};
    for (isa path : supported_isas())
      for (const shape& s : shapes)
        check_case<L>(path, random_weights<L>(s.n, s.k, rng),
                      random_acts(path == isa::scalar ? 1 : 3, s.k, rng));
  });
}

TEST_CASE("layouts: adversarial inputs up to K = 2^20 do not overflow, every path") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    // Under emulation 2^17 (the bound's argument does not depend on K; TCG runs the reference
    // loops 10-50x slower), natively 2^20.
    const index_t big = quick() ? index_t{1} << 17 : index_t{1} << 20;
    for (isa path : supported_isas()) {
      for (index_t k : {index_t{255}, index_t{4097}, big - 3, big}) {
        // Weights: all -1, all +1, alternating (in every layout's alphabet); activations at the
        // extremes, so the accumulators reach their bounds (128 * K for b1, 256 * K for i2).
        matrix_i8 W(3, k), X(4, k);
        for (index_t j = 0; j < k; ++j) {
          W(0, j) = -1;
          W(1, j) = 1;
          W(2, j) = static_cast<std::int8_t>(j % 2 ? 1 : -1);
          X(0, j) = -128;
          X(1, j) = 127;
          X(2, j) = static_cast<std::int8_t>(j % 2 ? 127 : -128);
          X(3, j) = static_cast<std::int8_t>(j % 2 ? -128 : 127);
        }
        check_case<L>(path, W, X);
        for (index_t t = 0; t < X.rows(); ++t) check_case<L>(path, W, X.middleRows(t, 1));
        if (k == big) {
          const kernel_weights<L> pw(W, path);
          std::vector<std::int32_t> y(12);
          gemm(pw, X.data(), 4, k, y.data(), 3);
          CHECK(y[0] == 128 * big);                // all -128 x all -1
          CHECK(y[3 * 1 + 1] == 127 * big);        // all +127 x all +1
          CHECK(y[0 * 3 + 1] == -128 * big);       // all -128 x all +1
          CHECK(y[2 * 3 + 2] == 255 * (big / 2));  // alternating x alternating, in phase
        }
      }
    }
  });
}

TEST_CASE("layouts: results do not depend on the executor or thread count") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    std::mt19937 rng(4);
    const matrix_i8 W = random_weights<L>(700, 333, rng);
    const matrix_i8 X = random_acts(37, 333, rng);
    const matrix_i32 ref = reference_gemm(X, W);
    for (isa path : supported_isas()) {
      const kernel_weights<L> pw(W, path);
      for (int th : {1, 2, 3}) {
        thread_pool pool(th);
        for (index_t t : {index_t{1}, index_t{37}}) {
          matrix_i32 y(t, 700);
          gemm(pw, X.data(), t, 333, y.data(), 700, pool);
          INFO("isa " << isa_name(path) << " threads " << th << " tokens " << t);
          REQUIRE(y == ref.topRows(t));
        }
      }
    }
  });
}

TEST_CASE("layouts: fused epilogue is bit-identical to the scalar epilogue on every path") {
  for_each_layout([](auto layout) {
    using L = decltype(layout);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> us(0.01f, 3.0f), ub(-2.0f, 2.0f);
    for (index_t n : {index_t{77}, index_t{16}, index_t{129}}) {
      const index_t t = 9, k = 130;
      const matrix_i8 W = random_weights<L>(n, k, rng);
      const matrix_i8 X = random_acts(t, k, rng);
      const matrix_i32 Y = reference_gemm(X, W);
      std::vector<float> sx(t), bias(n), ws(n);
      for (auto& v : sx) v = us(rng);
      for (auto& v : ws) v = us(rng);
      for (auto& v : bias) v = ub(rng);
      for (isa path : supported_isas()) {
        const kernel_weights<L> pw(W, path);
        for (index_t rpg : {index_t{0}, index_t{1}, index_t{5}}) {
          for (auto conv : {scale_convention::divide, scale_convention::multiply}) {
            for (bool with_bias : {false, true}) {
              gemm_epilogue ep;
              ep.act_scale = sx.data();
              ep.weight_scale = ws.data();
              ep.rows_per_scale_group = rpg;
              ep.convention = conv;
              ep.bias = with_bias ? bias.data() : nullptr;
              for (index_t tokens : {index_t{1}, t}) {
                matrix_f y(tokens, n);
                gemm_f32(pw, X.data(), tokens, k, ep, y.data(), n);
                int worst_ulps = 0;
                for (index_t i = 0; i < tokens; ++i)
                  for (index_t j = 0; j < n; ++j) {
                    const float w = ws[static_cast<std::size_t>(rpg == 0 ? 0 : j / rpg)];
                    const float a = static_cast<float>(Y(i, j));
                    float e = conv == scale_convention::divide ? a / (sx[i] * w) : a / sx[i] * w;
                    e = detail::opaque(e);
                    if (with_bias) e += bias[j];
                    std::int32_t bi, be;
                    std::memcpy(&bi, &y(i, j), 4);
                    std::memcpy(&be, &e, 4);
                    worst_ulps = std::max(worst_ulps, std::abs(bi - be));
                  }
                INFO("layout " << kernel_layout_traits<L>::name << " isa " << isa_name(path)
                               << " N " << n << " tokens " << tokens << " rows/group " << rpg
                               << " multiply " << (conv == scale_convention::multiply) << " bias "
                               << with_bias);
                REQUIRE(worst_ulps == 0);
              }
            }
          }
        }
      }
    }
  });
}

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
        CHECK(pw.bytes() ==
              static_cast<std::size_t>(pw.row_groups() * pw.k_blocks() * traits::tile_bytes));
        CHECK(pw.padded_cols() % traits::k_block == 0);
        CHECK(activation_row_align % traits::k_block == 0);
      }
    // Whole tiles: storage is exactly bits_per_weight.
    const kernel_weights<L> whole(random_weights<L>(64, 256, rng), isa::scalar);
    CHECK(static_cast<double>(whole.bytes()) == traits::bits_per_weight * 64 * 256 / 8);
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

TEST_CASE("the default layouts: binary weights at 1 bit, ternary at 2") {
  CHECK(kernel_layout_traits<default_layout_t<binary>>::bits_per_weight == 1.0);
  CHECK(kernel_layout_traits<default_layout_t<ternary>>::bits_per_weight == 2.0);
  CHECK(
      std::is_same_v<typename kernel_layout_traits<default_layout_t<binary>>::weight_kind, binary>);
}
