// The non-ternary ops on every supported ISA path against the portable one: the activation
// quantizer and the int8 head bit for bit, the F32/BF16 dense product and attention within the
// tolerance of a float reduction in another order. Shapes cover every SIMD tail; the inputs
// include ties, zeros, extremes and non-finite values. Under qemu (Haswell) the AVX2 paths run.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bitlin/kernels/tuning.hpp"
#include "bitlin/layers/attention.hpp"
#include "bitlin/layers/dense_linear.hpp"
#include "bitlin/layers/int8_linear.hpp"
#include "bitlin/norm/norm.hpp"
#include "bitlin/quant/act_quant.hpp"
#include "catch.hpp"

using namespace bitlin;

namespace {

matrix_f random_matrix(index_t r, index_t c, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  matrix_f m(r, c);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = d(g);
  return m;
}

// Double-precision product of the values the table really holds.
matrix_f exact_product(const dense_matrix& W, const matrix_f& X) {
  matrix_f Y(X.rows(), W.rows());
  std::vector<float> row(static_cast<std::size_t>(W.cols()));
  for (index_t n = 0; n < W.rows(); ++n) {
    W.row(n, row.data());
    for (index_t t = 0; t < X.rows(); ++t) {
      double acc = 0;
      for (index_t k = 0; k < W.cols(); ++k)
        acc += static_cast<double>(row[static_cast<std::size_t>(k)]) * X(t, k);
      Y(t, n) = static_cast<float>(acc);
    }
  }
  return Y;
}

// Rows [0, 8) of every length in [0, 70], then long ones: every tail of 8, 16 and 32 lanes.
std::vector<index_t> quant_lengths() {
  std::vector<index_t> v;
  for (index_t k = 0; k <= 70; ++k) v.push_back(k);
  for (index_t k : {95, 96, 97, 127, 128, 129, 2560, 6912}) v.push_back(k);
  return v;
}

// Input variants for the activation quantizer; variant v of length k.
std::vector<float> quant_input(int variant, index_t k, std::mt19937_64& g) {
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> x(static_cast<std::size_t>(k));
  for (auto& v : x) v = d(g);
  switch (variant) {
    case 1:  // exact ties: max |x| = 127 makes s = 1, so x.5 values tie (both signs)
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(static_cast<int>(i % 9) - 4) + 0.5f;
      if (k > 0) x[static_cast<std::size_t>(k - 1)] = -127.0f;
      break;
    case 2:  // zeros, including negative zeros
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 2 ? -0.0f : 0.0f;
      break;
    case 3:  // below the 1e-5 floor of max|x|
      for (auto& v : x) v *= 1e-7f;
      break;
    case 4:  // huge and subnormal magnitudes in one row
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = i % 3 == 0 ? x[i] * 1e37f : x[i] * std::numeric_limits<float>::denorm_min();
      break;
    case 5:  // the largest finite values: products must not overflow to Inf
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = (i % 2 ? -1.0f : 1.0f) * std::numeric_limits<float>::max();
      break;
    case 6:  // values landing near n + 0.5 after an arbitrary scale
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = (static_cast<float>(i % 255) - 127.0f + 0.5f) * 0.0625f;
      break;
    default:
      break;
  }
  return x;
}

}  // namespace

