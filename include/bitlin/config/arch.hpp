// The ISA table. Each instruction set bitlin has kernels for is one tag type here, and the tag is
// its row: the name used by BITLIN_ISA and the CLI, the ISA it extends (its base class, so that
// overload resolution falls back along the lineage when a kernel for it is missing), whether this
// compiler builds its kernels, which compiler flags imply it (for documentation and for
// compile_time_isa()), and how to detect it at run time from the raw CPU identification. The
// enum `isa`, names, parsing, supported_isas() and every kernel table are derived from
// BITLIN_FOR_EACH_ISA (config/cpu.hpp) and these tags; adding an ISA is a tag here, an entry
// there, and its kernel header(s).
//
// xsimd: each tag names its xsimd counterpart (`xsimd_arch`), so code written with xsimd maps onto
// bitlin's paths. That vocabulary is all xsimd serves here, plainly: xsimd::batch cannot be used
// inside the target-attributed functions that header-only run-time dispatch needs (xsimd's own
// dispatch wants one translation unit per ISA), and it has no widening multiply-add (maddubs,
// vpdpbusd), no int8 dot products and no popcount, which is what every hot loop of bitlin is.
//
// Nothing here depends on -m flags: a tag's definition is the same in every translation unit, so
// two objects compiled with different flags cannot disagree about what the CPU supports (the
// decision is always made from cpuid / HWCAP at run time).
#pragma once

#include <cstddef>  // xsimd's register headers use std::size_t without including it
#include <cstdint>

#include <xsimd/types/xsimd_all_registers.hpp>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BITLIN_ARCH_X86 1
#elif defined(__aarch64__)
#define BITLIN_ARCH_AARCH64 1
#endif

// Kernels that need compiler support beyond the baseline: the AVX-VNNI intrinsics under a
// function-level target (GCC 11, clang 12), and the dot-product intrinsics under a function-level
// target on AArch64 (GCC; clang only from 16, or when -march already enables dotprod).
#if defined(BITLIN_ARCH_X86) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 11))
#define BITLIN_HAS_AVX_VNNI_KERNEL 1
#endif
// AMX-INT8 tile intrinsics under a function-level target (GCC 11, clang 12) and the Linux
// permission request for the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16).
#if defined(BITLIN_ARCH_X86) && defined(__linux__) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 11))
#define BITLIN_HAS_AMX_KERNEL 1
#endif
#if defined(BITLIN_ARCH_AARCH64) &&    \
    (defined(__ARM_FEATURE_DOTPROD) || \
     (defined(__clang__) ? __clang_major__ >= 16 : defined(__GNUC__)))
#define BITLIN_HAS_NEON_DOTPROD_KERNEL 1
#endif

