// What the machine can do at best, measured in the same binary and run as the kernels, so that
// GEMV can be stated as a fraction of read bandwidth and GEMM as a fraction of int8 peak:
//   stream_read/<bytes>/threads:<t>   sums a buffer (64-byte loads), counter GBps
//   peak_int8/<instr>/threads:<t>      independent chains of one int8 dot-product instruction,
//                                      counter GMACs (u8 x s8 products per second)
// Each ISA-specific loop is a target-attributed function chosen at run time, like bitlin's own
// kernels; this file is compiled without -m flags.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BITLIN_BENCH_X86 1
#endif

#include <bitlin/config/cpu.hpp>
#include <bitlin/kernels/x86/amx_gemm.hpp>

#include "bench_support.hpp"

namespace bitlin_bench {
namespace {

// ---------------------------------------------------------------------------------------------
// stream_read

#ifdef BITLIN_BENCH_X86
// Eight independent accumulators so the adds never limit the load rate.
__attribute__((target("avx512f"), noinline)) std::uint64_t sum_avx512(const std::uint64_t* p,
                                                                      std::size_t words) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  for (std::size_t i = 0; i + 64 <= words; i += 64) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 24));
    a4 = _mm512_add_epi64(a4, _mm512_load_si512(p + i + 32));
    a5 = _mm512_add_epi64(a5, _mm512_load_si512(p + i + 40));
    a6 = _mm512_add_epi64(a6, _mm512_load_si512(p + i + 48));
    a7 = _mm512_add_epi64(a7, _mm512_load_si512(p + i + 56));
  }
  a0 = _mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)),
                        _mm512_add_epi64(_mm512_add_epi64(a4, a5), _mm512_add_epi64(a6, a7)));
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, a0);
  std::uint64_t s = 0;
  for (std::uint64_t v : lanes) s += v;
  return s;
}

__attribute__((target("avx2"), noinline)) std::uint64_t sum_avx2(const std::uint64_t* p,
                                                                 std::size_t words) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  for (std::size_t i = 0; i + 32 <= words; i += 32) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    a4 = _mm256_add_epi64(a4, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 16)));
    a5 = _mm256_add_epi64(a5, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 20)));
    a6 = _mm256_add_epi64(a6, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 24)));
    a7 = _mm256_add_epi64(a7, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 28)));
  }
  a0 = _mm256_add_epi64(_mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)),
                        _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7)));
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a0);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

