// Every kernel of the attention op: the portable one (Eigen; the fallback, also for head sizes an
// ISA kernel does not handle) and one per ISA that has its own; the overloads of
// kernels::attention_kernel(arch::X) are the table.
#pragma once

#include "bitlin/kernels/attention/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/attention/x86/avx2.hpp"
#include "bitlin/kernels/attention/x86/avx512bw.hpp"
#endif
