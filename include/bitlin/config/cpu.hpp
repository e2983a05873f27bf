// Which code path runs: the runtime names of the ISA paths, CPU detection, and the selection rule
// (BITLIN_ISA environment variable > set_active_isa() > best supported). Detection checks both the
// CPU (cpuid / AArch64 HWCAP) and the operating system (XCR0 must enable the AVX / AVX-512 register
// state), because a CPU flag without OS support still faults. Everything is header-only; the
// detected features are computed once per process.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#define BITLIN_ARCH_X86 1
#include <cpuid.h>
#elif defined(__aarch64__)
#define BITLIN_ARCH_AARCH64 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

// Kernels that need compiler support beyond the baseline: the AVX-VNNI intrinsics under a
// function-level target (GCC 11, clang 12), and the dot-product intrinsics under a function-level
// target on AArch64 (GCC; clang only from 16, or when -march already enables dotprod).
#if defined(BITLIN_ARCH_X86) && defined(__x86_64__) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 11))
#define BITLIN_HAS_AVX_VNNI_KERNEL 1
#endif
#if defined(BITLIN_ARCH_AARCH64) &&    \
    (defined(__ARM_FEATURE_DOTPROD) || \
     (defined(__clang__) ? __clang_major__ >= 16 : defined(__GNUC__)))
#define BITLIN_HAS_NEON_DOTPROD_KERNEL 1
#endif

namespace bitlin {

enum class isa { scalar, sse41, avx2, avx_vnni, avx512bw, avx512vnni, neon, neon_dotprod };

// Every path in preference order (later = faster where supported).
inline constexpr isa all_isas[] = {isa::scalar,   isa::sse41,      isa::avx2, isa::avx_vnni,
                                   isa::avx512bw, isa::avx512vnni, isa::neon, isa::neon_dotprod};

inline const char* isa_name(isa i) {
  switch (i) {
    case isa::scalar:
      return "scalar";
    case isa::sse41:
      return "sse41";
    case isa::avx2:
      return "avx2";
    case isa::avx_vnni:
      return "avx_vnni";
    case isa::avx512bw:
      return "avx512bw";
    case isa::avx512vnni:
      return "avx512vnni";
    case isa::neon:
      return "neon";
    case isa::neon_dotprod:
      return "neon_dotprod";
  }
  return "unknown";
}

inline isa parse_isa(const std::string& name) {
  for (isa i : all_isas)
    if (name == isa_name(i)) return i;
  throw value_error(detail::concat("unknown ISA name '", name,
                                   "' (expected one of scalar, sse41, avx2, avx_vnni, avx512bw, "
                                   "avx512vnni, neon, neon_dotprod)"));
}

// The arch tag of each runtime path (config/arch.hpp).
template <isa I>
struct arch_of;
template <>
struct arch_of<isa::scalar> {
  using type = arch::scalar;
};
template <>
struct arch_of<isa::sse41> {
  using type = arch::sse41;
};
template <>
struct arch_of<isa::avx2> {
  using type = arch::avx2;
};
template <>
struct arch_of<isa::avx_vnni> {
  using type = arch::avx_vnni;
};
template <>
struct arch_of<isa::avx512bw> {
  using type = arch::avx512bw;
};
template <>
struct arch_of<isa::avx512vnni> {
  using type = arch::avx512vnni;
};
template <>
struct arch_of<isa::neon> {
  using type = arch::neon;
};
template <>
struct arch_of<isa::neon_dotprod> {
  using type = arch::neon_dotprod;
};

// The best path the compiler flags alone guarantee (e.g. -march=native on this machine gives
// avx512vnni): code built for such a target needs no detection to use it.
constexpr isa compile_time_isa() {
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  return isa::avx512vnni;
#elif defined(__AVX512BW__) && defined(__AVX512VL__)
  return isa::avx512bw;
#elif defined(__AVXVNNI__)
  return isa::avx_vnni;
#elif defined(__AVX2__)
  return isa::avx2;
#elif defined(__SSE4_1__)
  return isa::sse41;
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
  return isa::neon_dotprod;
#elif defined(__aarch64__)
  return isa::neon;
#else
  return isa::scalar;
#endif
}
using native_arch = arch_of<compile_time_isa()>::type;

struct cpu_features {
  bool sse41 = false, avx2 = false, avx_vnni = false, avx512bw = false, avx512vnni = false;
  bool neon = false, neon_dotprod = false;
};

namespace detail {

#if defined(BITLIN_ARCH_X86)
inline std::uint64_t read_xcr0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t{hi} << 32) | lo;
}
#endif