// Portable fallback; the compiler vectorizes it with the baseline ISA.
__attribute__((noinline)) std::uint64_t sum_plain(const std::uint64_t* p, std::size_t words) {
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (std::size_t i = 0; i + 4 <= words; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

using sum_fn = std::uint64_t (*)(const std::uint64_t*, std::size_t);

sum_fn best_sum() {
#ifdef BITLIN_BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return sum_avx512;
  if (__builtin_cpu_supports("avx2")) return sum_avx2;
#endif
  return sum_plain;
}

struct aligned_free {
  void operator()(void* p) const { std::free(p); }
};

void stream_read(benchmark::State& state, std::size_t bytes, int threads) {
  const std::size_t words = bytes / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[], aligned_free> buf(
      static_cast<std::uint64_t*>(std::aligned_alloc(64, words * sizeof(std::uint64_t))));
  if (!buf) {
    state.SkipWithError("allocation failed");
    return;
  }
  team& tm = shared_team(threads);
  // First touch from the thread that will read each part, so pages sit where they are read.
  tm.run([&](int t) {
    const index b = split_begin(static_cast<index>(words), threads, t, 64);
    const index e = split_begin(static_cast<index>(words), threads, t + 1, 64);
    for (index i = b; i < e; ++i) buf[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i);
  });
  const sum_fn sum = best_sum();
  std::vector<std::uint64_t> partial(static_cast<std::size_t>(threads) * 8);
  const std::function<void(int)> body = [&](int t) {
    const index b = split_begin(static_cast<index>(words), threads, t, 64);
    const index e = split_begin(static_cast<index>(words), threads, t + 1, 64);
    partial[static_cast<std::size_t>(t) * 8] = sum(buf.get() + b, static_cast<std::size_t>(e - b));
  };
  for (auto _ : state) {
    tm.run(body);
    benchmark::DoNotOptimize(partial.data());
    benchmark::ClobberMemory();
  }
  state.counters["GBps"] =
      benchmark::Counter(static_cast<double>(words * sizeof(std::uint64_t)) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// peak_int8: independent accumulator chains per thread hide the instruction latency (4-5 cycles
// at 1-2 per cycle on current cores for vpdpbusd). Each step is an asm volatile statement: with
// intrinsics the compiler merges chains that start equal, or hoists the loop-invariant
// vpmaddubsw/vpmaddwd out of the loop, and what remains is no longer the instruction under test.
// The accumulators are stored to memory the caller hands to DoNotOptimize.

#define BITLIN_BENCH_CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define BITLIN_BENCH_CHAINS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#ifdef BITLIN_BENCH_X86
__attribute__((target("avx512f,avx512vnni"), noinline)) void peak_vpdpbusd_zmm(
    const std::int8_t* ab, std::int64_t reps, std::int32_t* out) {
  const __m512i a = _mm512_loadu_si512(ab);
  const __m512i b = _mm512_loadu_si512(ab + 64);
#define DECL(i) __m512i acc##i = _mm512_set1_epi32(i);
#define STEP(i) \
  __asm__ volatile("vpdpbusd %[b], %[a], %[acc]" : [acc] "+v"(acc##i) : [a] "v"(a), [b] "v"(b));
#define SUM(i) total = _mm512_add_epi32(total, acc##i);
  BITLIN_BENCH_CHAINS12(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS12(STEP)
  }
  __m512i total = _mm512_setzero_si512();
  BITLIN_BENCH_CHAINS12(SUM)
  _mm512_storeu_si512(out, total);
#undef DECL
#undef STEP
#undef SUM
}

// {vex}: the VEX (AVX-VNNI) encoding, not the EVEX one that needs AVX512VL.
__attribute__((target("avx2,avxvnni"), noinline)) void peak_vpdpbusd_ymm(const std::int8_t* ab,
                                                                         std::int64_t reps,
                                                                         std::int32_t* out) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 64));
#define DECL(i) __m256i acc##i = _mm256_set1_epi32(i);
#define STEP(i)                                          \
  __asm__ volatile("%{vex%} vpdpbusd %[b], %[a], %[acc]" \
                   : [acc] "+x"(acc##i)                  \
                   : [a] "x"(a), [b] "x"(b));
#define SUM(i) total = _mm256_add_epi32(total, acc##i);
  BITLIN_BENCH_CHAINS12(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS12(STEP)
  }
  __m256i total = _mm256_setzero_si256();
  BITLIN_BENCH_CHAINS12(SUM)
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), total);
#undef DECL
#undef STEP
#undef SUM
}

// The pre-VNNI idiom: vpmaddubsw (u8 x s8 -> s16 pairs), vpmaddwd by ones (-> s32), vpaddd. Only
// the vpaddd is loop-carried, so 8 chains are plenty (and fit AVX2's 16 registers).
__attribute__((target("avx512f,avx512bw"), noinline)) void peak_vpmaddubsw_zmm(
    const std::int8_t* ab, std::int64_t reps, std::int32_t* out) {
  const __m512i a = _mm512_loadu_si512(ab);
  const __m512i b = _mm512_loadu_si512(ab + 64);
  const __m512i ones = _mm512_set1_epi16(1);
#define DECL(i) __m512i acc##i = _mm512_set1_epi32(i);
#define STEP(i)                                                        \
  {                                                                    \
    __m512i t;                                                         \
    __asm__ volatile(                                                  \
        "vpmaddubsw %[b], %[a], %[t]\n\tvpmaddwd %[o], %[t], %[t]\n\t" \
        "vpaddd %[t], %[acc], %[acc]"                                  \
        : [acc] "+v"(acc##i), [t] "=&v"(t)                             \
        : [a] "v"(a), [b] "v"(b), [o] "v"(ones));                      \
  }
#define SUM(i) total = _mm512_add_epi32(total, acc##i);
  BITLIN_BENCH_CHAINS8(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS8(STEP)
  }
  __m512i total = _mm512_setzero_si512();
  BITLIN_BENCH_CHAINS8(SUM)
  _mm512_storeu_si512(out, total);
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2"), noinline)) void peak_vpmaddubsw_ymm(const std::int8_t* ab,
                                                                   std::int64_t reps,
                                                                   std::int32_t* out) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 64));
  const __m256i ones = _mm256_set1_epi16(1);
#define DECL(i) __m256i acc##i = _mm256_set1_epi32(i);
#define STEP(i)                                                        \
  {                                                                    \
    __m256i t;                                                         \
    __asm__ volatile(                                                  \
        "vpmaddubsw %[b], %[a], %[t]\n\tvpmaddwd %[o], %[t], %[t]\n\t" \
        "vpaddd %[t], %[acc], %[acc]"                                  \
        : [acc] "+x"(acc##i), [t] "=&x"(t)                             \
        : [a] "x"(a), [b] "x"(b), [o] "x"(ones));                      \
  }
#define SUM(i) total = _mm256_add_epi32(total, acc##i);
  BITLIN_BENCH_CHAINS8(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS8(STEP)
  }
  __m256i total = _mm256_setzero_si256();
  BITLIN_BENCH_CHAINS8(SUM)
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), total);
#undef DECL
#undef STEP
#undef SUM
}

