// AArch64 dot-product Hamming kernel (Armv8.2 udot): cnt gives each byte's bit count of q XOR d
// and one udot against a vector of ones adds four of them into each uint32 lane, so the counts
// are folded every chunk (no byte accumulator runs, no widening chain). Four database rows run
// together against one query. A row's distance is < 2^31 (see hamming/arm/neon.hpp), so the
// uint32 lanes and their sum cannot wrap.
// Compiled with a function-level target, chosen at run time from HWCAP_ASIMDDP (config/cpu.hpp).
#pragma once

#include "bitlin/config/cpu.hpp"

#if defined(BITLIN_HAS_NEON_DOTPROD_KERNEL)
#include <arm_neon.h>

#include <cstdint>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"
#include "bitlin/kernels/hamming/arm/neon.hpp"

#if defined(__ARM_FEATURE_DOTPROD)
#define BITLIN_TARGET_DOTPROD
#else
#define BITLIN_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

namespace bitlin {
namespace kernels {
namespace hamming_neon_dotprod_impl {

template <int R>
BITLIN_TARGET_DOTPROD inline void rows_vs_query(const std::uint8_t* q, const std::uint8_t* d,
                                                index_t ldd, index_t bytes, std::int32_t* out) {
  const uint8x16_t ones = vdupq_n_u8(1);
  uint32x4_t acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = vdupq_n_u32(0);
  for (index_t c = 0; c < bytes; c += 16) {
    const uint8x16_t qv = vld1q_u8(q + c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      acc[r] = vdotq_u32(acc[r], vcntq_u8(veorq_u8(qv, vld1q_u8(d + r * ldd + c))), ones);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = static_cast<std::int32_t>(vaddvq_u32(acc[r]));
}

template <int R>
struct rows {
  BITLIN_TARGET_DOTPROD static void run(const std::uint8_t* q, const std::uint8_t* d, index_t ldd,
                                        index_t bytes, std::int32_t* out) {
    rows_vs_query<R>(q, d, ldd, bytes, out);
  }
};

BITLIN_TARGET_DOTPROD inline void hamming(const std::uint8_t* q, index_t nq, index_t ldq,
                                          const std::uint8_t* d, index_t nd, index_t ldd,
                                          index_t bytes, std::int32_t* out, index_t ldo) {
  hamming_neon_impl::each_row<rows>(q, nq, ldq, d, nd, ldd, bytes, out, ldo);
}

}  // namespace hamming_neon_dotprod_impl

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::neon_dotprod) {
  return make_kernel_entry<arch::neon_dotprod>(&hamming_neon_dotprod_impl::hamming);
}

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_TARGET_DOTPROD
#endif  // BITLIN_HAS_NEON_DOTPROD_KERNEL
