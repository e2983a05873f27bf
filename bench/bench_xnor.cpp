// bitlin_<isa>_xnor: binary x binary products (gemm/xnor_gemm.hpp: +-1 weights and +-1
// activations as bit rows, dot = K - 2 popcount(a XOR w), the fused float epilogue), registered
// in the same gemv / gemm / gemv_cold families and shapes as the int8-activation rows of
// bench_ternary.cpp (bitlin_<isa> ternary on the i2 tile, bitlin_<isa>_b1 binary weights on the
// b1 tile) and the Eigen float baseline, so one run compares all four on equal shapes, token
// counts and threads. As for those rows, the activations are prepared outside the timed loop
// (packed to bits here, quantized to int8 there): the product is what is measured. One row per
// ISA with its own Hamming kernel (rows that would run an ancestor's kernel are left out).
#include <map>
#include <memory>
#include <vector>

#include "bench_support.hpp"

#include "bitlin/gemm/xnor_gemm.hpp"

namespace bitlin_bench {

namespace {

struct xnor_data {
  shape s{0, 0};
  std::vector<std::int8_t> signs;  // [N, K] of +-1
  bitlin::bit_rows x;              // [max tokens, K]
  std::vector<float> act_scale;
  float weight_scale = 0.37f;
  std::vector<float> y;
  std::map<int, std::unique_ptr<bitlin::xnor_weights>> packed;  // by isa
  int cold_isa = -1;
  std::vector<bitlin::xnor_weights> cold;
};

std::vector<std::int8_t> random_signs(std::size_t n, std::uint64_t seed) {
  std::vector<std::int8_t> v(n);
  fill_random_int8(v.data(), n, seed);
  for (auto& e : v) e = static_cast<std::int8_t>(e & 1 ? 1 : -1);
  return v;
}

xnor_data& xnor_data_for(shape s) {
  static xnor_data d;
  if (d.s.n != s.n || d.s.k != s.k) {
    d = xnor_data{};
    d.s = s;
    d.signs = random_signs(static_cast<std::size_t>(s.n * s.k), 0x5eed0011u);
    const index max_tokens = gemm_tokens().back();
    const std::vector<std::int8_t> xs =
        random_signs(static_cast<std::size_t>(max_tokens * s.k), 0x5eed0012u);
    d.x = bitlin::bit_rows::from_signs(
        Eigen::Map<const bitlin::matrix_i8>(xs.data(), max_tokens, s.k));
    d.act_scale.resize(static_cast<std::size_t>(max_tokens));
    for (std::size_t t = 0; t < d.act_scale.size(); ++t)
      d.act_scale[t] = 1.0f + 0.01f * static_cast<float>(t);
    d.y.assign(static_cast<std::size_t>(max_tokens * s.n), 0.0f);
  }
  return d;
}

const bitlin::executor& xnor_executor(int threads) {
  if (threads <= 1) return bitlin::serial();
  static std::map<int, std::unique_ptr<bitlin::thread_pool>> pools;
  auto& slot = pools[threads];
  if (!slot) slot = std::make_unique<bitlin::thread_pool>(threads);
  return *slot;
}

void xnor_bench(benchmark::State& state, bitlin::isa target, kind k, shape s, index tokens,
                int threads) {
  xnor_data& d = xnor_data_for(s);
  auto& slot = d.packed[static_cast<int>(target)];
  if (!slot)
    slot = std::make_unique<bitlin::xnor_weights>(
        Eigen::Map<const bitlin::matrix_i8>(d.signs.data(), s.n, s.k), target);
  const bitlin::xnor_weights& hot = *slot;
  if (k == kind::gemv_cold && d.cold_isa != static_cast<int>(target)) {
    d.cold.clear();
    d.cold.shrink_to_fit();
    d.cold.assign(static_cast<std::size_t>(cold_copies(hot.bytes())), hot);
    d.cold_isa = static_cast<int>(target);
  }
  // The first `tokens` rows of the activations.
  bitlin::bit_rows x(tokens, s.k);
  for (index t = 0; t < tokens; ++t) std::copy(d.x.row(t), d.x.row(t) + d.x.stride(), x.row(t));
  const bitlin::executor& ex = xnor_executor(threads);
  const bitlin::weight_epilogue ep(s.n, s.n, &d.weight_scale, 0, bitlin::scale_convention::multiply,
                                   nullptr);
  bitlin::xnor_gemm_f32(hot, x, d.act_scale.data(), ep, d.y.data(), s.n, ex);  // warm-up
  std::size_t next = 0;
  for (auto _ : state) {
    const bitlin::xnor_weights* w = &hot;
    if (k == kind::gemv_cold) {
      w = &d.cold[next];
      next = next + 1 == d.cold.size() ? 0 : next + 1;
    }
    bitlin::xnor_gemm_f32(*w, x, d.act_scale.data(), ep, d.y.data(), s.n, ex);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, s, tokens, static_cast<double>(hot.bytes()));
  if (k == kind::gemv_cold)
    state.SetLabel(std::to_string(d.cold.size()) + " copies, " +
                   std::to_string(d.cold.size() * hot.bytes() >> 20) + " MiB");
}

}  // namespace

std::vector<impl_bench> xnor_benchmarks(kind k, shape s, index tokens, int threads) {
  std::vector<impl_bench> out;
  for (bitlin::isa target : bitlin::supported_isas()) {
    if (bitlin::hamming_kernel_path(target) != target) continue;
    out.push_back({std::string("bitlin_") + bitlin::isa_name(target) + "_xnor",
                   [target, k, s, tokens, threads](benchmark::State& st) {
                     xnor_bench(st, target, k, s, tokens, threads);
                   }});
  }
  return out;
}

}  // namespace bitlin_bench
