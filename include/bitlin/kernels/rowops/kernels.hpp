// Every kernel of the float row ops (RMSNorm's sum of squares and scaling, relu^2 * up): the
// portable ones (the definition, and the fallback) and one per ISA that has its own; the overloads
// of kernels::sum_squares_kernel / rms_scale_kernel / relu2_mul_kernel(arch::X) are the tables.
#pragma once

#include "bitlin/kernels/rowops/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/rowops/x86/avx2.hpp"
#include "bitlin/kernels/rowops/x86/avx512bw.hpp"
#endif
#if defined(BITLIN_ARCH_AARCH64)
#include "bitlin/kernels/rowops/arm/neon.hpp"
#endif
