// BitNet's feed-forward gate: act = relu(gate)^2 * up, on the output of the fused gate/up
// projection ([tokens, 2F] = [gate | up] -> [tokens, F]), on the row-op kernel of the active ISA
// (kernels/rowops/ defines the arithmetic: the same bits on every path), rows split over the
// executor's threads.
#pragma once

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/executor.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/rowops/kernels.hpp"

namespace bitlin {

namespace detail {
BITLIN_KERNEL_TABLE(relu2_mul_kernel_of, relu2_mul_fn, kernels::relu2_mul_kernel(tag))
}  // namespace detail

inline void relu2_gate(const Eigen::Ref<const matrix_f>& gate_up, Eigen::Ref<matrix_f> act,
                       const executor& ex = serial()) {
  const index_t f = act.cols();
  BITLIN_REQUIRE(gate_up.rows() == act.rows() && gate_up.cols() == 2 * f, shape_error,
                 "relu2_gate: gate/up is ", gate_up.rows(), " x ", gate_up.cols(), ", the output ",
                 act.rows(), " x ", f, " (expected ", act.rows(), " x ", 2 * f, " in)");
  const relu2_mul_fn fn = detail::relu2_mul_kernel_of(active_isa()).fn;
  ex.parallel_for(act.rows(), 8, [&](index_t t0, index_t t1) {
    for (index_t t = t0; t < t1; ++t) {
      const float* g = gate_up.data() + t * gate_up.outerStride();
      fn(g, g + f, f, act.data() + t * act.outerStride());
    }
  });
}

}  // namespace bitlin
