// Storage helpers shared by packed weights, activation buffers and workspaces: over-aligned
// vectors (a 64-byte tile or row starts a cache line) and the one rounding-up division.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "bitlin/core/types.hpp"

namespace bitlin {
namespace detail {

// std::allocator with a fixed over-alignment (C++17 aligned new).
template <class T, std::size_t Align = 64>
struct aligned_allocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Align>;
  };
  aligned_allocator() = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Align>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Align}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{Align}); }
  template <class U>
  bool operator==(const aligned_allocator<U, Align>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const aligned_allocator<U, Align>&) const noexcept {
    return false;
  }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

inline index_t ceil_div(index_t a, index_t b) {
  return (a + b - 1) / b;
}

}  // namespace detail

}  // namespace bitlin
