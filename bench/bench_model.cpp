// bitlin_bench_model: the whole BitNet b1.58 model on a synthetic BitNet-2B-shaped network (hidden
// 2560, intermediate 6912, 30 layers, 20 heads / 5 KV heads, vocab 128256, tied BF16 embedding and
// head, random weights made in memory), with the machine's own limits measured in the same run:
//   model/prefill:<T>/threads:<t>   a T-token prompt from an empty cache (logits of the last token)
//   model/decode/threads:<t>        one token at a time after a 128-token prompt
//   model/head/threads:<t>          the BF16 lm_head GEMV alone
//   stream_read/..., peak_int8/...  read bandwidth and int8 dot-product peak (bench_machine.cpp)
// At the end it prints the targets as ratios against those limits:
//   decode tokens/s / (DRAM read GB/s / weight bytes read per token)       target >= 0.85
//     (decode and head: the read bandwidth measured just before and after their timing loops)
//   prefill-512 MACs/s (one per ternary weight per token) / int8 peak      target >= 0.40
// --layout=i2|base3 packs the ternary projections in that kernel layout (as bitnet_cli --layout;
// default i2, the 2-bit tile; base3 is the 1.6-bit one). BITLIN_BENCH_MODEL_LAYERS=<n> shrinks
// the model for a quick try.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "bitlin/model/bitnet.hpp"
#include "bitlin/testing/random_model.hpp"
#include "bitlin/model/sampling.hpp"

namespace {

using bitlin::index_t;
using namespace bitlin::model;

bitnet_config bitnet_2b_config() {
  bitnet_config c;
  c.vocab_size = 128256;
  c.hidden_size = 2560;
  c.intermediate_size = 6912;
  c.num_hidden_layers = 30;
  c.num_attention_heads = 20;
  c.num_key_value_heads = 5;
  c.head_dim = 128;
  c.max_position_embeddings = 4096;
  c.rope_theta = 500000.0;
  c.tie_word_embeddings = true;
  if (const char* l = std::getenv("BITLIN_BENCH_MODEL_LAYERS")) c.num_hidden_layers = std::atoi(l);
  return c;
}

ternary_layout g_layout = ternary_layout::i2;

// Built on first use so that --benchmark_filter=stream_read does not pay for it.
const bitnet_model& model() {
  static const bitnet_model m = [] {
    const auto t0 = std::chrono::steady_clock::now();
    bitnet_model r = random_bitnet_model(bitnet_2b_config(), 1, dense_storage::bf16,
                                         bitlin::active_isa(), g_layout);
    std::fprintf(stderr, "bench_model: random BitNet-2B-shaped model built in %.1f s, %.1f MB\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 static_cast<double>(r.resident_bytes()) / 1e6);
    return r;
  }();
  return m;
}

bitlin::thread_pool& pool(int threads) {
  static std::map<int, std::unique_ptr<bitlin::thread_pool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<bitlin::thread_pool>(threads);
  return *p;
}

double ternary_weights_per_token(const bitnet_config& c) {
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  const double q = static_cast<double>(c.q_size()), kv = static_cast<double>(c.kv_size());
  return static_cast<double>(c.num_hidden_layers) * (h * (q + 2 * kv) + q * h + 3 * h * i);
}

std::vector<std::int64_t> prompt_ids(index_t n, std::uint64_t seed) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::uint64_t s = seed;
  for (auto& id : ids) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    id = static_cast<std::int64_t>((s >> 33) % 128000);
  }
  return ids;
}

void set_model_counters(benchmark::State& state, const bitnet_model& m, double tokens) {
  state.counters["tokens_per_s"] =
      benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["resident_MB"] = static_cast<double>(m.resident_bytes()) / 1e6;
}

