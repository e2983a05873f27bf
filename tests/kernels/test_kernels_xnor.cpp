// Binary x binary products and the Hamming kernels under them, on every ISA path this CPU runs:
// distances against a bit-by-bit count for every row length 1..300 bits (every 16-byte tail of
// every path), all-ones / all-zeros / alternating patterns, XNOR-popcount GEMM/GEMV against
// reference_gemm on the +-1 values for every N and K tail and tokens 1..17, big K, thread-count
// independence, the fused epilogue bit for bit against reference_bitlinear_matmul, and bad input.
#include <bitlin/gemm/xnor_gemm.hpp>
#include <bitlin/gemm/reference.hpp>
#include <bitlin/layers/xnor_linear.hpp>
#include <bitlin/quant/binary.hpp>
#include <bitlin/quant/sign_activation.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::quick;

matrix_i8 random_signs(index_t n, index_t k, std::mt19937& rng) {
  matrix_i8 w(n, k);
  for (index_t i = 0; i < w.size(); ++i) w.data()[i] = (rng() & 1) ? 1 : -1;
  return w;
}

void check_xnor(isa path, const matrix_i8& W, const matrix_i8& X, const executor& ex = serial()) {
  const xnor_weights pw(W, path);
  const bit_rows A = bit_rows::from_signs(X);
  const index_t ldy = W.rows() + 3;
  std::vector<std::int32_t> y(static_cast<std::size_t>(X.rows() * ldy), -7);
  xnor_gemm(pw, A, y.data(), ldy, ex);
  const matrix_i32 ref = reference_gemm(X, W);
  bool same = true;
  for (index_t t = 0; t < X.rows(); ++t) {
    for (index_t n = 0; n < W.rows(); ++n) same = same && y[t * ldy + n] == ref(t, n);
    for (index_t n = W.rows(); n < ldy; ++n) same = same && y[t * ldy + n] == -7;
  }
  INFO("isa " << isa_name(path) << " (kernel " << isa_name(hamming_kernel_path(path)) << ") tokens "
              << X.rows() << " N " << W.rows() << " K " << W.cols());
  REQUIRE(same);
}

}  // namespace

TEST_CASE("hamming kernels: every length 1..300 bits and the adversarial patterns, every path") {
  std::mt19937 rng(11);
  for (isa path : supported_isas()) {
    const detail::hamming_fn fn = detail::hamming_kernel_of(path).fn;
    for (index_t bits = 1; bits <= 300; ++bits) {
      for (int pattern = 0; pattern < 5; ++pattern) {
        // 0 random, 1 all ones vs all zeros, 2 all ones vs all ones, 3 alternating vs its
        // complement, 4 alternating vs all zeros. 19 rows: two 8-row and four 4-row steps and
        // their tails.
        const index_t nq = 3, nd = 19;
        matrix_i8 Q(nq, bits), D(nd, bits);
        for (index_t c = 0; c < bits; ++c) {
          for (index_t r = 0; r < nq; ++r)
            Q(r, c) = pattern == 0 ? ((rng() & 1) ? 1 : -1) : pattern <= 2 ? 1 : (c % 2 ? 1 : -1);
          for (index_t r = 0; r < nd; ++r)
            D(r, c) = pattern == 0   ? ((rng() & 1) ? 1 : -1)
                      : pattern == 1 ? -1
                      : pattern == 2 ? 1
                      : pattern == 3 ? (c % 2 ? -1 : 1)
                                     : -1;
        }
        const bit_rows q = bit_rows::from_signs(Q), d = bit_rows::from_signs(D);
        // The rows as stored (adjacent) and with a gap of one 16-byte chunk after each row
        // (the kernels' row stride is an argument; some read adjacent rows as one load); the
        // output rows are wider than nd and their padding must stay untouched.
        const index_t gap_ld = d.stride() + hamming_row_align, ldo = nd + 5;
        std::vector<std::uint8_t> gapped(static_cast<std::size_t>(nd * gap_ld), 0xA5);
        for (index_t j = 0; j < nd; ++j)
          std::copy(d.row(j), d.row(j) + d.stride(), gapped.begin() + j * gap_ld);
        for (const index_t ldd : {d.stride(), gap_ld}) {
          const std::uint8_t* rows = ldd == d.stride() ? d.data() : gapped.data();
          std::vector<std::int32_t> out(static_cast<std::size_t>(nq * ldo), -1);
          fn(q.data(), nq, q.stride(), rows, nd, ldd, d.stride(), out.data(), ldo);
          for (index_t i = 0; i < nq; ++i) {
            for (index_t j = 0; j < nd; ++j) {
              std::int32_t e = 0;
              for (index_t c = 0; c < bits; ++c) e += Q(i, c) != D(j, c);
              INFO("isa " << isa_name(path) << " bits " << bits << " pattern " << pattern << " ldd "
                          << ldd);
              REQUIRE(out[static_cast<std::size_t>(i * ldo + j)] == e);
            }
            for (index_t j = nd; j < ldo; ++j)
              REQUIRE(out[static_cast<std::size_t>(i * ldo + j)] == -1);
          }
        }
      }
    }
  }
}