// The int16 idiom the pmaddubsw kernels run since their partial sums stay in int16 lanes for a
// proven number of blocks: vpmaddubsw, then vpaddw into an int16 accumulator (the widening to
// int32 once per chunk is not counted). No vpmaddwd competes for the multiplier, so this is the
// most u8 x s8 products per second the instruction gives; a kernel above it does fewer multiplies
// than MACs.
__attribute__((target("avx512f,avx512bw"), noinline)) void peak_vpmaddubsw_i16_zmm(
    const std::int8_t* ab, std::int64_t reps, std::int32_t* out) {
  const __m512i a = _mm512_loadu_si512(ab);
  const __m512i b = _mm512_loadu_si512(ab + 64);
#define DECL(i) __m512i acc##i = _mm512_set1_epi16(i);
#define STEP(i)                                                                   \
  {                                                                               \
    __m512i t;                                                                    \
    __asm__ volatile("vpmaddubsw %[b], %[a], %[t]\n\tvpaddw %[t], %[acc], %[acc]" \
                     : [acc] "+v"(acc##i), [t] "=&v"(t)                           \
                     : [a] "v"(a), [b] "v"(b));                                   \
  }
#define SUM(i) total = _mm512_add_epi16(total, acc##i);
  BITLIN_BENCH_CHAINS8(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS8(STEP)
  }
  __m512i total = _mm512_setzero_si512();
  BITLIN_BENCH_CHAINS8(SUM)
  _mm512_storeu_si512(out, total);
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2"), noinline)) void peak_vpmaddubsw_i16_ymm(const std::int8_t* ab,
                                                                       std::int64_t reps,
                                                                       std::int32_t* out) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 64));
