// A decode step with a warmed-up workspace and a reserved KV cache makes no heap allocation. The
// program replaces the global allocation functions with counting ones (its own binary, so no other
// test sees them) and counts only inside the window under test.
// bitlin-test: own program
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "bitlin/gemm/executor.hpp"
#include "bitlin/model/bitnet.hpp"
#include "bitlin/testing/random_model.hpp"
#include "catch.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* counted(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else if (posix_memalign(&p, align, n) != 0) {
    p = nullptr;
  }
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted(n, alignof(std::max_align_t));
}
void* operator new[](std::size_t n) {
  return counted(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted(n, static_cast<std::size_t>(a));
}
// The nothrow forms too (Catch2 allocates with them): every form must pair with the deletes
// below, or a sanitizer sees its own allocation released by std::free.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, alignof(std::max_align_t));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted(n, alignof(std::max_align_t));
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted(n, static_cast<std::size_t>(a));
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

using namespace bitlin;
using namespace bitlin::model;

TEST_CASE("a decode step allocates nothing once its workspace is warm", "[model][alloc]") {
  bitnet_config c;
  c.vocab_size = 300;
  c.hidden_size = 128;
  c.intermediate_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 256;
  for (const bool int8_head : {false, true}) {
    for (int threads : {1, 2}) {
      INFO("int8 head " << int8_head << " threads " << threads);
      bitnet_model m = random_bitnet_model(c, 3, dense_storage::bf16);
      m.use_int8_head(int8_head);
      thread_pool pool(threads);
      kv_cache cache = m.new_cache();
      cache.reserve(64);
      bitnet_model::workspace ws;
      const std::vector<std::int64_t> prompt{1, 2, 3, 4, 5};
      m.forward(prompt.data(), 5, cache, ws, logits_for::last, pool);
      std::int64_t next = 7;
      // Warms the one-token shapes. Per-thread scratch grows on a thread's first use of an op, and
      // which pool thread runs which chunk depends on scheduling, so the warm-up gives every
      // worker many chances to have run each op once.
      for (int step = 0; step < 16; ++step) m.forward(&next, 1, cache, ws, logits_for::last, pool);
      allocations = 0;
      counting = true;
      for (int step = 0; step < 4; ++step) {
        const matrix_f& logits = m.forward(&next, 1, cache, ws, logits_for::last, pool);
        next = (next * 31 + static_cast<std::int64_t>(logits.cols())) % c.vocab_size;
      }
      counting = false;
      CHECK(allocations.load() == 0);
      // The counter does count: a vector allocates.
      counting = true;
      std::vector<int> v(100);
      counting = false;
      CHECK(allocations.load() >= 1);
    }
  }
}
