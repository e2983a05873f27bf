// bitlin_<isa> and ref: the packed-ternary kernels, forced onto each ISA this CPU supports (the
// weights are packed for that ISA, which selects its kernel), and the scalar reference kernel.
// bitlin_<isa>_b1: the binary (+-1) weights on their 1-bit layout (b1_tile), same shapes, same
// epilogue, next to the 2-bit ternary rows. bitlin_<isa>_base3: the same trits on the 1.6-bit
// layout (base3_tile). bitlin_<isa>[_base3]_tiles: where a GEMM runs the lookup-table kernel
// (kernels/lut_gemm; from 32 tokens and 1024 rows on the ISAs that have it), the same product on
// the layout's tile kernel, the baseline the table kernel is chosen over.
//
// The bitlin number is ternary_gemm_f32 with the epilogue BitLinear uses (per-token activation
// scale, per-tensor weight scale, float output), so it is comparable with eigen_f32's float output.
// ref is reference_gemm (int32 output, no epilogue), split over output rows for t > 1.
// Weights are random trits and activations random int8; what is measured does not depend on the
// values, but random data keeps every code path honest (no all-zero shortcuts).
#include <map>
#include <memory>
#include <type_traits>
#include <vector>

#include "bench_support.hpp"

#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/gemm/reference.hpp"

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
  std::vector<float> y;          // [512, N]
  std::vector<std::int32_t> yi;  // [512, N]
};

