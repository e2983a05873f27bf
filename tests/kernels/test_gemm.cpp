// gemm / gemm_f32 for every kernel layout (all_kernel_layouts) against the reference oracle on
// every ISA path this CPU runs:
// bit-exact int32 results for every tail of N and K, tokens 1..17/32/128, BitNet-2B shapes,
// padded leading dimensions, adversarial data up to K = 2^20, thread-count independence, the
// fused epilogue, and the packed-weights round trips.
#include <bitlin/gemm/activation_buffer.hpp>
#include <bitlin/gemm/ternary_gemm.hpp>
#include <bitlin/gemm/reference.hpp>
#include <bitlin/kernels/tuning.hpp>
#include <bitlin/pack/ternary_i2.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "kernels/layout_weights.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::quick;
using bitlin_test::random_weights;

using bitlin_test::random_acts;

// Runs X x packed weights on pw's path, with ldx/ldy padded by `pad`, and compares with the
// oracle `ref` (X x W^T, computed once by the caller for all paths).
template <class Layout>
void check_packed(const kernel_weights<Layout>& pw, const matrix_i8& X, const matrix_i32& ref,
                  index_t pad = 0, const executor& ex = serial()) {
  const index_t t = X.rows(), n = pw.rows(), k = X.cols();
  const index_t ldx = k + pad, ldy = n + pad;
  std::vector<std::int8_t> xbuf(static_cast<std::size_t>(t * ldx), 99);
  for (index_t i = 0; i < t; ++i) std::memcpy(&xbuf[i * ldx], X.row(i).data(), k);
  std::vector<std::int32_t> y(static_cast<std::size_t>(t * ldy), -7);
  gemm(pw, xbuf.data(), t, ldx, y.data(), ldy, ex);
  bool same = true;
  for (index_t i = 0; i < t && same; ++i) {
    for (index_t j = 0; j < n; ++j) same = same && y[i * ldy + j] == ref(i, j);
    for (index_t j = n; j < ldy; ++j) same = same && y[i * ldy + j] == -7;  // padding untouched
  }
  INFO("layout " << kernel_layout_traits<Layout>::name << " kernel "
                 << isa_name(gemm_kernel_path(pw)) << " tokens " << t << " N " << n << " K " << k
                 << " pad " << pad);
  REQUIRE(same);
}

// One case on one path: packs W for it and compares with the reference product.
template <class Layout>
void check_case(isa path, const matrix_i8& W, const matrix_i8& X, index_t pad = 0,
                const executor& ex = serial()) {
  INFO("isa " << isa_name(path));
  check_packed(kernel_weights<Layout>(W, path), X, reference_gemm(X, W), pad, ex);
}

}  // namespace

TEST_CASE("supported_isas lists scalar first and each path once") {
  const auto s = supported_isas();
  REQUIRE(!s.empty());
  CHECK(s.front() == isa::scalar);
  CHECK(s.back() == best_isa());
  for (isa i : s) CHECK(parse_isa(isa_name(i)) == i);
  // Every weight layout has its own kernel on every SIMD path of this CPU except avx512icl
  // (whose own kernels are the popcount ones), which runs avx512vnni's.
  for (isa i : s) {
    CAPTURE(isa_name(i));
    const isa own = i == isa::avx512icl ? isa::avx512vnni : i;
    CHECK(gemm_kernel_path<i2_tile>(i) == own);
    CHECK(gemm_kernel_path<b1_tile>(i) == own);
    CHECK(gemm_kernel_path<base3_tile>(i) == own);
  }
}