inline cpu_features detect_cpu_features() {
  cpu_features f;
#if defined(BITLIN_ARCH_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  __get_cpuid(1, &a, &b, &c, &d);
  const unsigned ecx1 = c;
  const bool ssse3 = ecx1 & (1u << 9), sse41 = ecx1 & (1u << 19);
  const bool osxsave = ecx1 & (1u << 27), avx = ecx1 & (1u << 28);
  const std::uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // XMM + YMM state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  unsigned ebx7 = 0, ecx7 = 0, eax71 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    ebx7 = b;
    ecx7 = c;
    const unsigned max_sub = a;
    if (max_sub >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      eax71 = a;
    }
  }
  f.sse41 = ssse3 && sse41;
  f.avx2 = f.sse41 && avx && os_ymm && (ebx7 & (1u << 5));
  f.avx_vnni = f.avx2 && (eax71 & (1u << 4));
  const bool avx512f = ebx7 & (1u << 16), avx512bw = ebx7 & (1u << 30),
             avx512vl = ebx7 & (1u << 31);
  f.avx512bw = f.avx2 && os_zmm && avx512f && avx512bw && avx512vl;
  f.avx512vnni = f.avx512bw && (ecx7 & (1u << 11));
#elif defined(BITLIN_ARCH_AARCH64)
  f.neon = true;                                      // Advanced SIMD is mandatory on AArch64
#if defined(__linux__)
  constexpr unsigned long hwcap_asimddp = 1ul << 20;  // HWCAP_ASIMDDP
  f.neon_dotprod = (getauxval(AT_HWCAP) & hwcap_asimddp) != 0;
#endif
#if defined(__ARM_FEATURE_DOTPROD)
  f.neon_dotprod = true;
#endif
#endif
  return f;
}

// Whether this compiler/target builds the kernel of a path at all.
constexpr bool isa_compiled(isa i) {
  switch (i) {
    case isa::scalar:
      return true;
#if defined(BITLIN_ARCH_X86) && defined(__x86_64__)
    case isa::sse41:
    case isa::avx2:
    case isa::avx512bw:
    case isa::avx512vnni:
      return true;
#endif
#if defined(BITLIN_HAS_AVX_VNNI_KERNEL)
    case isa::avx_vnni:
      return true;
#endif
#if defined(BITLIN_ARCH_AARCH64)
    case isa::neon:
      return true;
#endif
#if defined(BITLIN_HAS_NEON_DOTPROD_KERNEL)
    case isa::neon_dotprod:
      return true;
#endif
    default:
      return false;
  }
}

// -1: no override; otherwise the isa set by set_active_isa().
inline std::atomic<int>& active_isa_override() {
  static std::atomic<int> value{-1};
  return value;
}

}  // namespace detail

inline const cpu_features& host_cpu_features() {
  static const cpu_features f = detail::detect_cpu_features();
  return f;
}

// Whether the compiler flags alone guarantee the ISA (the program cannot run on a CPU without it),
// so that no detection is needed: compile-time selection.
constexpr bool isa_implied_by_flags(isa i) {
  switch (i) {
    case isa::scalar:
      return true;
    case isa::sse41:
#if defined(__SSSE3__) && defined(__SSE4_1__)
      return true;
#else
      return false;
#endif
    case isa::avx2:
#if defined(__AVX2__)
      return true;
#else
      return false;
#endif
    case isa::avx_vnni:
#if defined(__AVXVNNI__)
      return true;
#else
      return false;
#endif
    case isa::avx512bw:
#if defined(__AVX512BW__) && defined(__AVX512VL__)
      return true;
#else
      return false;
#endif
    case isa::avx512vnni:
#if defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)
      return true;
#else
      return false;
#endif
    case isa::neon:
#if defined(__aarch64__)
      return true;
#else
      return false;
#endif
    case isa::neon_dotprod:
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
      return true;
#else
      return false;
#endif
  }
  return false;
}

// Compiled in and runnable on this CPU.
inline bool isa_supported(isa i) {
  if (!detail::isa_compiled(i)) return false;
  if (isa_implied_by_flags(i)) return true;
  const cpu_features& f = host_cpu_features();
  switch (i) {
    case isa::scalar:
      return true;
    case isa::sse41:
      return f.sse41;
    case isa::avx2:
      return f.avx2;
    case isa::avx_vnni:
      return f.avx_vnni;
    case isa::avx512bw:
      return f.avx512bw;
    case isa::avx512vnni:
      return f.avx512vnni;
    case isa::neon:
      return f.neon;
    case isa::neon_dotprod:
      return f.neon_dotprod;
  }
  return false;
}

// Scalar first, best last.
inline std::vector<isa> supported_isas() {
  std::vector<isa> out;
  for (isa i : all_isas)
    if (isa_supported(i)) out.push_back(i);
  return out;
}

inline isa best_isa() {
  return supported_isas().back();
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
