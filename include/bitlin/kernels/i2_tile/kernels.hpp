// Every kernel of the i2 tile layout: the scalar one (the fallback) and one per ISA that has its
// own; the overloads of kernels::gemm_kernel(arch::X, i2_tile) they declare are the table.
#pragma once

#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/i2_tile/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/i2_tile/x86/sse41.hpp"
#include "bitlin/kernels/i2_tile/x86/avx2.hpp"
#include "bitlin/kernels/i2_tile/x86/avx_vnni.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512bw.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512vnni.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512amx.hpp"
#endif
#if defined(BITLIN_ARCH_AARCH64)
#include "bitlin/kernels/i2_tile/arm/neon.hpp"
#include "bitlin/kernels/i2_tile/arm/neon_dotprod.hpp"
#endif
