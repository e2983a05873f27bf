// AVX-512 VNNI path: vpdpbusd on 512-bit registers. One 64-byte i2 tile, shifted by 2s and masked
// with 3, is 16 rows x 4 consecutive k of unsigned codes c = t + 1; a 4-byte broadcast of the
// token's activations completes the vpdpbusd operands. GEMM register-blocks MR row groups x NT
// tokens of accumulators so each unpacked weight register feeds NT instructions; GEMV (one token)
// keeps four accumulators per row group (one per shift) so the dependency chains stay short, and
// unpacks by masking alone (see gemv_block).
//
// Overflow: each vpdpbusd adds to a lane four products c*x with c in {0,1,2}, x in [-128,127], so
// at most 4 * 256 = 1024 in magnitude per instruction, and the lane after K/4 instructions holds
// sum_k c*x with |sum| <= 256 * K <= 256 * (2^23 - 1) < 2^31 (ternary_gemm_weights::max_cols); for
// K = 2^20 the bound is 2^28. The result acc - xsum = sum_k t*x, |.| <= 128 * K, is exact.
// vpdpbusd does not saturate (that is vpdpbusds), so no intermediate is clipped either.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bitlin/config/arch.hpp"
#include "bitlin/kernels/dispatch.hpp"
#include "bitlin/kernels/i2_tile/layout.hpp"
#include "bitlin/kernels/tuning.hpp"

#define BITLIN_TARGET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace bitlin {
namespace kernels {
namespace avx512vnni_impl {

using detail::kernel_args;

constexpr int gemm_mr = 4;  // row groups (x16 rows) per register block
constexpr int gemm_nt = 6;  // tokens per register block
// Software prefetch distance in tiles for the GEMV streams (4 KiB ahead per stream) for
// DRAM-resident weights; hardware prefetch alone left ~25 % of the bandwidth unused. 16 tiles was
// best when the GEMV ran four streams side by side; for the one-stream GEMV of today 64 is better
// (Zen 4, cold, one thread, medians of 6: 2560x2560 82 -> 80 us, 6912x2560 229 -> 212; 2560x6912,
// four streams, 255 -> 259, within noise).
constexpr index_t gemv_prefetch = 64;

BITLIN_TARGET_AVX512VNNI inline __m512i broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int S>
BITLIN_TARGET_AVX512VNNI inline __m512i unpack(const std::uint8_t* tile, __m512i mask3) {
  const __m512i raw = _mm512_load_si512(tile);
  if constexpr (S == 0)
    return _mm512_and_si512(raw, mask3);
  else
    return _mm512_and_si512(_mm512_srli_epi16(raw, 2 * S), mask3);
}

// Writes the 16 outputs of row group g for token t; the N tail goes through the shared scalar
// output stage. The float epilogue is detail::apply_epilogue's operation sequence, with the same
// barrier against FMA contraction (`maskz` conversion: GCC 12 warns falsely on the plain one).
BITLIN_TARGET_AVX512VNNI inline void store_group(const kernel_args& a, __m512i acc, index_t g,
                                                 index_t t) {
  const index_t n0 = g * 16;
  const __m512i v = _mm512_sub_epi32(acc, _mm512_set1_epi32(a.xsum[t]));
  if (n0 + 16 <= a.n) {
    if (a.y) {
      _mm512_storeu_si512(a.y + t * a.ldy + n0, v);
      return;
    }
    __m512 f = _mm512_maskz_cvtepi32_ps(0xFFFF, v);
    const __m512 sx = _mm512_set1_ps(a.act_scale[t]);
    const __m512 ws = _mm512_loadu_ps(a.row_scale + n0);
    if (a.multiply) {
      f = _mm512_mul_ps(_mm512_div_ps(f, sx), ws);
      __asm__("" : "+v"(f));
    } else {
      f = _mm512_div_ps(f, _mm512_mul_ps(sx, ws));
    }
    if (a.bias) f = _mm512_add_ps(f, _mm512_loadu_ps(a.bias + n0));
    _mm512_storeu_ps(a.yf + t * a.ldyf + n0, f);
    return;
  }
  alignas(64) std::int32_t tmp[16] = {};
  _mm512_store_si512(tmp, v);
  detail::store_outputs(a, tmp, 16, n0, t);
}

template <int MR, int NT, int S>
BITLIN_TARGET_AVX512VNNI inline void gemm_step(__m512i (&acc)[MR][NT], const std::uint8_t* wb,
                                               index_t gstride, const std::int8_t* xb, index_t ldxp,
                                               __m512i mask3) {
  __m512i w[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) w[i] = unpack<S>(wb + i * gstride, mask3);
#pragma GCC unroll 16
  for (int j = 0; j < NT; ++j) {
    const __m512i xv = broadcast4(xb + j * ldxp + 4 * S);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], w[i], xv);
  }
}