TEST_CASE("hamming kernels: long rows (Harley-Seal rounds and their tails), every path") {
  // Harley-Seal runs on whole rounds of 16 chunks (256, 512 or 1024 bytes on sse41, avx2 and
  // avx512bw) and the nibble loop on the rest: lengths around one, two and many rounds of every
  // width, with random bits, all bits differing (every carry-save counter saturated) and none.
  std::mt19937 rng(21);
  std::vector<index_t> lengths;
  for (index_t round : {256, 512, 1024})
    for (index_t rounds : {1, 2, 5})
      for (index_t extra : {-16, 0, 16, 48, 208})
        if (round * rounds + extra > 0) lengths.push_back(8 * (round * rounds + extra));
  if (!quick()) lengths.push_back(8 * 65536 + 8 * 48 + 5);  // 512 Ki bits and an odd tail
  // The paths with their own Hamming kernel run it (the others fall back along the lineage).
  for (isa own :
       {isa::sse41, isa::avx2, isa::avx512bw, isa::avx512icl, isa::neon, isa::neon_dotprod})
    if (isa_supported(own)) CHECK(hamming_kernel_path(own) == own);
  if (isa_supported(isa::avx512vnni)) CHECK(hamming_kernel_path(isa::avx512vnni) == isa::avx512bw);
  for (isa path : supported_isas()) {
    const detail::hamming_fn fn = detail::hamming_kernel_of(path).fn;
    for (index_t bits : lengths) {
      for (int pattern = 0; pattern < 3; ++pattern) {
        const index_t nq = 2, nd = 5;
        matrix_i8 Q(nq, bits), D(nd, bits);
        for (index_t c = 0; c < bits; ++c) {
          for (index_t r = 0; r < nq; ++r) Q(r, c) = pattern == 0 ? ((rng() & 1) ? 1 : -1) : 1;
          for (index_t r = 0; r < nd; ++r)
            D(r, c) = pattern == 0 ? ((rng() & 1) ? 1 : -1) : pattern == 1 ? -1 : 1;
        }
        const bit_rows q = bit_rows::from_signs(Q), d = bit_rows::from_signs(D);
        std::vector<std::int32_t> out(static_cast<std::size_t>(nq * nd), -1);
        fn(q.data(), nq, q.stride(), d.data(), nd, d.stride(), d.stride(), out.data(), nd);
        bool same = true;
        for (index_t i = 0; i < nq; ++i)
          for (index_t j = 0; j < nd; ++j)
            same = same && out[static_cast<std::size_t>(i * nd + j)] ==
                               (Q.row(i).array() != D.row(j).array()).count();
        INFO("isa " << isa_name(path) << " (kernel " << isa_name(hamming_kernel_path(path))
                    << ") bits " << bits << " pattern " << pattern);
        REQUIRE(same);
      }
    }
  }
}

