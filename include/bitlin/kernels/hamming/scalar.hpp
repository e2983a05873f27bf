// The portable Hamming kernel: 64-bit XOR + popcount per word (the compiler's builtin, a single
// instruction where the target has one). The fallback on every CPU and the model of the others.
#pragma once

#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/hamming/args.hpp"

namespace bitlin {
namespace kernels {

inline int popcount64(std::uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_popcountll(v);
#else
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<int>((v * 0x0101010101010101ull) >> 56);
#endif
}

inline void hamming_scalar(const std::uint8_t* q, index_t nq, index_t ldq, const std::uint8_t* d,
                           index_t nd, index_t ldd, index_t bytes, std::int32_t* out, index_t ldo) {
  for (index_t i = 0; i < nq; ++i) {
    const std::uint8_t* qi = q + i * ldq;
    for (index_t j = 0; j < nd; ++j) {
      const std::uint8_t* dj = d + j * ldd;
      std::int64_t s = 0;
      for (index_t b = 0; b < bytes; b += 8) {
        std::uint64_t a, w;
        std::memcpy(&a, qi + b, 8);
        std::memcpy(&w, dj + b, 8);
        s += popcount64(a ^ w);
      }
      out[i * ldo + j] = static_cast<std::int32_t>(s);
    }
  }
}

inline kernel_entry<detail::hamming_fn> hamming_kernel(arch::scalar) {
  return make_kernel_entry<arch::scalar>(&hamming_scalar);
}

}  // namespace kernels
}  // namespace bitlin
