// Tuning facts about the host CPU that change how a kernel walks memory, never what it computes
// (both sides of each choice give identical results; the tests force each side, stream_walk_guard).
#pragma once

#include <atomic>

#include "bitlin/config/cpu.hpp"
#include "bitlin/core/types.hpp"

namespace bitlin {
namespace kernels {

// Whether streaming kernels issue software prefetches ahead of their loads. On Intel cores they
// gain: a Sapphire Rapids core read 9-10 GB/s in a plain sequential sum and 13 GB/s in the BF16
// head GEMV that prefetches, and the single-query Hamming scan went 4.7 -> 3.3 ms (256-bit codes)
// and 16.4 -> 13.2 ms (1024-bit). On AMD they lose: on a Zen 4 the Hamming scan (1024-bit codes,
// rows in order) went 5.5 -> 5.8 ms (avx2) and 5.7 -> 6.7 ms (avx512icl) with them, and a
// one-row int8 GEMV stream 18-22 -> 16-17 GB/s; the core's own prefetchers keep enough reads in
// flight.
inline bool software_prefetch_pays() {
  return !host_cpu_info().amd;
}

// -1: the host decides; 0 / 1: forced by a stream_walk_guard.
inline std::atomic<int>& forced_stream_walk() {
  static std::atomic<int> forced{-1};
  return forced;
}

// Whether a GEMV may read several rows (or row groups) side by side, as interleaved streams that
// restart every pass, or should read one at a time in memory order, a single sequential stream.
// On a Zen 4 the interleaved streams read at a fraction of the rate: the int8 head at half (four
// rows), the AVX-512 BF16 head at 16-17 against 19-25 GB/s (eight rows, one thread), the AVX-512
// VNNI ternary GEMV of 6912 x 2560 (cold, one thread) in 327-340 against 258-292 us (four 10 KiB
// row groups side by side against one at a time). The Intel cores measured (Sapphire Rapids,
// Emerald Rapids) were tuned with interleaved streams and software prefetch, and are left so.
inline bool interleaved_streams_pay() {
  const int forced = forced_stream_walk().load(std::memory_order_relaxed);
  return forced >= 0 ? forced == 1 : !host_cpu_info().amd;
}

// While alive, every GEMV walks memory the given way whatever the host, so that one machine can
// check both walks (the tests do) or time them side by side. Not for concurrent use with other
// guards; results never depend on it.
class stream_walk_guard {
 public:
  explicit stream_walk_guard(bool interleaved)
      : previous_(forced_stream_walk().exchange(interleaved ? 1 : 0)) {}
  ~stream_walk_guard() { forced_stream_walk().store(previous_); }
  stream_walk_guard(const stream_walk_guard&) = delete;
  stream_walk_guard& operator=(const stream_walk_guard&) = delete;

 private:
  int previous_;
};

// Where interleaved streams do not pay, the longest row group (bytes) a GEMV still reads alone:
// longer ones are streams long enough for the prefetchers, and there several side by side stay
// faster (Zen 4, AVX-512 VNNI, 4096 x 14336 cold: 775-783 us four at a time against 861-998).
constexpr index_t single_stream_max_bytes = 16384;

// Whether a one-token product reads its row groups one at a time (group_bytes each): the one
// decision every tile kernel's GEMV takes from the two facts above.
inline bool gemv_reads_one_group(index_t group_bytes) {
  return group_bytes <= single_stream_max_bytes && !interleaved_streams_pay();
}

}  // namespace kernels
}  // namespace bitlin
