// Which code path runs: the list of ISA paths, run-time detection, and the selection rule
// (BITLIN_ISA environment variable > set_active_isa() > best supported). One active ISA governs
// every op (ternary and binary products, dense head, attention, activation quantization); each
// op's kernel table is built from this list (kernels/dispatch.hpp). The rows of the table are the
// tags in config/arch.hpp; everything here is derived from BITLIN_FOR_EACH_ISA.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/weight_kind.hpp"

#if defined(BITLIN_ARCH_X86)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(BITLIN_ARCH_AARCH64) && defined(__linux__)
#include <sys/auxv.h>
#endif

// Every ISA path in preference order (later = faster where supported). Adding an ISA: its tag in
// config/arch.hpp, its name here, its kernel headers.
#define BITLIN_FOR_EACH_ISA(X) \
  X(scalar)                    \
  X(sse41)                     \
  X(avx2) X(avx_vnni) X(avx512bw) X(avx512vnni) X(avx512icl) X(avx512amx) X(neon) X(neon_dotprod)

namespace bitlin {

#define BITLIN_ISA_ENUMERATOR(n) n,
enum class isa : int { BITLIN_FOR_EACH_ISA(BITLIN_ISA_ENUMERATOR) };
#undef BITLIN_ISA_ENUMERATOR

namespace detail {
template <class First, class... Rest>
type_list<Rest...> drop_first(type_list<First, Rest...>);
template <class... Ts>
constexpr std::size_t list_size(type_list<Ts...>) {
  return sizeof...(Ts);
}
}  // namespace detail

#define BITLIN_ISA_TAG(n) , arch::n
// The arch tags in the order of the enum.
using all_archs =
    decltype(detail::drop_first(type_list<void BITLIN_FOR_EACH_ISA(BITLIN_ISA_TAG)>{}));
#undef BITLIN_ISA_TAG

inline constexpr std::size_t isa_count = detail::list_size(all_archs{});

#define BITLIN_ISA_VALUE(n) isa::n,
inline constexpr isa all_isas[] = {BITLIN_FOR_EACH_ISA(BITLIN_ISA_VALUE)};
#undef BITLIN_ISA_VALUE

namespace detail {
// f(Tag{}, isa) for every row, in order.
template <class F, class... Tags>
constexpr void for_each_arch_impl(F&& f, type_list<Tags...>) {
  std::size_t i = 0;
  (f(Tags{}, static_cast<isa>(i++)), ...);
}
}  // namespace detail

template <class F>
constexpr void for_each_arch(F&& f) {
  detail::for_each_arch_impl(std::forward<F>(f), all_archs{});
}

// The tag of each runtime path.
template <isa I>
struct arch_of {
  template <std::size_t N, class T, class... Ts>
  static auto pick(type_list<T, Ts...>) {
    if constexpr (N == 0)
      return T{};
    else
      return pick<N - 1>(type_list<Ts...>{});
  }
  using type = decltype(pick<static_cast<std::size_t>(I)>(all_archs{}));
};

// The enum value of a tag.
template <class Tag>
constexpr isa isa_of() {
  int found = -1;
  for_each_arch([&](auto tag, isa i) {
    if (std::is_same_v<decltype(tag), Tag>) found = static_cast<int>(i);
  });
  return static_cast<isa>(found);
}

inline const char* isa_name(isa i) {
  const char* out = "unknown";
  for_each_arch([&](auto tag, isa j) {
    if (i == j) out = decltype(tag)::name;
  });
  return out;
}

inline isa parse_isa(const std::string& name) {
  std::string known;
  for (isa i : all_isas) {
    if (name == isa_name(i)) return i;
    known += known.empty() ? "" : ", ";
    known += isa_name(i);
  }
  throw value_error(detail::concat("unknown ISA name '", name, "' (expected one of ", known, ")"));
}

// Whether this compiler/target builds the kernels of a path at all.
constexpr bool isa_compiled(isa i) {
  bool out = false;
  for_each_arch([&](auto tag, isa j) {
    if (i == j) out = decltype(tag)::compiled;
  });
  return out;
}

// The best path the compiler flags alone guarantee (e.g. -march=native on a Sapphire Rapids CPU
// gives avx512icl; never avx512amx, which needs the kernel's grant of the tile state as well).
// Informational: run-time support is always decided by detection. `static` so
// that translation units built with different flags each keep their own answer (no ODR conflict).
static constexpr isa compile_time_isa() {
#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512BITALG__) && defined(__AVX512VNNI__) && \
    defined(__AVX512BW__) && defined(__AVX512VL__)
  return isa::avx512icl;
#elif defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  return isa::avx512vnni;
#elif defined(__AVX512BW__) && defined(__AVX512VL__)
  return isa::avx512bw;
#elif defined(__AVXVNNI__)
  return isa::avx_vnni;
#elif defined(__AVX2__) && defined(__FMA__)
  return isa::avx2;
#elif defined(__SSE4_1__) && defined(__SSSE3__)
  return isa::sse41;
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
  return isa::neon_dotprod;
#elif defined(__aarch64__)
  return isa::neon;
#else
  return isa::scalar;
#endif
}

namespace detail {

inline cpu_info read_cpu_info() {
  cpu_info c;
#if defined(BITLIN_ARCH_X86)
  unsigned a = 0, b = 0, cx = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &cx, &d)) return c;
  const unsigned max_leaf = a;
  c.amd = b == 0x68747541u && d == 0x69746e65u && cx == 0x444d4163u;  // "Auth" "enti" "cAMD"
  __get_cpuid(1, &a, &b, &cx, &d);
  c.leaf1_ecx = cx;
  if (cx & (1u << 27)) {  // OSXSAVE: xgetbv is available
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    c.xcr0 = (std::uint64_t{hi} << 32) | lo;
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, cx, d);
    c.leaf7_ebx = b;
    c.leaf7_ecx = cx;
    c.leaf7_edx = d;
    if (a >= 1) {
      __cpuid_count(7, 1, a, b, cx, d);
      c.leaf7_1_eax = a;
    }
  }
