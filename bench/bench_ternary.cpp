// bitlin_<isa> and ref: the packed-ternary kernels, forced onto each ISA this CPU supports (the
// weights are packed for that ISA, which selects its kernel), and the scalar reference kernel.
//
// The bitlin number is ternary_gemm_f32 with the epilogue BitLinear uses (per-token activation
// scale, per-tensor weight scale, float output), so it is comparable with eigen_f32's float output.
// ref is reference_gemm (int32 output, no epilogue), split over output rows for t > 1.
// Weights are random trits and activations random int8; what is measured does not depend on the
// values, but random data keeps every code path honest (no all-zero shortcuts).
#include <map>
#include <memory>
#include <vector>

#include "bench_support.hpp"

#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/kernels/reference.hpp"

namespace bitlin_bench {

namespace {

// Inputs for the current shape, shared by every ISA and token count; replaced when the shape
// changes so that memory stays bounded at the largest shape.
struct ternary_data {
  shape s{0, 0};
  std::vector<std::int8_t> trits;  // [N, K] row-major
  std::vector<std::int8_t> x;      // [512, K]
  std::vector<float> act_scale;    // [512]
  float weight_scale = 0.37f;
  std::vector<float> y;                                                 // [512, N]
  std::vector<std::int32_t> yi;                                         // [512, N]
  std::map<int, std::unique_ptr<bitlin::ternary_gemm_weights>> packed;  // by isa
  int cold_isa = -1;
  std::vector<bitlin::ternary_gemm_weights> cold;
};

ternary_data& data_for(shape s) {
  static ternary_data d;
  if (d.s.n != s.n || d.s.k != s.k) {
    d = ternary_data{};
    d.s = s;
    d.trits.resize(static_cast<std::size_t>(s.n * s.k));
    fill_random_trits(d.trits.data(), d.trits.size(),
                      0x5eed0001u + static_cast<std::uint64_t>(s.n * 131 + s.k));
    const index max_tokens = gemm_tokens().back();
    d.x.resize(static_cast<std::size_t>(max_tokens * s.k));
    fill_random_int8(d.x.data(), d.x.size(), 0x5eed0002u);
    d.act_scale.resize(static_cast<std::size_t>(max_tokens));
    for (std::size_t t = 0; t < d.act_scale.size(); ++t)
      d.act_scale[t] = 1.0f + 0.01f * static_cast<float>(t);
    d.y.assign(static_cast<std::size_t>(max_tokens * s.n), 0.0f);
    d.yi.assign(static_cast<std::size_t>(max_tokens * s.n), 0);
  }
  return d;
}

}  // namespace

namespace {

const bitlin::executor& executor_for(int threads) {
  if (threads <= 1) return bitlin::serial();
  static std::map<int, std::unique_ptr<bitlin::thread_pool>> pools;
  auto& slot = pools[threads];
  if (!slot) slot = std::make_unique<bitlin::thread_pool>(threads);
  return *slot;
}

const bitlin::ternary_gemm_weights& packed_for(ternary_data& d, bitlin::isa target) {
  auto& slot = d.packed[static_cast<int>(target)];
  if (!slot) {
    Eigen::Map<const bitlin::matrix_i8> trits(d.trits.data(), d.s.n, d.s.k);
    slot = std::make_unique<bitlin::ternary_gemm_weights>(trits, target);
  }
  return *slot;
}

void bitlin_bench(benchmark::State& state, bitlin::isa target, kind k, shape s, index tokens,
                  int threads) {
  ternary_data& d = data_for(s);
  const bitlin::ternary_gemm_weights& hot = packed_for(d, target);
  if (k == kind::gemv_cold && d.cold_isa != static_cast<int>(target)) {
    d.cold.clear();
    d.cold.shrink_to_fit();
    d.cold.assign(static_cast<std::size_t>(cold_copies(hot.bytes())), hot);
    d.cold_isa = static_cast<int>(target);
  }
  const bitlin::executor& ex = executor_for(threads);
  bitlin::gemm_epilogue ep;
  ep.act_scale = d.act_scale.data();
  ep.weight_scale = &d.weight_scale;
  ep.rows_per_scale_group = 0;
  // One untimed call: faults in the output and wakes the pool (Google Benchmark 1.7 has no
  // warm-up option, and the slowest cases run a single timed iteration).
  bitlin::ternary_gemm_f32(hot, d.x.data(), tokens, s.k, ep, d.y.data(), s.n, ex);
  std::size_t next = 0;
  for (auto _ : state) {
    const bitlin::ternary_gemm_weights* w = &hot;
    if (k == kind::gemv_cold) {
      w = &d.cold[next];
      next = next + 1 == d.cold.size() ? 0 : next + 1;
    }
    bitlin::ternary_gemm_f32(*w, d.x.data(), tokens, s.k, ep, d.y.data(), s.n, ex);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, s, tokens, static_cast<double>(hot.bytes()));
  if (k == kind::gemv_cold) {
    state.SetLabel(std::to_string(d.cold.size()) + " copies, " +
                   std::to_string(d.cold.size() * hot.bytes() >> 20) + " MiB");
  }
}

}  // namespace

namespace {

void ref_bench(benchmark::State& state, kind k, shape s, index tokens, int threads) {
  ternary_data& d = data_for(s);
  team& tm = shared_team(threads);
  const std::function<void(int)> body = [&](int t) {
    const index n0 = split_begin(s.n, threads, t, 16);
    const index n1 = split_begin(s.n, threads, t + 1, 16);
    if (n1 > n0)
      bitlin::reference_gemm(d.x.data(), s.k, d.trits.data() + n0 * s.k, s.k, d.yi.data() + n0, s.n,
                             tokens, n1 - n0, s.k);
  };
  tm.run(body);  // warm-up, as in bitlin_bench
  for (auto _ : state) {
    tm.run(body);
    benchmark::DoNotOptimize(d.yi.data());
    benchmark::ClobberMemory();
  }
  (void)k;
  // The reference reads unpacked int8 trits: one byte per weight.
  set_gemm_counters(state, s, tokens, static_cast<double>(s.n * s.k));
}

}  // namespace

std::vector<impl_bench> ternary_benchmarks(kind k, shape s, index tokens, int threads) {
  std::vector<impl_bench> out;
  // The reference is far slower than everything else: only one token or a few, and hot weights
  // (a cold reference run would measure the same loop).
  if (k != kind::gemv_cold && tokens <= max_ref_tokens) {
    out.push_back({"ref", [k, s, tokens, threads](benchmark::State& st) {
                     ref_bench(st, k, s, tokens, threads);
                   }});
  }
  for (bitlin::isa target : bitlin::supported_isas()) {
    out.push_back({std::string("bitlin_") + bitlin::isa_name(target),
                   [target, k, s, tokens, threads](benchmark::State& st) {
                     bitlin_bench(st, target, k, s, tokens, threads);
                   }});
  }
  return out;
}

}  // namespace bitlin_bench
