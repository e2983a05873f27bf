// Out-of-line definitions for bench_support.hpp (see there for why nothing here is inline).
#include "bench_support.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace bitlin_bench {

const char* kind_name(kind k) {
  switch (k) {
    case kind::gemv:
      return "gemv";
    case kind::gemm:
      return "gemm";
    case kind::gemv_cold:
      return "gemv_cold";
  }
  return "?";
}

const std::vector<shape>& bench_shapes() {
  static const std::vector<shape> shapes = {
      {2560, 2560}, {6912, 2560}, {2560, 6912}, {4096, 4096}, {4096, 14336}};
  return shapes;
}

const std::vector<index>& gemm_tokens() {
  static const std::vector<index> tokens = {8, 32, 128, 512};
  return tokens;
}

const std::vector<int>& bench_threads() {
  static const std::vector<int> threads = {1, 2};
  return threads;
}

std::string bench_name(kind k, const std::string& impl, shape s, index tokens, int threads) {
  std::ostringstream os;
  os << kind_name(k) << '/' << impl << '/' << s.n << 'x' << s.k;
  if (k == kind::gemm) os << "/tokens:" << tokens;
  os << "/threads:" << threads;
  return os.str();
}

void set_gemm_counters(benchmark::State& state, shape s, index tokens, double weight_bytes) {
  const double macs =
      static_cast<double>(s.n) * static_cast<double>(s.k) * static_cast<double>(tokens);
  state.counters["GMACs"] =
      benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_GBps"] =
      benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

namespace {
std::size_t parse_cache_size(const std::string& text) {
  // /sys writes sizes such as "32768K" or "32M".
  std::size_t value = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
    ++i;
  }
  if (i < text.size() && (text[i] == 'K' || text[i] == 'k')) value <<= 10;
  if (i < text.size() && (text[i] == 'M' || text[i] == 'm')) value <<= 20;
  return value;
}
}  // namespace

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, implementer, part;
  const auto value = [&](const std::string& l) {
    const auto c = l.find(':');
    std::string v = c == std::string::npos ? std::string() : l.substr(c + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  };
  while (std::getline(in, line)) {
    const auto starts = [&](const char* key) { return line.rfind(key, 0) == 0; };
    if (model.empty() && (starts("model name") || starts("Model") || starts("Hardware")))
      model = value(line);
    else if (implementer.empty() && starts("CPU implementer"))
      implementer = value(line);
    else if (part.empty() && starts("CPU part"))
      part = value(line);
  }
  if (model.empty() && !part.empty()) model = "CPU implementer " + implementer + ", part " + part;
  if (model.empty()) model = "unknown CPU";
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical CPUs";
}

void describe_machine(const std::string& isa_in_use, const std::string& isas_supported) {
  const std::string cpu = cpu_model();
  benchmark::AddCustomContext("cpu_model", cpu);
  benchmark::AddCustomContext("isa", isa_in_use);
  benchmark::AddCustomContext("isas_supported", isas_supported);
  std::printf("machine: %s; kernels in use: %s (supported: %s)\n", cpu.c_str(), isa_in_use.c_str(),
              isas_supported.c_str());
  std::fflush(stdout);
}

std::size_t last_level_cache_bytes() {
#ifdef _SC_LEVEL3_CACHE_SIZE
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) return static_cast<std::size_t>(l3);
#endif
  for (int idx = 4; idx >= 0; --idx) {
    std::ifstream size_file("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) +
                            "/size");
    std::string text;
    if (size_file >> text) {
      const std::size_t bytes = parse_cache_size(text);
      if (bytes > 0) return bytes;
    }
  }
  return std::size_t{32} << 20;
}

std::size_t cold_set_bytes() {
  if (const char* env = std::getenv("BITLIN_BENCH_COLD_MIB")) {
    const long mib = std::atol(env);
    if (mib > 0) return static_cast<std::size_t>(mib) << 20;
  }
  const std::size_t want = 4 * last_level_cache_bytes();
  return std::clamp(want, std::size_t{256} << 20, std::size_t{1} << 30);
}

index cold_copies(std::size_t matrix_bytes) {
  const std::size_t total = cold_set_bytes();
  const std::size_t copies = (total + matrix_bytes - 1) / std::max<std::size_t>(matrix_bytes, 1);
  return static_cast<index>(std::max<std::size_t>(copies, 2));
}

void fill_random_int8(std::int8_t* dst, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  while (i < n) {
    std::uint64_t bits = rng();
    for (int b = 0; b < 8 && i < n; ++b, ++i, bits >>= 8)
      dst[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(bits & 0xFF));
  }
}

void fill_random_trits(std::int8_t* dst, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  while (i < n) {
    std::uint64_t bits = rng();
    // 63 bits of entropy give 39 base-3 digits; 32 are plenty and keep the bias negligible.
    for (int d = 0; d < 32 && i < n; ++d, ++i, bits /= 3)
      dst[i] = static_cast<std::int8_t>(static_cast<int>(bits % 3) - 1);
  }
}

struct team::state {
  int threads = 1;
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  const std::function<void(int)>* body = nullptr;

  void worker_loop(int id) {
    std::uint64_t seen = 0;
    for (;;) {
      // Spin for a while (~tens of microseconds) before blocking, so that the next benchmark
      // iteration finds the worker awake.
      int spins = 0;
      while (generation.load(std::memory_order_acquire) == seen && !stop.load()) {
        if (++spins > 20000) {
          std::unique_lock<std::mutex> lock(mutex);
          wake.wait(lock, [&] { return generation.load() != seen || stop.load(); });
          break;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (stop.load()) return;
      seen = generation.load(std::memory_order_acquire);
      (*body)(id);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

team::team(int threads) : state_(std::make_unique<state>()) {
  state_->threads = std::max(threads, 1);
  for (int i = 1; i < state_->threads; ++i)
    state_->workers.emplace_back([this, i] { state_->worker_loop(i); });
}

team::~team() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop.store(true);
  }
  state_->wake.notify_all();
  for (auto& w : state_->workers) w.join();
}

int team::threads() const {
  return state_->threads;
}

void team::run(const std::function<void(int)>& body) {
  if (state_->threads == 1) {
    body(0);
    return;
  }
  state_->body = &body;
  state_->pending.store(state_->threads - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->generation.fetch_add(1, std::memory_order_acq_rel);
  }
  state_->wake.notify_all();
  body(0);
  // Spin, then yield: on an oversubscribed machine a spinning caller would hold the core the
  // late worker needs.
  for (int spins = 0; state_->pending.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins > 2000) {
      std::this_thread::yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }
}

team& shared_team(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<team>> teams;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = teams[threads];
  if (!slot) slot = std::make_unique<team>(threads);
  return *slot;
}

index split_begin(index n, int parts, int i, index align) {
  if (i <= 0) return 0;
  if (i >= parts) return n;
  index b = n * i / parts;
  b = (b + align / 2) / align * align;
  return std::min(b, n);
}

}  // namespace bitlin_bench
