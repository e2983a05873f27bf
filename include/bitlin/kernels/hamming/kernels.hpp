// Every Hamming-distance kernel (kernels/hamming/args.hpp): the scalar one (the fallback) and one
// per ISA with its own; hamming_kernel_of(isa) is the table, built like every kernel table, and
// first_below_kernel_of(isa) the top-k scan's filter; hamming_tile_pack_kernel_of and
// hamming_tiles_kernel_of fill and scan Hamming tiles (kernels/hamming/args.hpp).
#pragma once

#include "bitlin/config/cpu.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"
#include "bitlin/kernels/hamming/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/hamming/x86/avx2.hpp"
#include "bitlin/kernels/hamming/x86/avx512bw.hpp"
#include "bitlin/kernels/hamming/x86/avx512icl.hpp"
#include "bitlin/kernels/hamming/x86/sse41.hpp"
#endif
#if defined(BITLIN_ARCH_AARCH64)
#include "bitlin/kernels/hamming/arm/neon.hpp"
#include "bitlin/kernels/hamming/arm/neon_dotprod.hpp"
#endif

namespace bitlin {
namespace detail {

BITLIN_KERNEL_TABLE(hamming_kernel_of, hamming_fn, kernels::hamming_kernel(tag))
BITLIN_KERNEL_TABLE(first_below_kernel_of, first_below_fn, kernels::first_below_kernel(tag))
BITLIN_KERNEL_TABLE(hamming_tile_pack_kernel_of, hamming_tile_pack_fn,
                    kernels::hamming_tile_pack_kernel(tag))
BITLIN_KERNEL_TABLE(hamming_tiles_kernel_of, hamming_tiles_fn, kernels::hamming_tiles_kernel(tag))

}  // namespace detail
}  // namespace bitlin