TEMPLATE_LIST_TEST_CASE("every N tail and every K tail, every path", "[gemm]", all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(1);
  const index_t top = quick() ? 70 : 300;
  for (isa path : supported_isas()) {
    for (index_t k : {1, 16, 67}) {
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
}

TEMPLATE_LIST_TEST_CASE("token counts 1..17, 32 and 128, every path", "[gemm]",
                        all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(2);
  for (isa path : supported_isas()) {
    const matrix_i8 W = random_weights<L>(83, 150, rng);
    for (index_t t = 1; t <= 17; ++t)
      check_case<L>(path, W, random_acts(t, 150, rng), t % 2 ? 0 : 3);
    check_case<L>(path, W, random_acts(32, 150, rng));
    check_case<L>(path, random_weights<L>(70, 200, rng), random_acts(128, 200, rng), 1);
  }
}

// Products of many tokens meet the kernels that take whole tiles of 16 tokens (AMX) and K in
// segments: token counts on both sides of 16 and 32, K ending inside a 64-wide step and at the
// segment edges (8 steps), odd row group counts, more than one token block, and the extremes at
// K up to 2^20 with 33 tokens (two whole token tiles and a remainder).
TEMPLATE_LIST_TEST_CASE("many-token products: token tiles, K segments and extremes, every path",
                        "[gemm]", all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(7);
  for (isa path : supported_isas()) {
    for (index_t k : {1, 63, 64, 65, 511, 512, 513, 1030}) {
      const matrix_i8 W = random_weights<L>(49, k, rng);
      for (index_t t : {16, 31, 33, 50})
        check_case<L>(path, W, random_acts(t, k, rng), t % 2 ? 5 : 0);
    }
    for (index_t n : {1, 16, 17, 64, 65})
      check_case<L>(path, random_weights<L>(n, 300, rng), random_acts(96 + 19, 300, rng));
  }
  const index_t big = index_t{1} << 20;
  for (index_t k : {index_t{4097}, big - 3, big}) {
    if (quick() && k != big) continue;
    const bitlin_test::extreme_operands ops(k);
    matrix_i8 X(33, k);
    for (index_t t = 0; t < X.rows(); ++t) X.row(t) = ops.X.row(t % 4);
    const matrix_i32 ref = reference_gemm(X, ops.W);
    for (isa path : supported_isas()) {
      INFO("isa " << isa_name(path));
      check_packed(kernel_weights<L>(ops.W, path), X, ref);
    }
  }
}

TEMPLATE_LIST_TEST_CASE("BitNet-2B shapes, every path", "[gemm]", all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(3);
  struct shape {
    index_t n, k;
  };
  const shape shapes[] = {{2560, 2560}, {6912, 2560}, {2560, 6912}};
  // The big operands and their oracle are made once per shape and shared by every path (the
  // random draws and the scalar reference cost more than the products under the sanitizers).
  for (const shape& s : shapes) {
    if (quick() && s.n * s.k > 2560 * 2560) continue;
    const matrix_i8 W = random_weights<L>(s.n, s.k, rng), X = random_acts(3, s.k, rng);
    const matrix_i32 ref = reference_gemm(X, W);
    for (isa path : supported_isas()) {
      INFO("isa " << isa_name(path));
      const index_t t = path == isa::scalar ? 1 : 3;
      check_packed(kernel_weights<L>(W, path), matrix_i8(X.topRows(t)), matrix_i32(ref.topRows(t)));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("adversarial inputs up to K = 2^20 do not overflow, every path", "[gemm]",
                        all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  const index_t big = index_t{1} << 20;
  for (index_t k : {index_t{255}, index_t{4097}, big - 3, big}) {
    const bitlin_test::extreme_operands ops(k);
    const matrix_i8 &W = ops.W, &X = ops.X;
    const matrix_i32 ref = reference_gemm(X, W);
    for (isa path : supported_isas()) {
      INFO("isa " << isa_name(path));
      const kernel_weights<L> pw(W, path);
      check_packed(pw, X, ref);
      for (index_t t = 0; t < X.rows(); ++t)  // GEMV
        check_packed(pw, matrix_i8(X.middleRows(t, 1)), matrix_i32(ref.middleRows(t, 1)));
      if (k == big) {
        std::vector<std::int32_t> y(12);
        gemm(pw, X.data(), 4, k, y.data(), 3);
        CHECK(y[0] == 128 * big);           // all -128 x all -1
        CHECK(y[3 * 1 + 1] == 127 * big);   // all +127 x all +1
        CHECK(y[0 * 3 + 1] == -128 * big);  // all -128 x all +1: accumulator extreme 2 * -128 * K
      }
    }
  }
}

// The GEMVs that split K into several sets of int16 partial sums are bounded per set; a chunk's
// left-over blocks must not pile onto one set. Every block count up to 300 (K up to 4800, past
// the single-stream limit of 4096), with and without a partial last block, at the extremes.
TEMPLATE_LIST_TEST_CASE("adversarial GEMV at every K block count does not overflow, every path",
                        "[gemm]", all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  for (index_t blocks = 1; blocks <= 300; ++blocks)
    for (index_t k : {16 * blocks - 1, 16 * blocks}) {
      INFO("k " << k);
      const bitlin_test::extreme_operands ops(k);
      const matrix_i32 ref = reference_gemm(ops.X, ops.W);
      for (isa path : supported_isas()) {
        INFO("isa " << isa_name(path));
        const kernel_weights<L> pw(ops.W, path);
        for (index_t t = 0; t < ops.X.rows(); ++t)
          check_packed(pw, matrix_i8(ops.X.middleRows(t, 1)), matrix_i32(ref.middleRows(t, 1)));
      }
    }
}

// A GEMV reads its weights as one stream or as several side by side, as the host CPU decides
// (kernels/tuning.hpp), and the two walks run different code; each host checks both, at the
// extremes, on both sides of the one-stream limit of every layout (16 KiB per row group).
TEMPLATE_LIST_TEST_CASE("both GEMV walks of memory give the reference result, every path", "[gemm]",
                        all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(11);
  const index_t n = 70;  // four row groups and a partial one
  for (index_t k : {1, 80, 1000, 4096, 4112, 5120, 5200, 8192, 8224, 16400}) {
    INFO("k " << k);
    const bitlin_test::extreme_operands ops(k);
    matrix_i8 W(n, k);
    for (index_t r = 0; r < n; ++r)
      W.row(r) = r % 4 == 3 ? matrix_i8(random_weights<L>(1, k, rng)) : matrix_i8(ops.W.row(r % 3));
    matrix_i8 X(ops.X.rows() + 1, k);
    X.topRows(ops.X.rows()) = ops.X;
    X.bottomRows(1) = random_acts(1, k, rng);
    const matrix_i32 ref = reference_gemm(X, W);
    for (const bool interleaved : {false, true}) {
      INFO("interleaved streams " << interleaved);
      const kernels::stream_walk_guard walk(interleaved);
      for (isa path : supported_isas()) {
        INFO("isa " << isa_name(path));
        const kernel_weights<L> pw(W, path);
        for (index_t t = 0; t < X.rows(); ++t)
          check_packed(pw, matrix_i8(X.middleRows(t, 1)), matrix_i32(ref.middleRows(t, 1)));
      }
    }
  }
}

TEMPLATE_LIST_TEST_CASE("results do not depend on the executor or thread count", "[gemm][threads]",
                        all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  std::mt19937 rng(4);
  const matrix_i8 W = random_weights<L>(700, 333, rng);
  const matrix_i8 X = random_acts(37, 333, rng);
  const matrix_i32 ref = reference_gemm(X, W);
  for (isa path : supported_isas()) {
    const kernel_weights<L> pw(W, path);
    for (int th : {1, 2, 3, 7}) {
      thread_pool pool(th);
      for (index_t t : {index_t{1}, index_t{37}}) {
        matrix_i32 y(t, 700);
        gemm(pw, X.data(), t, 333, y.data(), 700, pool);
        INFO("isa " << isa_name(path) << " threads " << th << " tokens " << t);
        REQUIRE(y == ref.topRows(t));
      }
    }
#if defined(_OPENMP)
    openmp_executor omp(3);
    matrix_i32 y(37, 700);
    gemm(pw, X.data(), 37, 333, y.data(), 700, omp);
    REQUIRE(y == ref);
#endif
  }
}

namespace {
// Runs every parallel_for on the calling thread and records how it was asked to split.
struct recording_executor final : executor {
  mutable std::vector<std::pair<index_t, index_t>> calls;  // (n, grain)
  int threads() const override { return 2; }
  void parallel_for(index_t n, index_t grain, chunk_body body) const override {
    calls.emplace_back(n, grain);
    if (n > 0) body(0, n);
  }
};
}  // namespace

TEST_CASE("small products stay on the calling thread, large ones are split", "[gemm][threads]") {
  std::mt19937 rng(8);
  const auto product = [&](index_t n, index_t k, index_t tokens) {
    const matrix_i8 W = random_weights<i2_tile>(n, k, rng);
    const matrix_i8 X = random_acts(tokens, k, rng);
    const kernel_weights<i2_tile> pw(W);
    recording_executor ex;
    matrix_i32 y(tokens, n);
    gemm(pw, X.data(), tokens, k, y.data(), n, ex);
    REQUIRE(y == reference_gemm(X, W));
    return ex.calls.back();  // the kernel loop comes last, after the activation copy
  };
  const std::int64_t keep = min_chunk_macs();
  REQUIRE(keep > 0);
  // A GEMV below the threshold: one chunk (grain >= items), so no worker is involved.
  auto [items, grain] = product(256, 256, 1);
  CHECK(grain >= items);
  // A GEMV with several times the threshold: split, and each chunk carries at least it.
  const index_t k = 4096, n = ((4 * keep) / k / 64 + 2) * 64;
  std::tie(items, grain) = product(n, k, 1);
  CHECK(grain < items);
  CHECK(std::int64_t{grain} * 64 * k >= keep);
  // Threshold 0: split as finely as the executor likes; results identical (checked above).
  set_min_chunk_macs(0);
  std::tie(items, grain) = product(256, 256, 1);
  CHECK(grain == 1);
  set_min_chunk_macs(keep);
  CHECK_THROWS_AS(set_min_chunk_macs(-1), value_error);
  // Every thread count and threshold gives the same bits on a GEMV big enough to be split.
  const matrix_i8 W = random_weights<i2_tile>(n, 1000, rng);
  const matrix_i8 X = random_acts(1, 1000, rng);
  const matrix_i32 ref = reference_gemm(X, W);
  for (isa path : supported_isas()) {
    const kernel_weights<i2_tile> pw(W, path);
    for (const std::int64_t t : {std::int64_t{0}, keep / 8, keep}) {
      set_min_chunk_macs(t);
      for (int th : {2, 3}) {
        thread_pool pool(th);
        matrix_i32 y(1, n);
        gemm(pw, X.data(), 1, 1000, y.data(), n, pool);
        INFO("isa " << isa_name(path) << " threads " << th << " threshold " << t);
        REQUIRE(y == ref);
      }
    }
  }
  set_min_chunk_macs(keep);
}

TEMPLATE_LIST_TEST_CASE("fused epilogue matches the scalar epilogue on every path", "[gemm]",
                        all_kernel_layouts) {
  using L = TestType;
  INFO("layout " << kernel_layout_traits<L>::name);
  // The kernels perform the reference's IEEE operations in the same order (int32 -> float, then
  // Y / (sx * ws), or Y / sx * ws, then + bias) and keep the compiler from fusing the product
  // into the addition, so results are bit-identical. The check below keeps its own product
  // opaque for the same reason (compilers contract a * b + c into an FMA by default where the
  // target has one, e.g. on AArch64 or with -march=native).
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> us(0.01f, 3.0f), ub(-2.0f, 2.0f);
  // 9 tokens, and 37: two whole 16-token tiles for the AMX kernels plus a remainder.
  for (const index_t t : {index_t{9}, index_t{37}}) {
    const index_t n = 77, k = 130;
    const matrix_i8 W = random_weights<L>(n, k, rng);
    const matrix_i8 X = random_acts(t, k, rng);
    const matrix_i32 Y = reference_gemm(X, W);
    std::vector<float> sx(t), bias(n), ws(n);
    for (auto& v : sx) v = us(rng);
    for (auto& v : ws) v = us(rng);
    for (auto& v : bias) v = ub(rng);
    for (isa path : supported_isas()) {
      for (const bool table : {false, true}) {  // the tile kernel, then the lookup-table kernel
        if (table && !has_lut_gemm<L>(path)) continue;
        const bitlin_test::lut_thresholds choice(table ? 1 : 0, table ? 1 : 0);
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
              matrix_f y(t, n);
              gemm_f32(pw, X.data(), t, k, ep, y.data(), n);
              int worst_ulps = 0;
              for (index_t i = 0; i < t; ++i)
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
              INFO("tokens " << t << " isa " << isa_name(path) << " table kernel " << table
                             << " rows/group " << rpg << " multiply "
                             << (conv == scale_convention::multiply) << " bias " << with_bias);
              REQUIRE(runs_lut_gemm<L>(path, t, n) == table);
              REQUIRE(worst_ulps == 0);
            }
          }
        }
      }
    }
  }
}

TEMPLATE_LIST_TEST_CASE(
    "the prepared path (activation_buffer, weight_epilogue) equals the plain one", "[gemm]",
    all_kernel_layouts) {
  using L = TestType;
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> ux(-3.0f, 3.0f), us(0.01f, 3.0f);
  for (index_t k : {1, 63, 64, 65, 300}) {
    const index_t n = 45, t = 5;
    const matrix_i8 W = random_weights<L>(n, k, rng);
    matrix_f Xf(t, k);
    for (index_t i = 0; i < Xf.size(); ++i) Xf.data()[i] = ux(rng);
    const quantized_activations xq = absmax_quantize(Xf, 8);
    std::vector<float> ws(3), bias(n);
    for (auto& v : ws) v = us(rng);
    for (auto& v : bias) v = ux(rng);
    for (isa path : supported_isas()) {
      INFO("layout " << kernel_layout_traits<L>::name << " isa " << isa_name(path) << " K " << k);
      const kernel_weights<L> pw(W, path);
      gemm_epilogue ep;
      ep.act_scale = xq.scales.data();
      ep.weight_scale = ws.data();
      ep.rows_per_scale_group = 16;
      ep.bias = bias.data();
      matrix_f plain(t, n), prepared(t, n);
      gemm_f32(pw, xq.q.data(), t, k, ep, plain.data(), n);
      activation_buffer buf;
      buf.quantize(Xf.data(), t, k, k);
      const weight_epilogue wep(n, pw.padded_rows(), ws.data(), 16, scale_convention::divide,
                                bias.data());
      gemm_f32(pw, buf.rows(), buf.scales(), wep, prepared.data(), n);
      REQUIRE(std::memcmp(plain.data(), prepared.data(), sizeof(float) * plain.size()) == 0);
      for (index_t i = 0; i < t; ++i) {
        CHECK(buf.scales()[i] == xq.scales[static_cast<std::size_t>(i)]);
        for (index_t j = k; j < buf.ld(); ++j) CHECK(buf.row(i)[j] == 0);  // padded with zeros
      }
    }
  }
}

TEST_CASE("packed weights round trip and convert to and from ternary_i2") {
  std::mt19937 rng(6);
  for (index_t n : {1, 15, 17, 40}) {
    for (index_t k : {1, 3, 16, 45}) {
      const matrix_i8 W = random_weights<i2_tile>(n, k, rng);
      const ternary_gemm_weights pw(W, isa::scalar);
      CHECK(pw.rows() == n);
      CHECK(pw.cols() == k);
      CHECK(pw.unpack() == W);
      const auto i2 = to_ternary_i2(pw);
      CHECK(unpack_matrix(i2) == W);
      const auto back = to_gemm_weights(i2, isa::scalar);
      CHECK(back.unpack() == W);
      CHECK(back.bytes() == pw.bytes());
      CHECK(std::memcmp(back.data(), pw.data(), pw.bytes()) == 0);
    }
  }
}

TEST_CASE("bad arguments are reported") {
  matrix_i8 W = matrix_i8::Zero(4, 8);
  W(1, 2) = 2;
  CHECK_THROWS_AS(ternary_gemm_weights(W, isa::scalar), value_error);
  W(1, 2) = 1;
  const ternary_gemm_weights pw(W, isa::scalar);
  std::vector<std::int8_t> x(16);
  std::vector<std::int32_t> y(16);
  CHECK_THROWS_AS(ternary_gemm(pw, x.data(), 2, 7, y.data(), 4), shape_error);
  CHECK_THROWS_AS(ternary_gemm(pw, x.data(), 2, 8, y.data(), 3), shape_error);
  CHECK_THROWS_AS(ternary_gemm(pw, x.data(), -1, 8, y.data(), 4), shape_error);
  CHECK_THROWS_AS(ternary_gemm(pw, nullptr, 2, 8, y.data(), 4), value_error);
  gemm_epilogue ep;
  std::vector<float> yf(16);
  CHECK_THROWS_AS(ternary_gemm_f32(pw, x.data(), 2, 8, ep, yf.data(), 4), value_error);
  CHECK_THROWS_AS(thread_pool(0), value_error);
  // K beyond the kernels' int32 bound (256 * K < 2^31) is refused, not wrapped.
  CHECK_THROWS_AS(
      ternary_gemm_weights(matrix_i8::Zero(1, ternary_gemm_weights::max_cols + 1), isa::scalar),
      shape_error);
  // Zero tokens and K = 0 are valid.
  ternary_gemm(pw, x.data(), 0, 8, y.data(), 4);
  const ternary_gemm_weights empty_k(matrix_i8(3, 0), isa::scalar);
  std::vector<std::int32_t> z(6, 5);
  ternary_gemm(empty_k, x.data(), 2, 0, z.data(), 3);
  CHECK(z == std::vector<std::int32_t>(6, 0));
}
