// Causal attention of one head (kernels/attention/): the ISA-free entry the model calls, on the
// kernel of the active ISA or of an explicit one. A head size the ISA's kernel does not handle runs
// on the portable kernel; attention_kernel_path says which kernel a head size gets.
#pragma once

#include <cstddef>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/kernels/attention/kernels.hpp"
#include "bitlin/kernels/dispatch.hpp"

namespace bitlin {

namespace detail {
BITLIN_KERNEL_TABLE(attention_kernel_of, attention_fn, kernels::attention_kernel(tag))
}  // namespace detail

// The ISA whose kernel attend_head runs for path i and this head size.
inline isa attention_kernel_path(isa i, index_t head_dim) {
  const auto& e = detail::attention_kernel_of(i);
  return e.fn->handles(head_dim) ? e.path : isa::scalar;
}

// o rows [0, tokens) = softmax(q k^T * scale) v over the keys each query may see (see
// attention_args); nothing outside those rows' head_dim columns is written.
inline void attend_head(const attention_args& a, isa path = active_isa()) {
  const attention_ops* ops = detail::attention_kernel_of(path).fn;
  if (!ops->handles(a.head_dim)) ops = detail::attention_kernel_of(isa::scalar).fn;
  ops->run(a);
}

}  // namespace bitlin
