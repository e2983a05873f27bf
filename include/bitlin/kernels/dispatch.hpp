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
//
// Kernel tables compiled once (optional). Header-only use instantiates a table, and so compiles
// that op's kernels for every ISA, in each translation unit that uses the op: a program that
// includes the model in many files compiles the kernels many times (about 40 % of such a file's
// compile time with g++ -O3). Defining BITLIN_PREBUILT_KERNELS in every translation unit of a
// program (the CMake target bitlin::kernels does both) turns each table function into a
// declaration; their one definition is the bitlin_kernels library (src/kernel_tables.cpp, which
// defines BITLIN_KERNEL_TABLES_DEFINE). A program uses one mode or the other in all its files. With
// prebuilt tables, a layout outside all_kernel_layouts has no GEMM table: use header-only mode.
#pragma once

#include <array>
#include <cstddef>

#include "bitlin/config/cpu.hpp"

namespace bitlin {

template <class Fn>
struct kernel_entry {
  Fn fn = nullptr;
  isa path = isa::scalar;  // the ISA the kernel was written for (may be an ancestor of the row)
  // For product kernels, the order of the driver's (row panel x token block) items: false =
  // panel-major (each weight panel is reused from cache across its token blocks), true =
  // token-major (each token block's activations are reused across the panels), for kernels that
  // read the activations as whole tiles and the unpacked weights from L1.
  bool token_major = false;
};

// The entry for a kernel written for Tag.
template <class Tag, class Fn>
constexpr kernel_entry<Fn> make_kernel_entry(Fn fn, bool token_major = false) {
  return {fn, isa_of<Tag>(), token_major};
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

#if defined(BITLIN_PREBUILT_KERNELS) && !defined(BITLIN_KERNEL_TABLES_DEFINE)
#define BITLIN_KERNEL_TABLES_EXTERN 1
#else
#define BITLIN_KERNEL_TABLES_EXTERN 0
#endif
// Inline in header-only use; external linkage where the prebuilt library defines the tables.
#if defined(BITLIN_KERNEL_TABLES_DEFINE)
#define BITLIN_KERNEL_TABLE_LINKAGE
#else
#define BITLIN_KERNEL_TABLE_LINKAGE inline
#endif

// BITLIN_KERNEL_TABLE(name, Fn, lookup) is `const kernel_entry<Fn>& name(isa i)`: row i of the
// table isa_table<Fn> builds from `lookup`, an expression of the arch tag `tag` (for instance
// kernels::attention_kernel(tag)). Only declared when the tables are prebuilt.
#if BITLIN_KERNEL_TABLES_EXTERN
#define BITLIN_KERNEL_TABLE(name, Fn, ...) const ::bitlin::kernel_entry<Fn>& name(::bitlin::isa i);
#else
#define BITLIN_KERNEL_TABLE(name, Fn, ...)                                                   \
  BITLIN_KERNEL_TABLE_LINKAGE const ::bitlin::kernel_entry<Fn>& name(::bitlin::isa i) {      \
    static const auto table = ::bitlin::isa_table<Fn>([](auto tag) { return __VA_ARGS__; }); \
    return table[static_cast<std::size_t>(i)];                                               \
  }
#endif