// Weights of one layout for the current shape: packed per ISA, plus the cold copies.
template <class Layout>
struct layout_data {
  shape s{0, 0};
  std::vector<std::int8_t> q;  // [N, K] in the layout's alphabet
  std::map<int, std::unique_ptr<bitlin::kernel_weights<Layout>>> packed;  // by isa
  int cold_isa = -1;
  std::vector<bitlin::kernel_weights<Layout>> cold;
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

// The layout's weights for the shape: the trits themselves, or for binary layouts their signs
// (0 becomes +1 or -1 alternately, so both values stay equally likely).
template <class Layout>
layout_data<Layout>& layout_for(const ternary_data& d) {
  static layout_data<Layout> l;
  if (l.s.n != d.s.n || l.s.k != d.s.k) {
    l = layout_data<Layout>{};
    l.s = d.s;
    l.q = d.trits;
    if constexpr (std::is_same_v<typename bitlin::kernel_layout_traits<Layout>::weight_kind,
                                 bitlin::binary>) {
      for (std::size_t i = 0; i < l.q.size(); ++i)
        if (l.q[i] == 0) l.q[i] = static_cast<std::int8_t>(i % 2 ? 1 : -1);
    }
  }
  return l;
}

template <class Layout>
const bitlin::kernel_weights<Layout>& packed_for(layout_data<Layout>& l, bitlin::isa target) {
  auto& slot = l.packed[static_cast<int>(target)];
  if (!slot) {
    Eigen::Map<const bitlin::matrix_i8> q(l.q.data(), l.s.n, l.s.k);
    slot = std::make_unique<bitlin::kernel_weights<Layout>>(q, target);
  }
  return *slot;
}

// Runs a product on the tile kernel even where the lookup-table kernel would run it.
struct tiles_only {
  bitlin::index_t keep = bitlin::lut_min_tokens();
  tiles_only() { bitlin::set_lut_min_tokens(0); }
  ~tiles_only() { bitlin::set_lut_min_tokens(keep); }
  tiles_only(const tiles_only&) = delete;
  tiles_only& operator=(const tiles_only&) = delete;
};

template <class Layout>
void bitlin_bench(benchmark::State& state, bitlin::isa target, kind k, shape s, index tokens,
                  int threads) {
  ternary_data& d = data_for(s);
  layout_data<Layout>& l = layout_for<Layout>(d);
  const bitlin::kernel_weights<Layout>& hot = packed_for(l, target);
  if (k == kind::gemv_cold && l.cold_isa != static_cast<int>(target)) {
    l.cold.clear();
    l.cold.shrink_to_fit();
    l.cold.assign(static_cast<std::size_t>(cold_copies(hot.bytes())), hot);
    l.cold_isa = static_cast<int>(target);
  }
  const bitlin::executor& ex = executor_for(threads);
  bitlin::gemm_epilogue ep;
  ep.act_scale = d.act_scale.data();
  ep.weight_scale = &d.weight_scale;
  ep.rows_per_scale_group = 0;
  // One untimed call: faults in the output and wakes the pool (Google Benchmark 1.7 has no
  // warm-up option, and the slowest cases run a single timed iteration).
  bitlin::gemm_f32(hot, d.x.data(), tokens, s.k, ep, d.y.data(), s.n, ex);
  std::size_t next = 0;
  for (auto _ : state) {
    const bitlin::kernel_weights<Layout>* w = &hot;
    if (k == kind::gemv_cold) {
      w = &l.cold[next];
      next = next + 1 == l.cold.size() ? 0 : next + 1;
    }
    bitlin::gemm_f32(*w, d.x.data(), tokens, s.k, ep, d.y.data(), s.n, ex);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  set_gemm_counters(state, s, tokens, static_cast<double>(hot.bytes()));
  if (k == kind::gemv_cold) {
    state.SetLabel(std::to_string(l.cold.size()) + " copies, " +
                   std::to_string(l.cold.size() * hot.bytes() >> 20) + " MiB");
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

void register_thread_threshold_benchmarks() {
  // Small to large GEMVs on the library's own ISA: 1 thread, 2 threads as shipped (products below
  // bitlin::min_chunk_macs() per chunk stay on the calling thread) and 2 threads with every
  // product split (threshold 0, what the library did before), all in one run.
  const bitlin::isa target = bitlin::active_isa();
  const std::string isa = std::string("bitlin_") + bitlin::isa_name(target);
  const shape shapes[] = {{256, 256},   {512, 1024},  {1024, 1024}, {1024, 2560},
                          {2560, 2560}, {2560, 6912}, {6912, 2560}};
  for (const shape s : shapes) {
    const std::string tail = "/" + std::to_string(s.n) + "x" + std::to_string(s.k) + "/threads:";
    for (const int threads : {1, 2}) {
      benchmark::RegisterBenchmark(("gemv_threads/" + isa + tail + std::to_string(threads)).c_str(),
                                   [=](benchmark::State& st) {
                                     bitlin_bench<bitlin::i2_tile>(st, target, kind::gemv, s, 1,
                                                                   threads);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(("gemv_threads/" + isa + "_split_all" + tail + "2").c_str(),
                                 [=](benchmark::State& st) {
                                   const std::int64_t keep = bitlin::min_chunk_macs();
                                   bitlin::set_min_chunk_macs(0);
                                   bitlin_bench<bitlin::i2_tile>(st, target, kind::gemv, s, 1, 2);
                                   bitlin::set_min_chunk_macs(keep);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

std::vector<impl_bench> ternary_benchmarks(kind k, shape s, index tokens, int threads) {
  std::vector<impl_bench> out;
  // The reference is far slower than everything else: only one token or a few, and hot weights
  // (a cold reference run would measure the same loop).
  if (k != kind::gemv_cold && tokens <= max_ref_tokens) {
    out.push_back({"ref", [k, s, tokens, threads](benchmark::State& st) {
                     ref_bench(st, k, s, tokens, threads);
                   }});
  }
  // One row per ISA with its own kernel for the layout: a row that runs an ancestor's kernel
  // (e.g. avx512icl, whose own kernels are the popcount ones) would repeat that ancestor's row.
  for (bitlin::isa target : bitlin::supported_isas()) {
    if (bitlin::gemm_kernel_path<bitlin::i2_tile>(target) != target) continue;
    out.push_back({std::string("bitlin_") + bitlin::isa_name(target),
                   [target, k, s, tokens, threads](benchmark::State& st) {
                     bitlin_bench<bitlin::i2_tile>(st, target, k, s, tokens, threads);
                   }});
  }
  for (bitlin::isa target : bitlin::supported_isas()) {
    if (bitlin::gemm_kernel_path<bitlin::b1_tile>(target) != target) continue;
    out.push_back({std::string("bitlin_") + bitlin::isa_name(target) + "_b1",
                   [target, k, s, tokens, threads](benchmark::State& st) {
                     bitlin_bench<bitlin::b1_tile>(st, target, k, s, tokens, threads);
                   }});
  }
  for (bitlin::isa target : bitlin::supported_isas()) {
    out.push_back({std::string("bitlin_") + bitlin::isa_name(target) + "_base3",
                   [target, k, s, tokens, threads](benchmark::State& st) {
                     bitlin_bench<bitlin::base3_tile>(st, target, k, s, tokens, threads);
                   }});
  }
  if (k == kind::gemm) {
    for (bitlin::isa target : bitlin::supported_isas()) {
      const std::string isa = std::string("bitlin_") + bitlin::isa_name(target);
      if (bitlin::gemm_kernel_path<bitlin::i2_tile>(target) == target &&
          bitlin::runs_lut_gemm<bitlin::i2_tile>(target, tokens, s.n))
        out.push_back({isa + "_tiles", [target, k, s, tokens, threads](benchmark::State& st) {
                         const tiles_only off;
                         bitlin_bench<bitlin::i2_tile>(st, target, k, s, tokens, threads);
                       }});
      if (bitlin::gemm_kernel_path<bitlin::base3_tile>(target) == target &&
          bitlin::runs_lut_gemm<bitlin::base3_tile>(target, tokens, s.n))
        out.push_back({isa + "_base3_tiles", [target, k, s, tokens, threads](benchmark::State& st) {
                         const tiles_only off;
                         bitlin_bench<bitlin::base3_tile>(st, target, k, s, tokens, threads);
                       }});
    }
  }
  return out;
}

}  // namespace bitlin_bench