TEST_CASE("every ISA path of the ops names itself or an ancestor; the emulated CPU gets AVX2",
          "[kernels][ops]") {
  std::printf("ops on this CPU:");
  for (isa i : supported_isas())
    std::printf(" %s(dense=%s/%s int8=%s attention=%s act_quant=%s rowops=%s)", isa_name(i),
                isa_name(dense_kernel_path(dense_storage::f32, i)),
                isa_name(dense_kernel_path(dense_storage::bf16, i)),
                isa_name(int8_linear_kernel_path(i)), isa_name(attention_kernel_path(i, 128)),
                isa_name(act_quant_kernel_path(i)), isa_name(rowops_kernel_path(i)));
  std::printf("\n");
  for (isa i : supported_isas()) {
    CAPTURE(isa_name(i));
    for (isa p : {dense_kernel_path(dense_storage::f32, i),
                  dense_kernel_path(dense_storage::bf16, i), int8_linear_kernel_path(i),
                  attention_kernel_path(i, 128), act_quant_kernel_path(i), rowops_kernel_path(i)})
      CHECK(isa_supported(p));
  }
  CHECK(act_quant_kernel_path(isa::scalar) == isa::scalar);
  CHECK(dense_kernel_path(dense_storage::bf16, isa::scalar) == isa::scalar);
  CHECK(int8_linear_kernel_path(isa::scalar) == isa::scalar);
  CHECK(attention_kernel_path(isa::scalar, 128) == isa::scalar);
  if (isa_supported(isa::avx2)) {
    CHECK(act_quant_kernel_path(isa::avx2) == isa::avx2);
    CHECK(rowops_kernel_path(isa::avx2) == isa::avx2);
    CHECK(dense_kernel_path(dense_storage::f32, isa::avx2) == isa::avx2);
    CHECK(dense_kernel_path(dense_storage::bf16, isa::avx2) == isa::avx2);
    CHECK(int8_linear_kernel_path(isa::avx2) == isa::avx2);
    CHECK(attention_kernel_path(isa::avx2, 128) == isa::avx2);
    CHECK(attention_kernel_path(isa::avx2, 20) == isa::scalar);  // not a multiple of 8
  }
  if (isa_supported(isa::avx512vnni))
    CHECK(int8_linear_kernel_path(isa::avx512vnni) == isa::avx512vnni);
  const char* expect = std::getenv("BITLIN_EXPECT_MAX_ISA");
  if (expect && std::string(expect) == "avx2") {
    REQUIRE(isa_supported(isa::avx2));
    CHECK(act_quant_kernel_path(best_isa()) == isa::avx2);
    CHECK(rowops_kernel_path(best_isa()) == isa::avx2);
  }
}

TEST_CASE("activation quantizer: every path is bit-identical to absmax_quantize_row",
          "[kernels][ops][act_quant]") {
  for (isa path : supported_isas()) {
    CAPTURE(isa_name(path));
    std::mt19937_64 g(123);
    int rows = 0;
    for (const index_t k : quant_lengths()) {
      for (int variant = 0; variant < 7; ++variant) {
        CAPTURE(k, variant);
        const std::vector<float> x = quant_input(variant, k, g);
        std::vector<std::int8_t> a(x.size() + 1, 77), b(x.size() + 1, 77);
        const float sa = absmax_quantize_row(x.data(), k, a.data());
        std::int32_t sum = -1;
        const float sb = quantize_row_i8(x.data(), k, b.data(), &sum, path);
        std::int32_t want_sum = 0;
        for (index_t i = 0; i < k; ++i) want_sum += a[static_cast<std::size_t>(i)];
        REQUIRE(std::memcmp(&sa, &sb, sizeof sa) == 0);
        REQUIRE(a == b);  // includes the untouched guard byte
        REQUIRE(sum == want_sum);
        ++rows;
      }
    }
    CHECK(rows == 7 * static_cast<int>(quant_lengths().size()));
  }
}

TEST_CASE("activation quantizer: NaN or Inf anywhere makes the kernel refuse and the entry throw",
          "[kernels][ops][act_quant]") {
  const float bad_values[] = {
      std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (isa path : supported_isas()) {
    CAPTURE(isa_name(path));
    const act_quant_fn fn = detail::act_quant_kernel_of(path).fn;
    for (const index_t k : {1, 7, 8, 9, 16, 17, 33, 40, 64, 70}) {
      for (index_t at = 0; at < k; ++at) {
        for (const float bad : bad_values) {
          CAPTURE(k, at, bad);
          std::vector<float> x(static_cast<std::size_t>(k), 1.0f);
          x[static_cast<std::size_t>(at)] = bad;
          std::vector<std::int8_t> q(static_cast<std::size_t>(k));
          float s = 0.0f;
          std::int32_t sum = 0;
          CHECK_FALSE(fn(x.data(), k, q.data(), &s, &sum));
          CHECK_THROWS_AS(quantize_row_i8(x.data(), k, q.data(), nullptr, path), value_error);
        }
      }
    }
  }
}

TEST_CASE("dense product: every path agrees with the exact product and the scalar path",
          "[kernels][ops][dense]") {
  thread_pool pool(2);
  for (const dense_storage st : {dense_storage::f32, dense_storage::bf16}) {
    for (const index_t rows : {1, 3, 8, 9, 37, 130}) {
      for (const index_t cols : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 200}) {
        for (const index_t tokens : {1, 3, 4, 5, 9}) {
          CAPTURE(dense_storage_name(st), rows, cols, tokens);
          const dense_matrix W = dense_matrix::from_f32(
              random_matrix(rows, cols, 7u + static_cast<unsigned>(rows * cols)), st);
          const matrix_f X = random_matrix(tokens, cols, 99u + static_cast<unsigned>(tokens));
          const matrix_f want = exact_product(W, X);
          const float tol =
              1e-5f * static_cast<float>(cols) * std::max(1.0f, want.cwiseAbs().maxCoeff());
          matrix_f scalar_y(tokens, rows);
          W.multiply(X.data(), tokens, cols, scalar_y.data(), rows, serial(), isa::scalar);
          for (const isa p : supported_isas()) {
            CAPTURE(isa_name(p));
            // Wider buffers than needed: nothing outside [tokens x rows] of ldy is written.
            const index_t ldy = rows + 3;
            matrix_f Y = matrix_f::Constant(tokens, ldy, NAN);
            W.multiply(X.data(), tokens, cols, Y.data(), ldy,
                       p == isa::scalar ? serial() : static_cast<const executor&>(pool), p);
            REQUIRE(Y.leftCols(rows).allFinite());
            CHECK(Y.rightCols(3).array().isNaN().all());
            CHECK((Y.leftCols(rows) - want).cwiseAbs().maxCoeff() <= tol);
            CHECK((Y.leftCols(rows) - scalar_y).cwiseAbs().maxCoeff() <= 2 * tol);
          }
        }
      }
    }
  }
}

