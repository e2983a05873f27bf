// How every op finds its kernel for the active ISA. A kernel family declares one overload per ISA
// it has code for, taking the arch tag (and, for products, the kernel layout):
//
//   kernel_entry<my_fn> my_kernel(arch::scalar);   // must exist: the fallback of every lineage
//   kernel_entry<my_fn> my_kernel(arch::avx2);     // also serves avx_vnni, avx512bw, ... callers
//
// isa_table() evaluates the overload set once for every row of the ISA table (config/cpu.hpp), so
// overload resolution picks the most derived tag that has a kernel, and records which path that
// is, so callers can report it (`bitnet_cli` prints one line of op=path). Rows this build does
// not compile resolve to the scalar kernel and are never selected (isa_supported is false).
#pragma once

#include <array>

#include "bitlin/config/cpu.hpp"

namespace bitlin {

template <class Fn>
struct kernel_entry {
  Fn fn = nullptr;
  isa path = isa::scalar;  // the ISA the kernel was written for (may be an ancestor of the row)
};

// The entry for a kernel written for Tag.
template <class Tag, class Fn>
constexpr kernel_entry<Fn> make_kernel_entry(Fn fn) {
  return {fn, isa_of<Tag>()};
}

// table[i] = lookup(tag of row i) for compiled rows, lookup(arch::scalar) otherwise.
template <class Fn, class Lookup>
std::array<kernel_entry<Fn>, isa_count> isa_table(Lookup lookup) {
  std::array<kernel_entry<Fn>, isa_count> table{};
  for_each_arch([&](auto tag, isa i) {
    using Tag = decltype(tag);
    if constexpr (Tag::compiled)
      table[static_cast<std::size_t>(i)] = lookup(tag);
    else
      table[static_cast<std::size_t>(i)] = lookup(arch::scalar{});
  });
  return table;
}

}  // namespace bitlin
