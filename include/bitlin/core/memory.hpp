// Storage helpers shared by packed weights, activation buffers and workspaces: over-aligned
// vectors (a 64-byte tile or row starts a cache line), vectors on huge pages for tables probed at
// random, and the one rounding-up division.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

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

// For multi-MiB tables probed at random (the tokenizer's merge and vocabulary tables): with 4 KiB
// pages nearly every probe is a TLB miss and a page walk on top of the cache miss, so blocks of at
// least 1 MiB are 2 MiB aligned and, on Linux, advised onto transparent huge pages (honoured where
// THP is "madvise" or "always"; elsewhere this is only an aligned allocation). Smaller blocks are
// allocated as aligned_allocator's.
template <class T>
struct huge_page_allocator {
  using value_type = T;
  static constexpr std::size_t huge = std::size_t{1} << 21, threshold = std::size_t{1} << 20;
  template <class U>
  struct rebind {
    using other = huge_page_allocator<U>;
  };
  huge_page_allocator() = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < threshold) return static_cast<T*>(::operator new (bytes, std::align_val_t{64}));
    const std::size_t rounded = (bytes + huge - 1) / huge * huge;
    void* p = ::operator new (rounded, std::align_val_t{huge});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ::operator delete (p, std::align_val_t{n * sizeof(T) < threshold ? 64 : huge});
  }
  template <class U>
  bool operator==(const huge_page_allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const huge_page_allocator<U>&) const noexcept {
    return false;
  }
};

inline index_t ceil_div(index_t a, index_t b) {
  return (a + b - 1) / b;
}

}  // namespace detail

}  // namespace bitlin
