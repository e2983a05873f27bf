// The lookup-table GEMM kernels (recipe.hpp): an optional second kernel per (ISA, layout) that the
// GEMM driver runs instead of the layout's tile kernel when a product has at least
// lut_min_tokens() tokens. `lut_gemm_kernel(arch::X, Layout)` is the table as for gemm_kernel;
// an entry with a null fn means "none here" (the scalar overload, so every other layout and ISA).
#pragma once

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/kernel_args.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/lut_gemm/recipe.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/lut_gemm/x86/sse41.hpp"
#include "bitlin/kernels/lut_gemm/x86/avx2.hpp"
#include "bitlin/kernels/lut_gemm/x86/avx512bw.hpp"
#elif defined(BITLIN_ARCH_AARCH64)
#include "bitlin/kernels/lut_gemm/arm/neon.hpp"
#endif

namespace bitlin {
namespace kernels {

template <class Layout>
kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::scalar, Layout) {
  return {};
}

#if defined(BITLIN_ARCH_X86)
// Where vpdpbusd multiplies the i2 tile as stored, its tile kernel is the faster one (Zen 4, one
// thread, 2560 x 2560, 128 tokens: 186-188 G MAC/s against 163-175 for the AVX-512 table kernel,
// and 2560 x 6912: 190 against 173); the base3 tile's VNNI kernel pays its decode and loses
// (176-179 against 202-210), so base3 keeps the table there. avx_vnni has the same split: on a
// Xeon (one thread, 2560 x 6912, 128 tokens) its i2 tile kernel ran at 130 G MAC/s against 120 for
// the AVX2 table kernel it would otherwise inherit.
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx_vnni, i2_tile) {
  return {};
}
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx512vnni, i2_tile) {
  return {};
}
// AMX multiplies 16384 codes per instruction, decoded base3 panels included: no table kernel.
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::avx512amx, base3_tile) {
  return {};
}
#elif defined(BITLIN_ARCH_AARCH64)
// The same split on AArch64, by the same count and not measured (no Arm hardware here): sdot does
// 16 multiply-adds per instruction on the i2 tile as stored, half of a table lookup's 32, as
// vpdpbusd does against the 512-bit lookup where the two measured even; base3's sdot kernel pays
// its decode, so base3 keeps the table.
inline kernel_entry<detail::kernel_fn> lut_gemm_kernel(arch::neon_dotprod, i2_tile) {
  return {};
}
#endif

}  // namespace kernels
}  // namespace bitlin