TEST_CASE("xnor_gemm: every N tail, every K tail, tokens 1..17, every path") {
  std::mt19937 rng(12);
  const index_t top = quick() ? 70 : 300;
  for (isa path : supported_isas()) {
    for (index_t k : {1, 64, 129}) {
      const matrix_i8 X = random_signs(3, k, rng);
      for (index_t n = 1; n <= top; ++n) check_xnor(path, random_signs(n, k, rng), X);
    }
    for (index_t k = 1; k <= top; ++k)
      check_xnor(path, random_signs(19, k, rng), random_signs(2, k, rng));
    const matrix_i8 W = random_signs(83, 2560, rng);
    for (index_t t = 1; t <= 17; ++t) check_xnor(path, W, random_signs(t, 2560, rng));
  }
}

TEST_CASE("xnor_gemm: extremes up to K = 2^20 and thread independence, every path") {
  const index_t big = quick() ? index_t{1} << 16 : index_t{1} << 20;
  for (isa path : supported_isas()) {
    for (index_t k : {index_t{255}, big - 3, big}) {
      matrix_i8 W(3, k), X(2, k);
      for (index_t j = 0; j < k; ++j) {
        W(0, j) = -1;
        W(1, j) = 1;
        W(2, j) = static_cast<std::int8_t>(j % 2 ? 1 : -1);
        X(0, j) = 1;
        X(1, j) = static_cast<std::int8_t>(j % 2 ? 1 : -1);
      }
      check_xnor(path, W, X);
      const xnor_weights pw(W, path);
      std::vector<std::int32_t> y(6);
      xnor_gemm(pw, bit_rows::from_signs(X), y.data(), 3);
      CHECK(y[0] == -k);
      CHECK(y[1] == k);
      CHECK(y[5] == k);
    }
    std::mt19937 rng(13);
    const matrix_i8 W = random_signs(300, 333, rng), X = random_signs(37, 333, rng);
    for (int th : {1, 2, 3}) {
      thread_pool pool(th);
      check_xnor(path, W, X, pool);
    }
  }
}

TEST_CASE("xnor_gemm_f32: the fused epilogue equals reference_bitlinear_matmul bit for bit") {
  std::mt19937 rng(14);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const index_t t = 9, n = 77, k = 300;
  matrix_f Wf(n, k), Xf(t, k);
  for (index_t i = 0; i < Wf.size(); ++i) Wf.data()[i] = nd(rng);
  for (index_t i = 0; i < Xf.size(); ++i) Xf.data()[i] = nd(rng);
  std::vector<float> bias(n);
  for (auto& b : bias) b = nd(rng);
  const quantized_activations xq = sign_quantize(Xf);
  for (auto g :
       {scale_groups::per_tensor(), scale_groups::per_row(), scale_groups::row_groups(8)}) {
    const binary_weights bw = sign_binary(Wf, g);
    for (bool with_bias : {false, true}) {
      const matrix_f ref =
          reference_bitlinear_matmul(xq, bw.q, bw.scales, with_bias ? bias.data() : nullptr);
      for (isa path : supported_isas()) {
        const xnor_weights pw(bw.q, path);
        gemm_epilogue ep;
        ep.act_scale = xq.scales.data();
        ep.weight_scale = bw.scales.values.data();
        ep.rows_per_scale_group = bw.scales.layout.group_rows;
        ep.convention = bw.scales.convention;
        ep.bias = with_bias ? bias.data() : nullptr;
        matrix_f y(t, n);
        xnor_gemm_f32(pw, bit_rows::from_signs(xq.q), ep, y.data(), n);
        INFO("isa " << isa_name(path) << " bias " << with_bias);
        REQUIRE(std::memcmp(y.data(), ref.data(),
                            sizeof(float) * static_cast<std::size_t>(y.size())) == 0);
      }
    }
  }
}