#define DECL(i) __m256i acc##i = _mm256_set1_epi16(i);
#define STEP(i)                                                                   \
  {                                                                               \
    __m256i t;                                                                    \
    __asm__ volatile("vpmaddubsw %[b], %[a], %[t]\n\tvpaddw %[t], %[acc], %[acc]" \
                     : [acc] "+x"(acc##i), [t] "=&x"(t)                           \
                     : [a] "x"(a), [b] "x"(b));                                   \
  }
#define SUM(i) total = _mm256_add_epi16(total, acc##i);
  BITLIN_BENCH_CHAINS8(DECL)
  for (std::int64_t r = 0; r < reps; ++r) {
    BITLIN_BENCH_CHAINS8(STEP)
  }
  __m256i total = _mm256_setzero_si256();
  BITLIN_BENCH_CHAINS8(SUM)
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), total);
#undef DECL
#undef STEP
#undef SUM
}
#if defined(BITLIN_HAS_AMX_KERNEL)
// AMX: four tdpbsud on independent accumulator tiles (tmm0-3) from operand tiles loaded once; the
// tile state is per thread, so each call configures it and releases it at the end.
__attribute__((noinline)) void peak_tdpbsud(const std::int8_t*, std::int64_t reps,
                                            std::int32_t* out) {
  alignas(64) static std::int8_t operand[1024];
  for (int i = 0; i < 1024; ++i) operand[i] = static_cast<std::int8_t>(i * 7 + 3);
  bitlin::kernels::amx::configure_tiles();  // the kernels' own configuration
  __asm__ volatile(
      "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3\n\t"
      "tileloadd (%0,%1,1), %%tmm4\n\ttileloadd (%0,%1,1), %%tmm5\n\t"
      "tileloadd (%0,%1,1), %%tmm6\n\ttileloadd (%0,%1,1), %%tmm7"
      :
      : "r"(operand), "r"(64L)
      : "memory");
  for (std::int64_t r = 0; r < reps; ++r)
    __asm__ volatile(
        "tdpbsud %%tmm6, %%tmm4, %%tmm0\n\ttdpbsud %%tmm7, %%tmm4, %%tmm1\n\t"
        "tdpbsud %%tmm6, %%tmm5, %%tmm2\n\ttdpbsud %%tmm7, %%tmm5, %%tmm3" ::);
  alignas(64) std::int32_t acc[256];
  __asm__ volatile("tilestored %%tmm0, (%0,%1,1)" : : "r"(acc), "r"(64L) : "memory");
  bitlin::kernels::amx::release_tiles();
  for (int i = 0; i < 16; ++i) out[i] = acc[i];
}
#endif
#endif

using peak_fn = void (*)(const std::int8_t*, std::int64_t, std::int32_t*);

struct peak_variant {
  const char* name;
  peak_fn fn;
  int macs_per_rep;  // u8 x s8 products per loop iteration (all chains)
  bool supported;
};

std::vector<peak_variant> peak_variants() {
  std::vector<peak_variant> v;
#ifdef BITLIN_BENCH_X86
  __builtin_cpu_init();
  const bool avx512vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
  const bool avx512bw = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  const bool avx2 = __builtin_cpu_supports("avx2");
#if defined(__clang__)
  // clang 14 does not know "avxvnni" in __builtin_cpu_supports: ask CPUID leaf 7.1 EAX bit 4.
  bool avxvnni = false;
  if (avx2) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
    avxvnni = (eax >> 4) & 1u;
  }
#else
  const bool avxvnni = avx2 && __builtin_cpu_supports("avxvnni");
#endif
  v.push_back({"avx512vnni_vpdpbusd_zmm", peak_vpdpbusd_zmm, 12 * 64, avx512vnni});
  v.push_back({"avxvnni_vpdpbusd_ymm", peak_vpdpbusd_ymm, 12 * 32, avxvnni});
  v.push_back({"avx512bw_vpmaddubsw_zmm", peak_vpmaddubsw_zmm, 8 * 64, avx512bw});
  v.push_back({"avx512bw_vpmaddubsw_i16_zmm", peak_vpmaddubsw_i16_zmm, 8 * 64, avx512bw});
  v.push_back({"avx2_vpmaddubsw_ymm", peak_vpmaddubsw_ymm, 8 * 32, avx2});
  v.push_back({"avx2_vpmaddubsw_i16_ymm", peak_vpmaddubsw_i16_ymm, 8 * 32, avx2});
#if defined(BITLIN_HAS_AMX_KERNEL)
  // bitlin's detection also asks the kernel for the tile state.
  v.push_back({"avx512amx_tdpbsud", peak_tdpbsud, 4 * 16 * 16 * 64,
               bitlin::isa_supported(bitlin::isa::avx512amx)});
#endif
#endif
  return v;
}