TEST_CASE("dense product: a token's outputs do not depend on the batch it is in",
          "[kernels][ops][dense]") {
  // Decode (one token) and prefill (many) must give bit-identical logits on each path, so every
  // block shape of a kernel sums a (row, token) in the same order.
  for (const dense_storage st : {dense_storage::f32, dense_storage::bf16}) {
    for (const index_t cols : {7, 32, 33, 95, 2560}) {
      const index_t rows = 37, tokens = 7;
      const dense_matrix W =
          dense_matrix::from_f32(random_matrix(rows, cols, 5u + static_cast<unsigned>(cols)), st);
      const matrix_f X = random_matrix(tokens, cols, 41u + static_cast<unsigned>(cols));
      for (const isa p : supported_isas()) {
        CAPTURE(dense_storage_name(st), cols, isa_name(p));
        matrix_f all(tokens, rows);
        W.multiply(X.data(), tokens, cols, all.data(), rows, serial(), p);
        // One token walks the rows one at a time or side by side, as the host decides
        // (kernels/tuning.hpp): both walks, on every host.
        for (const bool interleaved : {false, true}) {
          CAPTURE(interleaved);
          const kernels::stream_walk_guard walk(interleaved);
          for (index_t t = 0; t < tokens; ++t) {
            matrix_f one(1, rows);
            W.multiply(X.data() + t * cols, 1, cols, one.data(), rows, serial(), p);
            CHECK((one.row(0).array() == all.row(t).array()).all());
          }
        }
      }
    }
  }
}

TEST_CASE("int8 row kernels: every path equals the scalar one exactly, extremes included",
          "[kernels][ops][int8_head]") {
  std::mt19937_64 g(5);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const index_t k : {1, 15, 16, 17, 31, 63, 64, 65, 130, 193, 2560, 2575}) {
    for (const index_t n : {1, 3, 4, 5, 9, 12, 17}) {
      for (int variant = 0; variant < 3; ++variant) {
        CAPTURE(k, n, variant);
        std::vector<std::int8_t> q(static_cast<std::size_t>(n * k));
        std::vector<std::uint8_t> xu(static_cast<std::size_t>(k));
        for (auto& v : q)
          v = static_cast<std::int8_t>(variant == 0 ? byte(g) - 128 : (variant == 1 ? -128 : 127));
        for (auto& v : xu) v = static_cast<std::uint8_t>(variant == 0 ? byte(g) : 255);
        std::vector<std::int32_t> want(static_cast<std::size_t>(n) + 2, -7);
        detail::int8_rows_kernel_of(isa::scalar).fn(q.data(), k, 0, n, xu.data(), want.data());
        if (variant == 1) CHECK(want[0] == -128 * 255 * static_cast<std::int32_t>(k));
        for (const isa p : supported_isas()) {
          CAPTURE(isa_name(p));
          std::vector<std::int32_t> got(static_cast<std::size_t>(n) + 2, -7);
          detail::int8_rows_kernel_of(p).fn(q.data(), k, 0, n, xu.data(), got.data());
          CHECK(got == want);
          // A sub-range writes only its own rows.
          std::vector<std::int32_t> part(static_cast<std::size_t>(n) + 2, -7);
          detail::int8_rows_kernel_of(p).fn(q.data(), k, n / 2, n, xu.data(), part.data());
          for (index_t r = 0; r < n + 2; ++r)
            CHECK(part[static_cast<std::size_t>(r)] ==
                  (r >= n / 2 && r < n ? want[static_cast<std::size_t>(r)] : -7));
        }
      }
    }
  }
}