#if defined(__linux__)
  // AMX-TILE and AMX-INT8 with XTILECFG/XTILEDATA in XCR0: ask for the tile data state
  // (ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18). Granted once, for the whole process;
  // a kernel without the call (before 5.16) refuses and the AMX path is simply not detected.
  if (((c.leaf7_edx >> 24) & 3u) == 3u && (c.xcr0 & 0x60000) == 0x60000)
    c.amx_permitted = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#endif
#elif defined(BITLIN_ARCH_AARCH64) && defined(__linux__)
  c.hwcap = getauxval(AT_HWCAP);
#endif
  return c;
}

// -1: no override; otherwise the isa set by set_active_isa().
inline std::atomic<int>& active_isa_override() {
  static std::atomic<int> value{-1};
  return value;
}

}  // namespace detail

inline const cpu_info& host_cpu_info() {
  static const cpu_info c = detail::read_cpu_info();
  return c;
}

// What the CPU and operating system support, by the table's detection rules (independent of
// whether this build compiles the path).
inline bool isa_detected(isa i) {
  bool out = false;
  for_each_arch([&](auto tag, isa j) {
    if (i == j) out = decltype(tag)::detected(host_cpu_info());
  });
  return out;
}

// Compiled in and runnable on this CPU.
inline bool isa_supported(isa i) {
  return isa_compiled(i) && isa_detected(i);
}

// Scalar first, best last.
inline std::vector<isa> supported_isas() {
  std::vector<isa> out;
  for (isa i : all_isas)
    if (isa_supported(i)) out.push_back(i);
  return out;
}

inline isa best_isa() {
  static const isa best = supported_isas().back();
  return best;
}

inline void set_active_isa(isa i) {
  BITLIN_REQUIRE(isa_supported(i), value_error, "set_active_isa: ISA '", isa_name(i),
                 "' is not supported by this build or CPU");
  detail::active_isa_override().store(static_cast<int>(i), std::memory_order_relaxed);
}

// Drops a set_active_isa() override (tests and benchmarks restore the default with it).
inline void reset_active_isa() {
  detail::active_isa_override().store(-1);
}

// BITLIN_ISA (if set and non-empty) > set_active_isa() > best_isa(). The variable is read on each
// call so that a test can change it; an unknown or unsupported name is a value_error.
inline isa active_isa() {
  if (const char* env = std::getenv("BITLIN_ISA"); env && *env) {
    const isa i = parse_isa(env);
    BITLIN_REQUIRE(isa_supported(i), value_error, "BITLIN_ISA=", env,
                   " names an ISA this build or CPU does not support");
    return i;
  }
  const int o = detail::active_isa_override().load(std::memory_order_relaxed);
  if (o >= 0) return static_cast<isa>(o);
  return best_isa();
}

}  // namespace bitlin
