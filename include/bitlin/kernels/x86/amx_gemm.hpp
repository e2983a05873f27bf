// The AMX-INT8 product engine shared by the layouts' avx512amx kernels: tdpbsud on tiles. One
// tdpbsud multiplies a tile of 16 tokens x 64 k signed int8 activations (read in place from the
// kernel-ready rows, one row per token) by a tile of unsigned weight codes in the VNNI order (row
// i = k quad i, bytes 4n..4n+3 = codes of output row n at k = 4i..4i+3) into 16 tokens x 16 rows
// of int32 sums: 16384 multiply-adds. Every layout's tile already stores, per plane, 16 rows x 4
// consecutive k (kernels/<layout>/layout.hpp), so a layout supplies only the unpack of one tile
// into its weight-tile rows (a Policy, below); the engine keeps the unpacked weights of two row
// groups for a segment of K in a per-thread buffer and reuses them for every token tile.
// Blocking: two row groups x two token tiles of accumulators (tmm0-3), two activation tiles
// (tmm4-5), two weight tiles (tmm6-7), the largest block eight tile registers hold.
//
// Fewer than 16 tokens, and the tokens after the last whole tile, run the layout's avx512vnni
// kernel (Policy::rest): a tile that is mostly empty costs as much as a full one.
//
// Exactness: tdpbsud adds to each int32 lane four products c*x with c the unsigned code (at most
// 2) and x in [-128,127] per k quad, without saturation, so a lane holds sum_k c*x exactly, within
// the bound every path of the layout states (|sum| <= 256 * K < 2^31 for the ternary layouts,
// 128 * K for the binary one); accumulators that leave the tiles between K segments are stored and
// reloaded as int32, unchanged. The output stage is avx512vnni's (Policy::acc_shift, then acc -
// xsum and the shared epilogue), so the floats are bit-identical to every other path.
//
// The tile instructions are written as inline assembly rather than with the compilers'
// intrinsics: GCC 12's _tile_loadd has no memory operand or clobber (it could be scheduled before
// the stores of the unpacked weights it reads) and its _tile_loadconfig names only the first 8
// bytes of the configuration.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/kernels/i2_tile/x86/avx512vnni.hpp"

#if defined(BITLIN_HAS_AMX_KERNEL)

#define BITLIN_AMX_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define BITLIN_AMX_LOAD(t, base, stride)                                                 \
  __asm__ volatile("{tileloadd (%0,%1,1), %%tmm" #t "|tileloadd %%tmm" #t ", [%0+%1*1]}" \
                   :                                                                     \
                   : "r"(base), "r"(static_cast<long>(stride))                           \
                   : "memory")
#define BITLIN_AMX_STORE(t, base, stride)                                                  \
  __asm__ volatile("{tilestored %%tmm" #t ", (%0,%1,1)|tilestored [%0+%1*1], %%tmm" #t "}" \
                   :                                                                       \
                   : "r"(base), "r"(static_cast<long>(stride))                             \
                   : "memory")
