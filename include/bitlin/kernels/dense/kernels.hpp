// Every kernel of the dense ops (F32 / BF16 weights x float activations, and the int8 head's row
// products): the portable ones (the fallback) and one per ISA that has its own; the overloads of
// kernels::dense_f32_kernel, dense_bf16_kernel and int8_rows_kernel(arch::X) are the tables.
#pragma once

#include "bitlin/kernels/dense/scalar.hpp"
#if defined(BITLIN_ARCH_X86)
#include "bitlin/kernels/dense/x86/avx2.hpp"
#include "bitlin/kernels/dense/x86/avx512bw.hpp"
#include "bitlin/kernels/dense/x86/avx512vnni.hpp"
#endif
