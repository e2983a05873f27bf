// Every kernel of the activation quantizer op: the portable one (the fallback) and one per ISA that
// has its own; the overloads of kernels::act_quant_kernel(arch::X) they declare are the table.
#pragma once

#include "bitlin/kernels/act_quant/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/act_quant/x86/avx2.hpp"
#include "bitlin/kernels/act_quant/x86/avx512bw.hpp"
#endif
