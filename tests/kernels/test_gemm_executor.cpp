// The executors behind ternary_gemm: every index of [0, n) is visited exactly once in chunks of at
// least `grain` (but the last), for any thread count, repeatedly on one pool; exceptions reach the
// caller; and serial() runs inline.
#include <bitlin/gemm/executor.hpp>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "catch.hpp"

using namespace bitlin;

namespace {
void check_cover(const executor& ex, index_t n, index_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  for (auto& h : hits) h.store(0);
  std::atomic<int> short_chunks{0};
  ex.parallel_for(n, grain, [&](index_t b, index_t e) {
    if (e - b < grain && e != n) short_chunks.fetch_add(1);
    for (index_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
  });
  int wrong = 0;
  for (auto& h : hits) wrong += h.load() != 1;
  INFO("threads " << ex.threads() << " n " << n << " grain " << grain);
  REQUIRE(wrong == 0);
  REQUIRE(short_chunks.load() == 0);
}
}  // namespace

TEST_CASE("parallel_for covers the range exactly once", "[threads]") {
  check_cover(serial(), 17, 1);
  for (int th : {1, 2, 3, 7}) {
    thread_pool pool(th);
    CHECK(pool.threads() == th);
    for (int rep = 0; rep < 50; ++rep)
      for (index_t n : {1, 2, 5, 64, 1000})
        for (index_t grain : {1, 3, 16}) check_cover(pool, n, grain);
    thread_pool sleepy(th, 0);  // no spinning: every hand-off goes through the condition variable
    for (int rep = 0; rep < 20; ++rep) check_cover(sleepy, 300, 2);
  }
#if defined(_OPENMP)
  openmp_executor omp(3);
  check_cover(omp, 1000, 7);
#endif
}

TEST_CASE("exceptions thrown in a chunk reach the caller and the pool stays usable", "[threads]") {
  thread_pool pool(3);
  CHECK_THROWS_AS(pool.parallel_for(100, 1,
                                    [](index_t b, index_t) {
                                      if (b >= 50) throw std::runtime_error("chunk failed");
                                    }),
                  std::runtime_error);
  check_cover(pool, 100, 1);
}
