// Architectures as types. xsimd supplies the tags up to AVX-512BW and NEON64, inheriting along the
// ISA lineage; it has no tag for the int8 dot-product extensions our kernels are built on, so we
// add them here, each deriving from the ISA it extends. An overload written for `xsimd::avx2`
// therefore also serves an `avx_vnni` caller when nothing more specific exists, and the runtime
// `isa` enum (config/cpu.hpp) maps one to one onto these tags.
#pragma once

#include <cstddef>  // xsimd's register headers use std::size_t without including it

#include <xsimd/types/xsimd_all_registers.hpp>

namespace bitlin {
namespace arch {

// Portable C++; the root of every lineage.
using scalar = xsimd::generic;
using sse41 = xsimd::sse4_1;
using avx2 = xsimd::avx2;
using avx512bw = xsimd::avx512bw;
using neon = xsimd::neon64;

// AVX-VNNI: the VEX-encoded vpdpbusd on 256-bit registers (Alder Lake, Zen 5).
struct avx_vnni : xsimd::avx2 {
  static constexpr char const* name() noexcept { return "avx_vnni"; }
};

// AVX-512 VNNI: vpdpbusd on 512-bit registers, on top of AVX-512 F/BW/VL.
struct avx512vnni : xsimd::avx512bw {
  static constexpr char const* name() noexcept { return "avx512vnni"; }
};

// Armv8.2 dot product (sdot/udot), on top of AArch64 NEON.
struct neon_dotprod : xsimd::neon64 {
  static constexpr char const* name() noexcept { return "neon_dotprod"; }
};

}  // namespace arch
}  // namespace bitlin