// MR row groups starting at g x NT tokens starting at t.
template <int MR, int NT>
BITLIN_TARGET_AVX512VNNI inline void gemm_block(const kernel_args& a, index_t g, index_t t) {
  __m512i acc[MR][NT];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_si512();
  const __m512i mask3 = _mm512_set1_epi8(3);
  const index_t gstride = a.k_blocks * 64;
  const std::uint8_t* w = a.w + g * gstride;
  const std::int8_t* x = a.x + t * a.ldxp;
  for (index_t b = 0; b < a.k_blocks; ++b) {
    const std::uint8_t* wb = w + b * 64;
    const std::int8_t* xb = x + b * 16;
    gemm_step<MR, NT, 0>(acc, wb, gstride, xb, a.ldxp, mask3);
    gemm_step<MR, NT, 1>(acc, wb, gstride, xb, a.ldxp, mask3);
    gemm_step<MR, NT, 2>(acc, wb, gstride, xb, a.ldxp, mask3);
    gemm_step<MR, NT, 3>(acc, wb, gstride, xb, a.ldxp, mask3);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NT; ++j) store_group(a, acc[i][j], g + i, t + j);
}

// One token: four accumulators per row group, one per shift s, which keeps 4*MR independent
// chains and allows a cheaper unpack: the code of shift s is only masked in place (byte value
// c * 4^s <= 128, still a valid unsigned operand), so acc_s = 4^s * sum c*x and the shift by 2s
// happens once per chunk on the int32 sums, exactly (they are multiples of 4^s). That is 4 ANDs
// per tile instead of 4 ANDs + 3 shifts, which matters because a hot GEMV is bound by these ops.
// Overflow: per vpdpbusd a lane of acc_3 grows by at most 4 * 128 * 128 = 2^16, so chunks of
// gemv_chunk = 2^13 tiles keep every acc_s below 2^29 before it is shifted and added to the total,
// whose bound is that of every path (|sum c*x| <= 256 * K < 2^31).
constexpr index_t gemv_chunk = index_t{1} << 13;

// Tile b of MR row groups (at w, groups gstride apart) into accumulator set u; the four
// broadcasts of its activations are made once and serve every group.
template <int MR, int KU>
BITLIN_TARGET_AVX512VNNI inline __attribute__((always_inline)) void gemv_tiles(
    const std::uint8_t* w, index_t gstride, const std::int8_t* x, index_t b, int u,
    const __m512i (&m)[4], __m512i (&acc)[MR][KU][4]) {
  const std::uint8_t* wb = w + b * 64;
  const std::int8_t* xb = x + b * 16;
  const __m512i xv[4] = {broadcast4(xb), broadcast4(xb + 4), broadcast4(xb + 8),
                         broadcast4(xb + 12)};
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if constexpr (gemv_prefetch > 0)
      _mm_prefetch(reinterpret_cast<const char*>(wb + i * gstride + 64 * gemv_prefetch),
                   _MM_HINT_T0);
    const __m512i raw = _mm512_load_si512(wb + i * gstride);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s)
      acc[i][u][s] = _mm512_dpbusd_epi32(acc[i][u][s], _mm512_and_si512(raw, m[s]), xv[s]);
  }
}

