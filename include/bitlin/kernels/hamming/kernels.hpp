// Every Hamming-distance kernel (kernels/hamming/args.hpp): the scalar one (the fallback) and one
// per ISA with its own; hamming_kernel_of(isa) is the table, built like every kernel table.
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

}  // namespace detail
}  // namespace bitlin