namespace bitlin {

// What the CPU reports, unprocessed: each tag reads the bits it needs.
struct cpu_info {
  // x86: cpuid leaf 1 (ecx), leaf 7 subleaf 0 (ebx, ecx, edx), leaf 7 subleaf 1 (eax), and XCR0
  // (the register state the operating system saves: a CPU flag without it still faults).
  std::uint32_t leaf1_ecx = 0, leaf7_ebx = 0, leaf7_ecx = 0, leaf7_edx = 0, leaf7_1_eax = 0;
  std::uint64_t xcr0 = 0;
  // x86 Linux: the kernel granted this process the AMX tile data state (it is enabled per process
  // on request, so XCR0 alone does not make the tile instructions usable).
  bool amx_permitted = false;
  // x86: the vendor string of cpuid leaf 0 is "AuthenticAMD" (a tuning hint for kernels whose best
  // memory access pattern differs between vendors; never a reason to pick an ISA).
  bool amd = false;
  // AArch64: getauxval(AT_HWCAP).
  unsigned long hwcap = 0;
};

namespace arch {

namespace detail {
constexpr bool bit(std::uint64_t word, int b) {
  return ((word >> b) & 1u) != 0;
}
}  // namespace detail

// Portable C++; the root of every lineage.
struct scalar {
  static constexpr const char* name = "scalar";
  static constexpr const char* flags = "";
  static constexpr bool compiled = true;
  static bool detected(const cpu_info&) { return true; }
  using xsimd_arch = xsimd::generic;
};

// SSSE3 + SSE4.1 (pmaddubsw, pshufb, pmovsx).
struct sse41 : scalar {
  static constexpr const char* name = "sse41";
  static constexpr const char* flags = "-mssse3 -msse4.1";
#if defined(BITLIN_ARCH_X86)
  static constexpr bool compiled = true;
#else
  static constexpr bool compiled = false;
#endif
  static bool detected(const cpu_info& c) {
    return detail::bit(c.leaf1_ecx, 9) && detail::bit(c.leaf1_ecx, 19);
  }
  using xsimd_arch = xsimd::sse4_1;
};

// AVX2 + FMA on 256-bit registers, with the OS saving the YMM state.
struct avx2 : sse41 {
  static constexpr const char* name = "avx2";
  static constexpr const char* flags = "-mavx2 -mfma";
  static bool detected(const cpu_info& c) {
    const bool os_ymm = detail::bit(c.leaf1_ecx, 27) && (c.xcr0 & 0x6) == 0x6;
    return sse41::detected(c) && os_ymm && detail::bit(c.leaf1_ecx, 28) &&
           detail::bit(c.leaf1_ecx, 12) && detail::bit(c.leaf7_ebx, 5);
  }
  using xsimd_arch = xsimd::avx2;
};

// AVX-VNNI: the VEX-encoded vpdpbusd on 256-bit registers (Alder Lake, Zen 5).
struct avx_vnni : avx2 {
  static constexpr const char* name = "avx_vnni";
  static constexpr const char* flags = "-mavx2 -mfma -mavxvnni";
#if defined(BITLIN_HAS_AVX_VNNI_KERNEL)
  static constexpr bool compiled = true;
#else
  static constexpr bool compiled = false;
#endif
  static bool detected(const cpu_info& c) {
    return avx2::detected(c) && detail::bit(c.leaf7_1_eax, 4);
  }
};

// AVX-512 F/BW/VL, with the OS saving the opmask and ZMM state.
struct avx512bw : avx2 {
  static constexpr const char* name = "avx512bw";
  static constexpr const char* flags = "-mavx512f -mavx512bw -mavx512vl";
  static bool detected(const cpu_info& c) {
    const bool os_zmm = (c.xcr0 & 0xE6) == 0xE6;
    return avx2::detected(c) && os_zmm && detail::bit(c.leaf7_ebx, 16) &&
           detail::bit(c.leaf7_ebx, 30) && detail::bit(c.leaf7_ebx, 31);
  }
  using xsimd_arch = xsimd::avx512bw;
};

// AVX-512 VNNI: vpdpbusd on 512-bit registers, on top of AVX-512 F/BW/VL.
struct avx512vnni : avx512bw {
  static constexpr const char* name = "avx512vnni";
  static constexpr const char* flags = "-mavx512f -mavx512bw -mavx512vl -mavx512vnni";
  static bool detected(const cpu_info& c) {
    return avx512bw::detected(c) && detail::bit(c.leaf7_ecx, 11);
  }
};

// AVX-512 VPOPCNTDQ + BITALG (Ice Lake and later, Zen 4 and later) on top of AVX-512 VNNI:
// vpopcntq/vpopcntb count bits in one instruction. Only the popcount kernels (Hamming, XNOR) have
// their own kernel here; every other op runs its avx512vnni kernel through the lineage.
struct avx512icl : avx512vnni {
  static constexpr const char* name = "avx512icl";
  static constexpr const char* flags =
      "-mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vpopcntdq -mavx512bitalg";
  static bool detected(const cpu_info& c) {
    return avx512vnni::detected(c) && detail::bit(c.leaf7_ecx, 14) && detail::bit(c.leaf7_ecx, 12);
  }
};

// AMX-INT8 (Sapphire Rapids and later Xeons) on top of the AVX-512 ICL set: tdpbsud multiplies
// a 16 x 64 tile of int8 activations by a 16 x 64 tile of unsigned weight codes into 16 x 16 int32
// sums, 16384 multiply-adds per instruction. Only the ternary GEMM of many tokens has its own
// kernel (one token, and the token remainder below a tile, run avx512vnni's).
struct avx512amx : avx512icl {
  static constexpr const char* name = "avx512amx";
  static constexpr const char* flags =
      "-mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vpopcntdq -mavx512bitalg -mamx-tile "
      "-mamx-int8";
#if defined(BITLIN_HAS_AMX_KERNEL)
  static constexpr bool compiled = true;
#else
  static constexpr bool compiled = false;
#endif
  static bool detected(const cpu_info& c) {
    const bool os_tiles = (c.xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
    return avx512icl::detected(c) && detail::bit(c.leaf7_edx, 24) && detail::bit(c.leaf7_edx, 25) &&
           os_tiles && c.amx_permitted;
  }
};

// AArch64 Advanced SIMD (mandatory on AArch64).
struct neon : scalar {
  static constexpr const char* name = "neon";
  static constexpr const char* flags = "(AArch64)";
#if defined(BITLIN_ARCH_AARCH64)
  static constexpr bool compiled = true;
#else
  static constexpr bool compiled = false;
#endif
  static bool detected(const cpu_info&) {
    return compiled;
  }
  using xsimd_arch = xsimd::neon64;
};

// Armv8.2 dot product (sdot/udot), on top of AArch64 NEON.
struct neon_dotprod : neon {
  static constexpr const char* name = "neon_dotprod";
  static constexpr const char* flags = "-march=armv8.2-a+dotprod";
#if defined(BITLIN_HAS_NEON_DOTPROD_KERNEL)
  static constexpr bool compiled = true;
#else
  static constexpr bool compiled = false;
#endif
  static bool detected(const cpu_info& c) {
    return neon::detected(c) && detail::bit(c.hwcap, 20);  // HWCAP_ASIMDDP
  }
};

}  // namespace arch
}  // namespace bitlin