TEST_CASE("int8 head: every path equals the scalar path exactly and approximates the product",
          "[kernels][ops][int8_head]") {
  thread_pool pool(2);
  for (const index_t rows : {1, 5, 70, 301}) {
    for (const index_t cols : {1, 15, 16, 17, 63, 64, 65, 200, 2560}) {
      CAPTURE(rows, cols);
      const dense_matrix W = dense_matrix::from_f32(
          random_matrix(rows, cols, 3u + static_cast<unsigned>(rows + cols)));
      const matrix_f X = random_matrix(3, cols, 17u + static_cast<unsigned>(cols));
      const int8_linear h(W);
      matrix_f a(3, rows);
      h.multiply(X.data(), 3, cols, a.data(), rows, serial(), isa::scalar);
      for (const isa p : supported_isas()) {
        CAPTURE(isa_name(p));
        matrix_f b(3, rows);
        h.multiply(X.data(), 3, cols, b.data(), rows, pool, p);
        CHECK((a - b).cwiseAbs().maxCoeff() == 0.0f);
      }
      const matrix_f want = exact_product(W, X);
      // Two absmax int8 roundings: the error stays a small fraction of the largest output.
      const double err = (a - want).cwiseAbs().maxCoeff();
      const double scale = std::max(1.0f, want.cwiseAbs().maxCoeff());
      CHECK(err <= 0.05 * scale);
    }
  }
}

TEST_CASE("attention: every path agrees with the Eigen path", "[kernels][ops][attention]") {
  for (const index_t d : {8, 16, 24, 32, 40, 48, 64, 96, 128, 20}) {
    for (const index_t pos0 : {0, 1, 13}) {
      for (const index_t T : {1, 2, 3, 4, 5, 17}) {
        CAPTURE(d, pos0, T);
        const index_t L = pos0 + T, ld = 3 * d;  // strided rows, as in the fused qkv / KV cache
        const matrix_f Q = random_matrix(T, ld, 1u + static_cast<unsigned>(d + T));
        const matrix_f K = random_matrix(L, ld, 2u + static_cast<unsigned>(L));
        const matrix_f V = random_matrix(L, ld, 3u + static_cast<unsigned>(L + d));
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        // The keys transposed as the KV cache stores them, padded columns, the padding poisoned
        // with NaN: kernels may read it but no score from it may reach the output.
        const index_t Lp =
            (L + attention_key_align - 1) / attention_key_align * attention_key_align;
        matrix_f Kt = matrix_f::Constant(ld, Lp, std::numeric_limits<float>::quiet_NaN());
        Kt.leftCols(L) = K.transpose();
        auto run = [&](isa p) {
          matrix_f O = matrix_f::Zero(T, ld);
          attend_head({Q.data() + d, ld, Kt.data() + d * Lp, Lp, V.data() + d, ld, O.data() + d, ld,
                       T, pos0, d, scale},
                      p);
          return O;
        };
        const matrix_f O1 = run(isa::scalar);
        for (const isa p : supported_isas()) {
          CAPTURE(isa_name(p), isa_name(attention_kernel_path(p, d)));
          const matrix_f O2 = run(p);
          CHECK((O1 - O2).cwiseAbs().maxCoeff() <=
                1e-5f * std::max(1.0f, O1.cwiseAbs().maxCoeff()));
          CHECK(O2.leftCols(d).cwiseAbs().maxCoeff() == 0.0f);  // nothing written outside the head
          CHECK(O2.rightCols(d).cwiseAbs().maxCoeff() == 0.0f);
          // The first query of an empty cache sees only itself: its output is its own value row.
          if (pos0 == 0)
            CHECK((O2.row(0).segment(d, d) - V.row(0).segment(d, d)).cwiseAbs().maxCoeff() <=
                  1e-6f);
        }
      }
    }
  }
}
