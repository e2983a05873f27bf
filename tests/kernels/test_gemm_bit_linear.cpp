// bit_linear's fast path (ternary_gemm_f32) against its reference path
// (reference_bitlinear_matmul) for every scale layout the fast path takes, and the fallbacks.
#include <bitlin/bitlin.hpp>
#include <bitlin/gemm/ternary_gemm.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin;

namespace {

using bitlin_test::randn;

// Largest distance in ulps between two float matrices of the same shape.
int max_ulps(const matrix_f& a, const matrix_f& b) {
  int worst = 0;
  for (index_t i = 0; i < a.size(); ++i) {
    std::int32_t x, y;
    std::memcpy(&x, a.data() + i, 4);
    std::memcpy(&y, b.data() + i, 4);
    if (a.data()[i] == b.data()[i]) continue;  // also +0 == -0
    worst = std::max(worst, std::abs(x - y));
  }
  return worst;
}

// The layer's integer sums are exact on both paths and the fast epilogue performs the
// reference's IEEE operations in the same order, guarded against FMA contraction: identical.
void require_same(const matrix_f& fast, const matrix_f& ref) {
  REQUIRE(max_ulps(fast, ref) == 0);
}

template <class Layer>
matrix_f reference_of(const Layer& layer, const quantized_activations& xq) {
  return reference_bitlinear_matmul(xq, layer.weights(), layer.scales(),
                                    layer.bias().empty() ? nullptr : layer.bias().data());
}

}  // namespace

TEST_CASE("bit_linear fast and reference paths agree for whole-row weight scales", "[threads]") {
  const index_t out = 70, in = 133;
  const matrix_f W = randn(out, in, 1);
  std::vector<float> bias(out);
  for (index_t i = 0; i < out; ++i)
    bias[static_cast<std::size_t>(i)] = 0.01f * static_cast<float>(i) - 0.3f;
  thread_pool pool(3);
  for (auto wg : {scale_groups::per_tensor(), scale_groups::per_row(), scale_groups::row_groups(16),
                  scale_groups::row_groups(7)}) {
    for (auto ag :
         {scale_groups::per_row(), scale_groups::per_tensor(), scale_groups::row_groups(2)}) {
      for (bool with_bias : {false, true}) {
        bit_linear<>::options opt;
        opt.weight_groups = wg;
        opt.act_groups = ag;
        opt.norm = with_bias ? norm_kind::rms_norm : norm_kind::none;
        const auto layer = bit_linear<>::from_float(W, with_bias ? bias.data() : nullptr, opt);
        REQUIRE(layer.has_fast_kernel());
        for (index_t tokens : {1, 5, 19}) {
          const matrix_f X = randn(tokens, in, static_cast<std::uint32_t>(10 + tokens));
          const auto xq = layer.quantize_input(X);
          matrix_f y(tokens, out);
          layer.forward_quantized(xq, y);
          INFO("weight rows/group " << wg.rows_per_group << " act rows/group " << ag.rows_per_group
                                    << " bias " << with_bias << " tokens " << tokens);
          require_same(y, reference_of(layer, xq));
          auto threaded = layer;
          threaded.set_executor(pool);
          matrix_f y2(tokens, out);
          threaded.forward_quantized(xq, y2);
          REQUIRE(y2 == y);
        }
      }
    }
  }
}

TEST_CASE("bit_linear fast path with the multiply convention (quantized weights)") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-1, 1);
  const index_t out = 33, in = 50;
  matrix_i8 q(out, in);
  for (index_t i = 0; i < q.size(); ++i) q.data()[i] = static_cast<std::int8_t>(d(rng));
  weight_scales ws;
  ws.layout = scale_layout(out, in, scale_groups::row_groups(4));
  ws.convention = scale_convention::multiply;
  for (index_t g = 0; g < ws.layout.size(); ++g)
    ws.values.push_back(0.5f + 0.1f * static_cast<float>(g));
  std::vector<float> bias(out, -0.125f);
  const auto layer = bit_linear<>::from_quantized(q, ws, bias.data());
  REQUIRE(layer.has_fast_kernel());
  const matrix_f X = randn(6, in, 3);
  const auto xq = layer.quantize_input(X);
  matrix_f y(6, out);
  layer.forward_quantized(xq, y);
  require_same(y, reference_of(layer, xq));
}

TEST_CASE("bit_linear keeps the reference path where the fast one does not apply") {
  const matrix_f W = randn(20, 64, 4), X = randn(3, 64, 5);
  // Weight scales blocked along K: no fast kernel.
  bit_linear<>::options kb;
  kb.weight_groups = scale_groups::k_blocks(16);
  const auto blocked = bit_linear<>::from_float(W, nullptr, kb);
  CHECK_FALSE(blocked.has_fast_kernel());
  // Activation scales blocked along K: fast kernel present but not used for this input.
  bit_linear<>::options ak;
  ak.act_groups = scale_groups::k_blocks(32);
  const auto layer = bit_linear<>::from_float(W, nullptr, ak);
  CHECK(layer.has_fast_kernel());
  const auto xq = layer.quantize_input(X);
  matrix_f y(3, 20);
  layer.forward_quantized(xq, y);
  CHECK(y == reference_of(layer, xq));
}

TEST_CASE("binary bit_linear runs on the 1-bit b1 tile, identical to its reference path") {
  const matrix_f W = randn(45, 77, 8);
  std::vector<float> bias(45, 0.5f);
  for (auto wg :
       {scale_groups::per_tensor(), scale_groups::per_row(), scale_groups::row_groups(8)}) {
    bit_linear<binary, 4>::options opt;
    opt.weight_groups = wg;
    opt.norm = norm_kind::layer_norm;
    const auto layer = bit_linear<binary, 4>::from_float(W, bias.data(), opt);
    REQUIRE(layer.has_fast_kernel());
    // 1 bit per weight: 3 row groups of 16 x 3 k blocks of 32, 64 bytes per tile.
    CHECK(layer.weight_bytes() == 3 * 3 * 64);
    CHECK(layer.weights() == sign_binary(W, wg).q);
    CHECK(unpack_matrix(layer.packed_weights()) == layer.weights());
    for (index_t tokens : {1, 3, 17}) {
      const auto xq = layer.quantize_input(randn(tokens, 77, static_cast<std::uint32_t>(tokens)));
      matrix_f y(tokens, 45);
      layer.forward_quantized(xq, y);
      require_same(y, reference_of(layer, xq));
    }
  }
  bit_linear<binary>::options kb;
  kb.weight_groups = scale_groups::k_blocks(16);
  CHECK_FALSE(bit_linear<binary>::from_float(W, nullptr, kb).has_fast_kernel());
}