// dst += a (signed int8) . b (unsigned int8)
#define BITLIN_AMX_DPBSUD(dst, a, b)                                                     \
  __asm__ volatile("{tdpbsud %%tmm" #b ", %%tmm" #a ", %%tmm" #dst "|tdpbsud %%tmm" #dst \
                   ", %%tmm" #a ", %%tmm" #b "}" ::)

namespace bitlin {
namespace kernels {
namespace amx {

using detail::kernel_args;

constexpr index_t tile_tokens = 16;
constexpr index_t chunk_k = 64;        // k per tile step (16 quads)
constexpr index_t chunk_bytes = 1024;  // one unpacked weight tile (16 quads x 64 bytes)
// The weight buffer's size in chunks: the largest Policy::segment_chunks.
constexpr index_t max_segment_chunks = 16;
constexpr index_t acc_bytes = 16 * 16 * 4;  // one accumulator tile

// The palette-1 configuration: eight tiles of 16 rows x 64 bytes.
struct alignas(64) tile_config {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

inline void configure_tiles() {
  tile_config cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
}

inline void release_tiles() {
  __asm__ volatile("tilerelease" ::: "memory");
}

struct amx_scratch {
  bitlin::detail::aligned_vector<std::uint8_t>
      weights;  // [2 groups][max_segment_chunks][chunk_bytes]
  bitlin::detail::aligned_vector<std::uint8_t>
      acc;  // [token tiles][2 groups][acc_bytes], between segments
};
inline amx_scratch& thread_amx_scratch() {
  static thread_local amx_scratch s;
  return s;
}

// Chunks [c0, c1) of row group g as weight tiles at dst: the rows of consecutive chunks are the
// k quads 16 c0 .. 16 c1 - 1 in order, and layout tile b holds quads b * quads_per_tile onwards.
// Segments start on a tile (segment_chunks * 16 is a multiple of quads_per_tile); tiles past K
// are zero (code 0 adds 0), up to the end of the tile that holds the last chunk's last quad.
template <class Policy>
BITLIN_TARGET_AVX512VNNI inline void unpack_segment(const kernel_args& a, index_t g, index_t c0,
                                                    index_t c1, std::uint8_t* dst) {
  constexpr index_t per = Policy::quads_per_tile;
  const std::uint8_t* w = a.w + g * a.k_blocks * Policy::tile_bytes;
  const index_t q0 = 16 * c0, q1 = 16 * c1;
  for (index_t blk = q0 / per; blk * per < q1; ++blk) {
    std::uint8_t* d = dst + (blk * per - q0) * 64;
    if (blk < a.k_blocks)
      Policy::unpack(w + blk * Policy::tile_bytes, d);
    else
      for (index_t r = 0; r < per; ++r) _mm512_store_si512(d + 64 * r, _mm512_setzero_si512());
  }
}

// The activations of chunk c for tokens t .. t+15: in place, or for the last chunk when K ends
// inside it, copied into `pad` (16 x 64, zero beyond the row's padded K) so that no load reaches
// past the rows' padding.
inline const std::int8_t* chunk_acts(const kernel_args& a, index_t padded_k, index_t t, index_t c,
                                     index_t& stride, std::int8_t (&pad)[16][64]) {
  const index_t k0 = c * chunk_k;
  const index_t valid = padded_k - k0;
  if (valid >= chunk_k) {
    stride = a.ldxp;
    return a.x + t * a.ldxp + k0;
  }
  std::memset(pad, 0, sizeof pad);
  for (int m = 0; m < 16; ++m)
    std::memcpy(pad[m], a.x + (t + m) * a.ldxp + k0, static_cast<std::size_t>(valid));
  stride = 64;
  return &pad[0][0];
}

// Outputs of row group g for the 16 tokens from t, from an accumulator tile stored at acc.
template <class Policy>
BITLIN_TARGET_AVX512VNNI inline void store_tile(const kernel_args& a, const std::int32_t* acc,
                                                index_t g, index_t t) {
  for (int m = 0; m < 16; ++m) {
    __m512i v = _mm512_load_si512(acc + 16 * m);
    // maskz form: GCC 12 warns falsely (-Wmaybe-uninitialized) on the plain one.
    if constexpr (Policy::acc_shift > 0) v = _mm512_maskz_slli_epi32(0xFFFF, v, Policy::acc_shift);
    avx512vnni_impl::store_group(a, v, g, t + m);
  }
}

// NG row groups (1 or 2) from g x NT token tiles (1 or 2) from t over chunks [c0, c1); the
// accumulators start at zero (first segment) or from `acc`, and end in `acc` or, after the last
// segment, in the outputs.
template <class Policy, int NG, int NT>
BITLIN_TARGET_AVX512VNNI inline void block(const kernel_args& a, const std::uint8_t* wbuf,
                                           index_t g, index_t t, index_t c0, index_t c1, bool first,
                                           bool last, std::uint8_t* acc) {
  const index_t padded_k = a.k_blocks * Policy::k_block;
  // acc holds [NT token tiles][NG groups] tiles; tile (j, i) is tmm(2j + i).
  if (first) {
    BITLIN_AMX_ZERO(0);
    if constexpr (NG == 2) BITLIN_AMX_ZERO(1);
    if constexpr (NT == 2) BITLIN_AMX_ZERO(2);
    if constexpr (NG == 2 && NT == 2) BITLIN_AMX_ZERO(3);
  } else {
    BITLIN_AMX_LOAD(0, acc, 64);
    if constexpr (NG == 2) BITLIN_AMX_LOAD(1, acc + acc_bytes, 64);
    if constexpr (NT == 2) BITLIN_AMX_LOAD(2, acc + NG * acc_bytes, 64);
    if constexpr (NG == 2 && NT == 2) BITLIN_AMX_LOAD(3, acc + 3 * acc_bytes, 64);
  }
  const index_t seg_bytes = max_segment_chunks * chunk_bytes;
  alignas(64) std::int8_t pad0[16][64];
  alignas(64) std::int8_t pad1[16][64];
  for (index_t c = c0; c < c1; ++c) {
    index_t s0 = 0, s1 = 0;
    const std::int8_t* x0 = chunk_acts(a, padded_k, t, c, s0, pad0);
    BITLIN_AMX_LOAD(4, x0, s0);
    if constexpr (NT == 2) {
      const std::int8_t* x1 = chunk_acts(a, padded_k, t + 16, c, s1, pad1);
      BITLIN_AMX_LOAD(5, x1, s1);
    }
    const std::uint8_t* w0 = wbuf + (c - c0) * chunk_bytes;
    BITLIN_AMX_LOAD(6, w0, 64);
    if constexpr (NG == 2) BITLIN_AMX_LOAD(7, w0 + seg_bytes, 64);
    BITLIN_AMX_DPBSUD(0, 4, 6);
    if constexpr (NG == 2) BITLIN_AMX_DPBSUD(1, 4, 7);
    if constexpr (NT == 2) BITLIN_AMX_DPBSUD(2, 5, 6);
    if constexpr (NG == 2 && NT == 2) BITLIN_AMX_DPBSUD(3, 5, 7);
  }
  if (!last) {
    BITLIN_AMX_STORE(0, acc, 64);
    if constexpr (NG == 2) BITLIN_AMX_STORE(1, acc + acc_bytes, 64);
    if constexpr (NT == 2) BITLIN_AMX_STORE(2, acc + NG * acc_bytes, 64);
    if constexpr (NG == 2 && NT == 2) BITLIN_AMX_STORE(3, acc + 3 * acc_bytes, 64);
    return;
  }
  alignas(64) std::int32_t out[4][256];
  BITLIN_AMX_STORE(0, out[0], 64);
  if constexpr (NG == 2) BITLIN_AMX_STORE(1, out[1], 64);
  if constexpr (NT == 2) BITLIN_AMX_STORE(2, out[2], 64);
  if constexpr (NG == 2 && NT == 2) BITLIN_AMX_STORE(3, out[3], 64);
  store_tile<Policy>(a, out[0], g, t);
  if constexpr (NG == 2) store_tile<Policy>(a, out[1], g + 1, t);
  if constexpr (NT == 2) store_tile<Policy>(a, out[2], g, t + 16);
  if constexpr (NG == 2 && NT == 2) store_tile<Policy>(a, out[3], g + 1, t + 16);
}

template <class Policy, int NG>
BITLIN_TARGET_AVX512VNNI inline void token_tiles(const kernel_args& a, const std::uint8_t* wbuf,
                                                 index_t g, index_t t0, index_t tiles, index_t c0,
                                                 index_t c1, bool first, bool last,
                                                 std::uint8_t* acc) {
  index_t j = 0;
  for (; j + 2 <= tiles; j += 2)
    block<Policy, NG, 2>(a, wbuf, g, t0 + j * 16, c0, c1, first, last, acc + j * NG * acc_bytes);
  if (j < tiles)
    block<Policy, NG, 1>(a, wbuf, g, t0 + j * 16, c0, c1, first, last, acc + j * NG * acc_bytes);
}

// The kernel_fn of a layout: Policy gives
//   tile_bytes, k_block   a layout tile's size and the k it covers (16 rows),
//   quads_per_tile        k_block / 4: the weight-tile rows one layout tile unpacks to,
//   unpack(tile, d)       one tile as those rows (64 bytes each, k quad order) at d,
//   segment_chunks        chunks of K unpacked at once (their 16 quads a multiple of the tile's),
//   acc_shift             the accumulator is sum_k c*x << acc_shift before avx512vnni's output,
//   rest(a, ...)          the layout's avx512vnni kernel, for token counts below a tile.
template <class Policy>
BITLIN_TARGET_AVX512VNNI inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0,
                                          index_t t1) {
  constexpr index_t segment_chunks = Policy::segment_chunks;
  static_assert(Policy::quads_per_tile * 4 == Policy::k_block, "a tile row is a k quad");
  static_assert(
      (16 * segment_chunks) % Policy::quads_per_tile == 0 && segment_chunks <= max_segment_chunks,
      "segments start on a layout tile and fit the buffer");
  const index_t tiles = (t1 - t0) / tile_tokens;
  if (tiles == 0 || a.k_blocks == 0) {
    Policy::rest(a, g0, g1, t0, t1);
    return;
  }
  const index_t tm = t0 + tiles * tile_tokens;
  const index_t chunks = (a.k_blocks * Policy::quads_per_tile + 15) / 16;
  const index_t segments = (chunks + segment_chunks - 1) / segment_chunks;
  amx_scratch& s = thread_amx_scratch();
  if (s.weights.size() < static_cast<std::size_t>(2 * max_segment_chunks * chunk_bytes))
    s.weights.resize(static_cast<std::size_t>(2 * max_segment_chunks * chunk_bytes));
  // Sized even for one segment (then unused): the blocks' pointers into it stay valid.
  if (s.acc.size() < static_cast<std::size_t>(tiles * 2 * acc_bytes))
    s.acc.resize(static_cast<std::size_t>(tiles * 2 * acc_bytes));
  std::uint8_t* wbuf = s.weights.data();
  std::uint8_t* acc = s.acc.data();
  configure_tiles();
  for (index_t g = g0; g < g1; g += 2) {
    const int ng = g + 1 < g1 ? 2 : 1;
    for (index_t seg = 0; seg < segments; ++seg) {
      const index_t c0 = seg * segment_chunks;
      const index_t c1 = std::min(chunks, c0 + segment_chunks);
      for (int i = 0; i < ng; ++i)
        unpack_segment<Policy>(a, g + i, c0, c1, wbuf + i * max_segment_chunks * chunk_bytes);
      const bool first = seg == 0, last = seg + 1 == segments;
      if (ng == 2)
        token_tiles<Policy, 2>(a, wbuf, g, t0, tiles, c0, c1, first, last, acc);
      else
        token_tiles<Policy, 1>(a, wbuf, g, t0, tiles, c0, c1, first, last, acc);
    }
  }
  release_tiles();
  if (tm < t1) Policy::rest(a, g0, g1, tm, t1);
}

}  // namespace amx

}  // namespace kernels
}  // namespace bitlin

#undef BITLIN_AMX_ZERO
#undef BITLIN_AMX_LOAD
#undef BITLIN_AMX_STORE
#undef BITLIN_AMX_DPBSUD

#endif  // BITLIN_HAS_AMX_KERNEL
