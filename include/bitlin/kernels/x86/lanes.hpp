// Lane masks the AVX2 float kernels share for their tails (vmaskmovps loads and stores).
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "bitlin/core/types.hpp"

namespace bitlin {
namespace kernels {

// Lanes [0, n) of a vector of 8 (n clamped to [0, 8], so it may exceed 8 or be negative).
__attribute__((target("avx2"))) inline __m256i lanes_below8(index_t n) {
  const auto c = static_cast<int>(std::clamp<index_t>(n, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace kernels
}  // namespace bitlin
