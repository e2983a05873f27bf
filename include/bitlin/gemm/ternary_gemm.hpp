// Umbrella for the fast ternary (W1.58 x A8) GEMV/GEMM: ISA names, detection and selection
// (config/cpu.hpp), executors (gemm/executor.hpp), weights packed for the kernels
// (gemm/kernel_weights.hpp, kernel layouts in kernels/layouts.hpp) and the entry points
// ternary_gemm / ternary_gemm_f32 (gemm/driver.hpp). Include this one header.
#pragma once

#include "bitlin/config/arch.hpp"
#include "bitlin/config/cpu.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/gemm/kernel_weights.hpp"
#include "bitlin/gemm/driver.hpp"