// KU consecutive tiles per step, each with its own four accumulators: MR row groups x 4 shifts x
// KU chains. Four row groups side by side (KU = 1) keep 16 chains; one row group alone (a single
// stream in memory order, see gemv) needs KU = 2 for 8, as each vpdpbusd waits for the previous
// one of its chain. Every accumulator takes at most gemv_chunk tiles, so the bound is unchanged.
template <int MR, int KU = 1>
BITLIN_TARGET_AVX512VNNI inline void gemv_block(const kernel_args& a, index_t g, index_t t) {
  __m512i total[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) total[i] = _mm512_setzero_si512();
  const __m512i m[4] = {_mm512_set1_epi8(0x03), _mm512_set1_epi8(0x0C), _mm512_set1_epi8(0x30),
                        _mm512_set1_epi8(static_cast<char>(0xC0))};
  const index_t gstride = a.k_blocks * 64;
  const std::uint8_t* w = a.w + g * gstride;
  const std::int8_t* x = a.x + t * a.ldxp;
  for (index_t c0 = 0; c0 < a.k_blocks; c0 += gemv_chunk) {
    const index_t c1 = std::min(a.k_blocks, c0 + gemv_chunk);
    __m512i acc[MR][KU][4];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int u = 0; u < KU; ++u)
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) acc[i][u][s] = _mm512_setzero_si512();
    index_t b = c0;
    for (; b + KU <= c1; b += KU)
#pragma GCC unroll 2
      for (int u = 0; u < KU; ++u) gemv_tiles<MR, KU>(w, gstride, x, b + u, u, m, acc);
    for (; b < c1; ++b) gemv_tiles<MR, KU>(w, gstride, x, b, 0, m, acc);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i sh[4] = {acc[i][0][0], acc[i][0][1], acc[i][0][2], acc[i][0][3]};
#pragma GCC unroll 2
      for (int u = 1; u < KU; ++u)
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) sh[s] = _mm512_add_epi32(sh[s], acc[i][u][s]);
      total[i] = _mm512_add_epi32(
          total[i],
          _mm512_add_epi32(_mm512_add_epi32(sh[0], _mm512_maskz_srai_epi32(0xFFFF, sh[1], 2)),
                           _mm512_add_epi32(_mm512_maskz_srai_epi32(0xFFFF, sh[2], 4),
                                            _mm512_maskz_srai_epi32(0xFFFF, sh[3], 6))));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) store_group(a, total[i], g + i, t);
}

template <int MR>
BITLIN_TARGET_AVX512VNNI inline void gemm_tokens(const kernel_args& a, index_t g, index_t t0,
                                                 index_t t1) {
  index_t t = t0;
  for (; t + gemm_nt <= t1; t += gemm_nt) gemm_block<MR, gemm_nt>(a, g, t);
  switch (t1 - t) {
    case 5:
      gemm_block<MR, 5>(a, g, t);
      break;
    case 4:
      gemm_block<MR, 4>(a, g, t);
      break;
    case 3:
      gemm_block<MR, 3>(a, g, t);
      break;
    case 2:
      gemm_block<MR, 2>(a, g, t);
      break;
    case 1:
      gemv_block<MR>(a, g, t);
      break;
    default:
      break;
  }
}

BITLIN_TARGET_AVX512VNNI inline void gemm(const kernel_args& a, index_t g0, index_t g1, index_t t0,
                                          index_t t1) {
  static_assert(kernel_layout_traits<i2_tile>::row_block == 16 &&
                    kernel_layout_traits<i2_tile>::k_block == 16 &&
                    kernel_layout_traits<i2_tile>::tile_bytes == 64,
                "this kernel reads one 64-byte tile as 16 rows x 16 k");
  index_t g = g0;
  // One token where interleaved streams do not pay (kernels/tuning.hpp) and a row group is short
  // (at most 16 KiB, K <= 4096): one row group at a time, the weights read as a single stream in
  // memory order (Zen 4, 6912 x 2560 cold, one thread: 327-340 us with four groups side by side,
  // 258-292 us this way). Longer groups are streams long enough for the prefetchers, and there
  // four side by side stay faster (4096 x 14336 cold: 775-783 against 861-998 us).
  if (t1 - t0 == 1 && gemv_reads_one_group(a.k_blocks * 64)) {
    for (; g < g1; ++g) gemv_block<1, 2>(a, g, t0);
    return;
  }
  for (; g + gemm_mr <= g1; g += gemm_mr) gemm_tokens<gemm_mr>(a, g, t0, t1);
  for (; g < g1; ++g) gemm_tokens<1>(a, g, t0, t1);
}

}  // namespace avx512vnni_impl

inline kernel_entry<detail::kernel_fn> gemm_kernel(arch::avx512vnni, i2_tile) {
  return make_kernel_entry<arch::avx512vnni>(&avx512vnni_impl::gemm);
}

}  // namespace kernels
}  // namespace bitlin