void peak_int8(benchmark::State& state, peak_fn fn, int macs_per_rep, int threads) {
  constexpr std::int64_t reps = 1 << 14;  // ~100 us per call: team hand-off is noise
  alignas(64) std::int8_t ab[128];
  for (int i = 0; i < 128; ++i) ab[i] = static_cast<std::int8_t>(i * 7 + 3);
  benchmark::DoNotOptimize(ab);
  std::vector<std::int32_t> out(static_cast<std::size_t>(threads) * 16);
  team& tm = shared_team(threads);
  const std::function<void(int)> body = [&](int t) {
    fn(ab, reps, out.data() + static_cast<std::size_t>(t) * 16);
  };
  tm.run(body);  // warm-up: wakes the team and lets the core reach its clock
  for (auto _ : state) {
    tm.run(body);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(reps) * macs_per_rep * threads;
  state.counters["GMACs"] =
      benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

namespace {

// The buffer of the read-bandwidth measurements, one per thread count, touched once by the
// threads that read it (so pages sit where they are read) and kept for later measurements.
struct read_buffer {
  static constexpr std::size_t bytes = std::size_t{512} << 20,
                               words = bytes / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[], aligned_free> buf;
};

read_buffer* read_buffer_for(int threads) {
  static std::map<int, read_buffer> buffers;
  read_buffer& rb = buffers[threads];
  if (!rb.buf) {
    rb.buf.reset(static_cast<std::uint64_t*>(std::aligned_alloc(64, read_buffer::bytes)));
    if (!rb.buf) return nullptr;
    std::uint64_t* p = rb.buf.get();
    shared_team(threads).run([&](int t) {
      const index b = split_begin(static_cast<index>(read_buffer::words), threads, t, 64);
      const index e = split_begin(static_cast<index>(read_buffer::words), threads, t + 1, 64);
      for (index i = b; i < e; ++i) p[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i);
    });
  }
  return &rb;
}

}  // namespace

double read_gbps_now(int threads, int passes) {
  read_buffer* rb = read_buffer_for(threads);
  if (!rb) return 0.0;
  team& tm = shared_team(threads);
  const sum_fn sum = best_sum();
  std::vector<std::uint64_t> partial(static_cast<std::size_t>(threads) * 8);
  double best = 0.0;
  for (int rep = 0; rep < passes; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    tm.run([&](int t) {
      const index b = split_begin(static_cast<index>(read_buffer::words), threads, t, 64);
      const index e = split_begin(static_cast<index>(read_buffer::words), threads, t + 1, 64);
      partial[static_cast<std::size_t>(t) * 8] =
          sum(rb->buf.get() + b, static_cast<std::size_t>(e - b));
    });
    benchmark::DoNotOptimize(partial.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(read_buffer::bytes) * 1e-9 / s);
  }
  return best;
}

double measured_read_gbps(int threads) {
  static std::map<int, double> cache;
  auto it = cache.find(threads);
  if (it != cache.end()) return it->second;
  const double best = read_gbps_now(threads, 5);
  cache[threads] = best;
  return best;
}

void register_machine_benchmarks() {
  // 512 MiB is the DRAM number the tables use; 16 MiB and 128 MiB show where the caches end.
  const std::size_t sizes[] = {std::size_t{16} << 20, std::size_t{128} << 20,
                               std::size_t{512} << 20};
  for (std::size_t bytes : sizes) {
    for (int t : bench_threads()) {
      const std::string name =
          "stream_read/" + std::to_string(bytes) + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [bytes, t](benchmark::State& s) { stream_read(s, bytes, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const peak_variant& pv : peak_variants()) {
    if (!pv.supported) continue;
    for (int t : bench_threads()) {
      const std::string name =
          std::string("peak_int8/") + pv.name + "/threads:" + std::to_string(t);
      const peak_fn fn = pv.fn;
      const int macs = pv.macs_per_rep;
      benchmark::RegisterBenchmark(
          name.c_str(), [fn, macs, t](benchmark::State& s) { peak_int8(s, fn, macs, t); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace bitlin_bench