TEST_CASE("sign_quantize: sign(0) = -1 and scale 1 / mean|x|") {
  matrix_f X(2, 4);
  X << 0.0f, 2.0f, -2.0f, 4.0f, 0.0f, 0.0f, 0.0f, 0.0f;
  const quantized_activations q = sign_quantize(X);
  CHECK(q.bits == 1);
  CHECK(q.q(0, 0) == -1);
  CHECK(q.q(0, 1) == 1);
  CHECK(q.q(0, 2) == -1);
  CHECK(q.scales[0] == 1.0f / 2.0f);
  CHECK(q.scales[1] == 1.0f / activation_min_absmax);
  X(1, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(sign_quantize(X), value_error);
}

TEST_CASE("xnor: bad input is reported") {
  matrix_i8 W = matrix_i8::Ones(4, 8);
  W(1, 2) = 0;
  CHECK_THROWS_AS(xnor_weights(W, isa::scalar), value_error);
  const xnor_weights pw(matrix_i8::Ones(4, 8), isa::scalar);
  std::vector<std::int32_t> y(16);
  CHECK_THROWS_AS(xnor_gemm(pw, bit_rows(2, 9), y.data(), 4), shape_error);
  CHECK_THROWS_AS(xnor_gemm(pw, bit_rows(2, 8), y.data(), 3), shape_error);
  CHECK_THROWS_AS(xnor_gemm(pw, bit_rows(2, 8), nullptr, 4), value_error);
  gemm_epilogue ep;
  std::vector<float> yf(16);
  CHECK_THROWS_AS(xnor_gemm_f32(pw, bit_rows(2, 8), ep, yf.data(), 4), value_error);
  // Zero tokens are valid and write nothing.
  xnor_gemm(pw, bit_rows(0, 8), y.data(), 4);
}

TEST_CASE("xnor_linear: the XNOR path equals the reference path bit for bit, every path") {
  std::mt19937 rng(15);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  matrix_f W(45, 77);
  for (index_t i = 0; i < W.size(); ++i) W.data()[i] = nd(rng);
  std::vector<float> bias(45, 0.25f);
  for (auto wg :
       {scale_groups::per_tensor(), scale_groups::per_row(), scale_groups::row_groups(8)}) {
    xnor_linear::options opt;
    opt.weight_groups = wg;
    opt.norm = norm_kind::layer_norm;
    const xnor_linear layer = xnor_linear::from_float(W, bias.data(), opt);
    REQUIRE(layer.has_fast_kernel());
    CHECK(layer.weights() == sign_binary(W, wg).q);
    CHECK(layer.weight_bytes() == 45 * 16);  // 77 bits -> one 16-byte row each
    for (index_t tokens : {1, 3, 17}) {
      matrix_f X(tokens, 77);
      for (index_t i = 0; i < X.size(); ++i) X.data()[i] = nd(rng);
      const quantized_activations xq = layer.quantize_input(X);
      CHECK(xq.bits == 1);
      const matrix_f ref =
          reference_bitlinear_matmul(xq, layer.weights(), layer.scales(), bias.data());
      for (isa path : supported_isas()) {
        set_active_isa(path);
        const xnor_linear on_path = xnor_linear::from_float(W, bias.data(), opt);
        matrix_f y(tokens, 45);
        on_path.forward_quantized(xq, y);
        INFO("isa " << isa_name(path) << " tokens " << tokens);
        REQUIRE(std::memcmp(y.data(), ref.data(),
                            sizeof(float) * static_cast<std::size_t>(y.size())) == 0);
      }
      set_active_isa(best_isa());
    }
  }
  xnor_linear::options kb;
  kb.weight_groups = scale_groups::k_blocks(16);
  const xnor_linear slow = xnor_linear::from_float(W, nullptr, kb);
  CHECK_FALSE(slow.has_fast_kernel());
  matrix_f X = matrix_f::Ones(2, 77);
  const matrix_f y = slow.forward(X);
  CHECK(y.rows() == 2);
  CHECK_THROWS_AS(slow.forward(matrix_f::Ones(2, 76)), shape_error);
}