void bm_prefill(benchmark::State& state, index_t tokens, int threads) {
  const bitnet_model& m = model();
  const auto ids = prompt_ids(tokens, 11);
  for (auto _ : state) {
    kv_cache cache = m.new_cache();
    const auto logits = m.forward(ids.data(), tokens, cache, logits_for::last, pool(threads));
    benchmark::DoNotOptimize(logits.data());
  }
  set_model_counters(state, m, static_cast<double>(tokens));
  state.counters["GMACs"] =
      benchmark::Counter(ternary_weights_per_token(m.config()) * static_cast<double>(tokens) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// The same model with the optional 8-bit head (a copy sharing the packed layers).
const bitnet_model& model_int8_head() {
  static const bitnet_model m = [] {
    bitnet_model r = model();
    r.use_int8_head(true);
    return r;
  }();
  return m;
}

void bm_decode(benchmark::State& state, int threads, bool int8) {
  const bitnet_model& m = int8 ? model_int8_head() : model();
  const index_t prompt = 128, window = 256;
  const auto ids = prompt_ids(prompt, 13);
  kv_cache cache = m.new_cache();
  cache.reserve(prompt + window);
  auto start = [&] {
    cache.clear();
    m.forward(ids.data(), prompt, cache, logits_for::none, pool(threads));
  };
  start();
  std::int64_t next = 42;
  const double bw_before = bitlin_bench::read_gbps_now(threads);
  for (auto _ : state) {
    if (cache.size() >= prompt + window) {
      state.PauseTiming();
      start();
      state.ResumeTiming();
    }
    const auto logits = m.forward(&next, 1, cache, logits_for::last, pool(threads));
    next = static_cast<std::int64_t>(argmax(logits.data(), logits.cols()));
  }
  set_model_counters(state, m, 1.0);
  state.counters["read_GBps"] = std::max(bw_before, bitlin_bench::read_gbps_now(threads));
  state.counters["weight_GBps"] =
      benchmark::Counter(static_cast<double>(m.bytes_read_per_token()) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void bm_head(benchmark::State& state, int threads, bool int8) {
  const dense_matrix& head = model().head();
  static const int8_head head8(model().head());
  std::vector<float> x(static_cast<std::size_t>(head.cols()), 0.01f),
      y(static_cast<std::size_t>(head.rows()));
  x[0] = 1.0f;
  const double bw_before = bitlin_bench::read_gbps_now(threads);
  for (auto _ : state) {
    if (int8)
      head8.multiply(x.data(), 1, head.cols(), y.data(), head.rows(), pool(threads));
    else
      head.multiply(x.data(), 1, head.cols(), y.data(), head.rows(), pool(threads));
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GBps"] =
      benchmark::Counter(static_cast<double>(int8 ? head8.bytes() : head.bytes()) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["read_GBps"] = std::max(bw_before, bitlin_bench::read_gbps_now(threads));
}

// Keeps the console output and remembers every counter for the closing summary.
class summary_reporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, std::map<std::string, double>> results;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      auto& dst = results[r.benchmark_name()];
      for (const auto& [k, v] : r.counters) dst[k] = v.value;
    }
  }
  double get(const std::string& prefix, const std::string& suffix, const std::string& counter,
             bool best = true) const {
    double v = 0;
    for (const auto& [name, counters] : results) {
      if (name.rfind(prefix, 0) != 0 || name.find(suffix) == std::string::npos) continue;
      const auto it = counters.find(counter);
      if (it == counters.end()) continue;
      v = best ? std::max(v, it->second) : it->second;
    }
    return v;
  }
};

// Takes --layout=<name> (or --layout <name>) out of argv before Google Benchmark sees it.
ternary_layout take_layout_flag(int& argc, char** argv) {
  std::string name = "i2";
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--layout=", 0) == 0) {
      name = a.substr(9);
    } else if (a == "--layout" && i + 1 < argc) {
      name = argv[++i];
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return parse_ternary_layout(name);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    g_layout = take_layout_flag(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlin_bench_model: %s (--layout takes i2 or base3)\n", e.what());
    return 2;
  }
  bitlin_bench::register_machine_benchmarks();
  for (int t : {1, 2}) {
    for (index_t tokens : {128, 512}) {
      const std::string name =
          "model/prefill:" + std::to_string(tokens) + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [tokens, t](benchmark::State& s) { bm_prefill(s, tokens, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    for (const bool int8 : {false, true}) {
      const std::string sfx =
          std::string(int8 ? "_int8head" : "") + "/threads:" + std::to_string(t);
      const std::string dname = "model/decode" + sfx;
      benchmark::RegisterBenchmark(dname.c_str(),
                                   [t, int8](benchmark::State& s) { bm_decode(s, t, int8); })
          ->UseRealTime()
          ->MinTime(2.0)
          ->Unit(benchmark::kMillisecond);
      const std::string hname = "model/head" + sfx;
      benchmark::RegisterBenchmark(hname.c_str(),
                                   [t, int8](benchmark::State& s) { bm_head(s, t, int8); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("kernels", bitlin::isa_name(bitlin::active_isa()));
  benchmark::AddCustomContext("layout", ternary_layout_name(g_layout));
  std::string isas;
  for (const bitlin::isa i : bitlin::supported_isas())
    isas += (isas.empty() ? "" : " ") + std::string(bitlin::isa_name(i));
  bitlin_bench::describe_machine(bitlin::isa_name(bitlin::active_isa()), isas);
  summary_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);

  // Closing summary: the targets against this run's own limits.
  const bitnet_config c = bitnet_2b_config();
  const bool built = rep.get("model/", "", "resident_MB") != 0.0;
  std::printf("\n== BitNet-2B-shaped model (%ld layers), kernels %s, layout %s, on %s ==\n",
              static_cast<long>(c.num_hidden_layers), bitlin::isa_name(bitlin::active_isa()),
              ternary_layout_name(g_layout), bitlin_bench::cpu_model().c_str());
  if (built) {
    const double bytes = static_cast<double>(model().bytes_read_per_token());
    const double bytes8 = static_cast<double>(model_int8_head().bytes_read_per_token());
    std::printf(
        "resident model bytes: %.1f MB; weight bytes read per decoded token: %.1f MB (BF16 head), "
        "%.1f MB (int8 head)\n",
        static_cast<double>(model().resident_bytes()) / 1e6, bytes / 1e6, bytes8 / 1e6);
    std::printf("ternary MACs per token: %.3f G\n", ternary_weights_per_token(c) * 1e-9);
    // A row the filter left out reads 0 from the reporter: say so instead of printing a zero rate.
    const auto shown = [](double v, int digits, const char* unit) {
      if (v <= 0) return std::string("not run");
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*f %s", digits, v, unit);
      return std::string(buf);
    };
    for (int t : {1, 2}) {
      const std::string th = "/threads:" + std::to_string(t);
      const double bw = rep.get("stream_read/536870912", th, "GBps");
      const double peak = rep.get("peak_int8/", th, "GMACs");
      const double p128 = rep.get("model/prefill:128", th, "tokens_per_s");
      const double p512 = rep.get("model/prefill:512", th, "tokens_per_s");
      std::printf("threads %d: prefill128 %s, prefill512 %s, DRAM read %s, int8 peak %s\n", t,
                  shown(p128, 2, "tok/s").c_str(), shown(p512, 2, "tok/s").c_str(),
                  shown(bw, 1, "GB/s").c_str(), shown(peak, 1, "GMAC/s").c_str());
      for (const bool int8 : {false, true}) {
        const std::string sfx = std::string(int8 ? "_int8head" : "") + th;
        const double dec = rep.get("model/decode" + sfx, "", "tokens_per_s");
        const double head = rep.get("model/head" + sfx, "", "GBps");
        // The read bandwidth measured just before and after each benchmark's timing loop (the
        // higher of the two): this host's DRAM bandwidth drifts by a third within minutes, so the
        // start-of-run figure alone would make the fractions measure the drift.
        const auto read_around = [&](const std::string& name) {
          const double v = rep.get(name + sfx, "", "read_GBps");
          return v > 0 ? v : bw;
        };
        const double dec_bw = read_around("model/decode"), head_bw = read_around("model/head");
        const double b = int8 ? bytes8 : bytes;
        if (dec_bw > 0 && dec > 0) {
          const double limit = dec_bw * 1e9 / b;
          std::printf(
              "  decode (%s head): %.2f tok/s; limit %.2f tok/s (read %.1f GB/s around it) -> "
              "%.1f%% (target 85%%)",
              int8 ? "int8" : "BF16", dec, limit, dec_bw, 100.0 * dec / limit);
          if (head > 0 && head_bw > 0)
            std::printf(
                "; head GEMV %.1f GB/s = %.1f%% of read bandwidth (%.1f GB/s around it; target "
                "85%%)",
                head, 100.0 * head / head_bw, head_bw);
          std::printf("\n");
        }
      }
      if (peak > 0 && p512 > 0) {
        const double macs = p512 * ternary_weights_per_token(c) * 1e-9;
        std::printf("  prefill512: %.1f GMAC/s = %.1f%% of int8 peak (target 40%%)\n", macs,
                    100.0 * macs / peak);
      }
    }
    // Peers are only quoted with the machine they were measured on (never as "this machine").
    std::printf(
        "for scale, measured elsewhere (AMD Zen 5, 2 cores, 2026-11-22, not this run): llama.cpp "
        "TQ2_0 pp512 34 / 59 tok/s, decode 17.8 / 21.3 tok/s (1 / 2 threads)\n");
  }
  benchmark::Shutdown();
  return 0;
}
