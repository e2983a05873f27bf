// The float side of a BitNet model: the token embedding table and the output head (lm_head, often
// the same tied matrix). They stay in 16- or 32-bit floats in every published checkpoint, and at
// decode time the head is the largest single tensor read per token (vocab x hidden, ~656 MB in
// BF16 for BitNet-2B), so its matrix-vector product decides a large share of decode speed.
//
// `dense_matrix` owns such a table in F32 or BF16 and multiplies it with float activations. The
// product has a scalar path (the oracle the fast paths are tested against) and AVX2+FMA and
// AVX-512 paths compiled with target attributes in this header and chosen at run time, so the
// library needs no -m flags. All paths widen BF16 to float exactly (a 16-bit shift) and accumulate
// in float; only the summation order differs between them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/gemm/ternary_gemm.hpp"
#include "bitlin/io/half.hpp"
#include "bitlin/quant/activation.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define BITLIN_HEAD_X86 1
#include <immintrin.h>
#else
#define BITLIN_HEAD_X86 0
#endif

namespace bitlin::model {

enum class dense_storage { f32, bf16 };
inline const char* dense_storage_name(dense_storage s) {
  return s == dense_storage::f32 ? "F32" : "BF16";
}

// Code paths of the dense product, best last.
enum class head_path { scalar, avx2, avx512 };
inline const char* head_path_name(head_path p) {
  switch (p) {
    case head_path::avx2:
      return "avx2";
    case head_path::avx512:
      return "avx512";
    default:
      return "scalar";
  }
}

inline std::vector<head_path> supported_head_paths() {
  std::vector<head_path> v{head_path::scalar};
#if BITLIN_HEAD_X86
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v.push_back(head_path::avx2);
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    v.push_back(head_path::avx512);
#endif
  return v;
}
inline head_path best_head_path() {
  static const head_path best = supported_head_paths().back();
  return best;
}

namespace detail {

inline float load_elem(const float* w, index_t i) {
  return w[i];
}
inline float load_elem(const std::uint16_t* w, index_t i) {
  return io::bf16_to_f32(w[i]);
}

// Y[t, n] = sum_k X[t, k] * W[n, k] for rows [n0, n1): the reference for the vector paths.
template <class T>
void dense_rows_scalar(const T* W, index_t k, index_t n0, index_t n1, const float* X,
                       index_t tokens, index_t ldx, float* Y, index_t ldy) {
  for (index_t n = n0; n < n1; ++n) {
    const T* w = W + n * k;
    for (index_t t = 0; t < tokens; ++t) {
      const float* x = X + t * ldx;
      float acc = 0.0f;
      for (index_t i = 0; i < k; ++i) acc += load_elem(w, i) * x[i];
      Y[t * ldy + n] = acc;
    }
  }
}

#if BITLIN_HEAD_X86
// BF16 -> float is the 16-bit pattern shifted into the high half. The masked (maskz) forms with a
// full mask avoid GCC 12's false -Wuninitialized on the unmasked intrinsics' undefined operand.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 head_widen_bf16(__m256i h) {
  const auto all = static_cast<__mmask16>(0xFFFF);
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, h), 16));
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 head_load16(const float* w,
                                                                               __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, w);
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 head_load16(
    const std::uint16_t* w, __mmask16 m) {
  return head_widen_bf16(_mm256_maskz_loadu_epi16(m, w));
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 head_load16(const float* w) {
  return _mm512_loadu_ps(w);
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 head_load16(
    const std::uint16_t* w) {
  return head_widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}
// Through memory: GCC 12 warns falsely (-Wmaybe-uninitialized) on the lane-shuffle intrinsics,
// and once per output the cost does not matter.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline float head_hsum512(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float s = 0.0f;
  for (int i = 0; i < 8; ++i) s += lanes[i] + lanes[i + 8];
  return s;
}

// RB rows x TB tokens per block: each weight vector loaded once feeds TB tokens, and RB independent
// rows keep enough FMAs in flight to cover their latency when TB is 1 (decode).
template <int RB, int TB, class T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void dense_block_avx512(
    const T* W, index_t k, index_t n, const float* X, index_t ldx, float* Y, index_t ldy) {
  __m512 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_setzero_ps();
  index_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm512_loadu_ps(X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m512 w = head_load16(W + (n + r) * k + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  if (i < k) {
    const auto m = static_cast<__mmask16>((1u << (k - i)) - 1u);
    __m512 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm512_maskz_loadu_ps(m, X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m512 w = head_load16(W + (n + r) * k + i, m);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) Y[t * ldy + n + r] = head_hsum512(acc[r][t]);
}

template <class T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void dense_rows_avx512(
    const T* W, index_t k, index_t n0, index_t n1, const float* X, index_t tokens, index_t ldx,
    float* Y, index_t ldy) {
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2)
      dense_block_avx512<2, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) dense_block_avx512<1, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
  for (; t < tokens; ++t) {
    index_t n = n0;
    for (; n + 4 <= n1; n += 4)
      dense_block_avx512<4, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) dense_block_avx512<1, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
}

// BF16 rows, the decode-critical case. A 64-byte load holds 32 BF16 values; shifting each 32-bit
// lane left by 16 yields the even-indexed ones as floats and masking the low half yields the odd
// ones, two single-cycle operations instead of a cross-lane widening per 16 values. The
// activations are de-interleaved to match once per call (per 32-block: 16 even, then 16 odd).
template <int RB, int TB>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void dense_block_bf16_avx512(
    const std::uint16_t* W, index_t k, index_t blocks, index_t n, const float* Xd, index_t ldd,
    float* Y, index_t ldy) {
  __m512 acc_e[RB][TB], acc_o[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc_e[r][t] = acc_o[r][t] = _mm512_setzero_ps();
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const auto all = static_cast<__mmask16>(0xFFFF);  // maskz forms: see head_widen_bf16
  for (index_t b = 0; b < blocks; ++b) {
    __m512 xe[TB], xo[TB];
    for (int t = 0; t < TB; ++t) {
      xe[t] = _mm512_loadu_ps(Xd + t * ldd + 32 * b);
      xo[t] = _mm512_loadu_ps(Xd + t * ldd + 32 * b + 16);
    }
    for (int r = 0; r < RB; ++r) {
      // Eight 64-byte blocks ahead per row: the rows are short (one head row is 5 KiB at
      // hidden 2560), so the hardware prefetcher alone leaves DRAM bandwidth unused; a prefetch
      // past the end of a row only touches the next row, and never faults.
      _mm_prefetch(reinterpret_cast<const char*>(W + (n + r) * k + 32 * (b + 8)), _MM_HINT_T0);
      const __m512i w = _mm512_loadu_si512(W + (n + r) * k + 32 * b);
      const __m512 we = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, w, 16));
      const __m512 wo = _mm512_castsi512_ps(_mm512_maskz_and_epi32(all, w, high));
      for (int t = 0; t < TB; ++t) {
        acc_e[r][t] = _mm512_fmadd_ps(we, xe[t], acc_e[r][t]);
        acc_o[r][t] = _mm512_fmadd_ps(wo, xo[t], acc_o[r][t]);
      }
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t)
      Y[t * ldy + n + r] = head_hsum512(_mm512_add_ps(acc_e[r][t], acc_o[r][t]));
}

// The activations in the order dense_block_bf16_avx512 reads them (per 32-block: the 16 even,
// then the 16 odd columns), [tokens x 32 * (k / 32)]. Made once per product, not per row chunk.
inline std::vector<float> deinterleave_bf16_order(const float* X, index_t tokens, index_t ldx,
                                                  index_t k) {
  const index_t blocks = k / 32, kb = 32 * blocks;
  std::vector<float> Xd(static_cast<std::size_t>(std::max<index_t>(tokens * kb, 1)));
  for (index_t t = 0; t < tokens; ++t)
    for (index_t b = 0; b < blocks; ++b)
      for (index_t j = 0; j < 16; ++j) {
        Xd[static_cast<std::size_t>(t * kb + 32 * b + j)] = X[t * ldx + 32 * b + 2 * j];
        Xd[static_cast<std::size_t>(t * kb + 32 * b + 16 + j)] = X[t * ldx + 32 * b + 2 * j + 1];
      }
  return Xd;
}

// xd: deinterleave_bf16_order(X, ...) when the caller has it, else null and it is made here.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void dense_rows_avx512(
    const std::uint16_t* W, index_t k, index_t n0, index_t n1, const float* X, index_t tokens,
    index_t ldx, float* Y, index_t ldy, const float* xd = nullptr) {
  const index_t blocks = k / 32, kb = 32 * blocks;
  std::vector<float> own;
  if (!xd) {
    own = deinterleave_bf16_order(X, tokens, ldx, k);
    xd = own.data();
  }
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2)
      dense_block_bf16_avx512<2, 4>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy);
    for (; n < n1; ++n)
      dense_block_bf16_avx512<1, 4>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy);
  }
  for (; t < tokens; ++t) {
    index_t n = n0;
    for (; n + 8 <= n1; n += 8)  // 8 rows: 16 accumulator chains and 8 prefetch streams
      dense_block_bf16_avx512<8, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy);
    for (; n + 4 <= n1; n += 4)
      dense_block_bf16_avx512<4, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy);
    for (; n < n1; ++n)
      dense_block_bf16_avx512<1, 1>(W, k, blocks, n, xd + t * kb, kb, Y + t * ldy, ldy);
  }
  if (kb == k) return;
  // The last k % 32 columns: widened 16 at a time (masked), added to what the blocks summed.
  for (index_t tt = 0; tt < tokens; ++tt)
    for (index_t n = n0; n < n1; ++n) {
      __m512 acc = _mm512_setzero_ps();
      for (index_t i = kb; i < k; i += 16) {
        const index_t len = std::min<index_t>(16, k - i);
        const auto m = static_cast<__mmask16>((1u << len) - 1u);
        acc = _mm512_fmadd_ps(head_load16(W + n * k + i, m),
                              _mm512_maskz_loadu_ps(m, X + tt * ldx + i), acc);
      }
      Y[tt * ldy + n] += head_hsum512(acc);
    }
}

__attribute__((target("avx2,fma"))) inline __m256 head_load8(const float* w) {
  return _mm256_loadu_ps(w);
}
__attribute__((target("avx2,fma"))) inline __m256 head_load8(const std::uint16_t* w) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx2,fma"))) inline float head_hsum256(__m256 v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

template <int RB, int TB, class T>
__attribute__((target("avx2,fma"))) void dense_block_avx2(const T* W, index_t k, index_t n,
                                                          const float* X, index_t ldx, float* Y,
                                                          index_t ldy) {
  __m256 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_setzero_ps();
  index_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 x[TB];
    for (int t = 0; t < TB; ++t) x[t] = _mm256_loadu_ps(X + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m256 w = head_load8(W + (n + r) * k + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_fmadd_ps(w, x[t], acc[r][t]);
    }
  }
  float tail[RB][TB] = {};
  for (; i < k; ++i)
    for (int r = 0; r < RB; ++r)
      for (int t = 0; t < TB; ++t) tail[r][t] += load_elem(W + (n + r) * k, i) * X[t * ldx + i];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) Y[t * ldy + n + r] = head_hsum256(acc[r][t]) + tail[r][t];
}

template <class T>
__attribute__((target("avx2,fma"))) void dense_rows_avx2(const T* W, index_t k, index_t n0,
                                                         index_t n1, const float* X, index_t tokens,
                                                         index_t ldx, float* Y, index_t ldy) {
  index_t t = 0;
  for (; t + 4 <= tokens; t += 4) {
    index_t n = n0;
    for (; n + 2 <= n1; n += 2) dense_block_avx2<2, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) dense_block_avx2<1, 4>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
  for (; t < tokens; ++t) {
    index_t n = n0;
    for (; n + 4 <= n1; n += 4) dense_block_avx2<4, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; n < n1; ++n) dense_block_avx2<1, 1>(W, k, n, X + t * ldx, ldx, Y + t * ldy, ldy);
  }
}
#endif

// xd_bf16: the activations in deinterleave_bf16_order, used by the AVX-512 BF16 path (optional).
template <class T>
void dense_rows(head_path path, const T* W, index_t k, index_t n0, index_t n1, const float* X,
                index_t tokens, index_t ldx, float* Y, index_t ldy,
                const float* xd_bf16 = nullptr) {
#if BITLIN_HEAD_X86
  if (path == head_path::avx512) {
    if constexpr (std::is_same_v<T, std::uint16_t>)
      return dense_rows_avx512(W, k, n0, n1, X, tokens, ldx, Y, ldy, xd_bf16);
    else
      return dense_rows_avx512(W, k, n0, n1, X, tokens, ldx, Y, ldy);
  }
  if (path == head_path::avx2) return dense_rows_avx2(W, k, n0, n1, X, tokens, ldx, Y, ldy);
#endif
  (void)path;
  (void)xd_bf16;
  dense_rows_scalar(W, k, n0, n1, X, tokens, ldx, Y, ldy);
}

}  // namespace detail

// A [rows x cols] float table stored row-major as F32 or BF16 (the raw 16-bit patterns).
class dense_matrix {
 public:
  dense_matrix() = default;

  static dense_matrix from_f32(Eigen::Ref<const matrix_f> m, dense_storage s = dense_storage::f32) {
    dense_matrix d;
    d.rows_ = m.rows();
    d.cols_ = m.cols();
    d.storage_ = s;
    const auto count = static_cast<std::size_t>(d.rows_ * d.cols_);
    if (s == dense_storage::f32) {
      d.f32_.resize(count);
      for (index_t r = 0; r < d.rows_; ++r)
        for (index_t c = 0; c < d.cols_; ++c)
          d.f32_[static_cast<std::size_t>(r * d.cols_ + c)] = m(r, c);
    } else {
      d.bf16_.resize(count);
      for (index_t r = 0; r < d.rows_; ++r)
        for (index_t c = 0; c < d.cols_; ++c)
          d.bf16_[static_cast<std::size_t>(r * d.cols_ + c)] = io::f32_to_bf16(m(r, c));
    }
    return d;
  }
  static dense_matrix from_f32(index_t rows, index_t cols, std::vector<float> data) {
    BITLIN_REQUIRE(static_cast<index_t>(data.size()) == rows * cols, shape_error,
                   "dense_matrix: ", data.size(), " values for a ", rows, " x ", cols, " matrix");
    dense_matrix d;
    d.rows_ = rows;
    d.cols_ = cols;
    d.storage_ = dense_storage::f32;
    d.f32_ = std::move(data);
    return d;
  }
  static dense_matrix from_bf16(index_t rows, index_t cols, std::vector<std::uint16_t> data) {
    BITLIN_REQUIRE(static_cast<index_t>(data.size()) == rows * cols, shape_error,
                   "dense_matrix: ", data.size(), " values for a ", rows, " x ", cols, " matrix");
    dense_matrix d;
    d.rows_ = rows;
    d.cols_ = cols;
    d.storage_ = dense_storage::bf16;
    d.bf16_ = std::move(data);
    return d;
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  dense_storage storage() const { return storage_; }
  std::size_t bytes() const {
    return f32_.size() * sizeof(float) + bf16_.size() * sizeof(std::uint16_t);
  }
  const float* f32_data() const { return f32_.data(); }
  const std::uint16_t* bf16_data() const { return bf16_.data(); }

  // Row r widened to float (an embedding lookup).
  void row(index_t r, float* out) const {
    BITLIN_REQUIRE(r >= 0 && r < rows_, value_error, "dense_matrix: row ", r, " out of range [0, ",
                   rows_, ")");
    const auto off = static_cast<std::size_t>(r * cols_);
    if (storage_ == dense_storage::f32)
      std::memcpy(out, f32_.data() + off, static_cast<std::size_t>(cols_) * sizeof(float));
    else
      io::bf16_to_f32(bf16_.data() + off, out, static_cast<std::size_t>(cols_));
  }

  // Y[t, n] = sum_k X[t, k] * this[n, k] for t < tokens, n < rows(); X rows are cols() long.
  void multiply(const float* X, index_t tokens, index_t ldx, float* Y, index_t ldy,
                const executor& ex = serial(), head_path path = best_head_path()) const {
    BITLIN_REQUIRE(ldx >= cols_ && ldy >= rows_ && tokens >= 0, shape_error,
                   "dense_matrix::multiply: leading dimensions ", ldx, "/", ldy, " too small for ",
                   rows_, " x ", cols_);
    // Rows are split between threads so each weight byte is read once whatever the token count.
    const index_t grain = 64;
    std::vector<float> xd;  // the BF16 AVX-512 path's activation order, shared by every chunk
#if BITLIN_HEAD_X86
    if (storage_ == dense_storage::bf16 && path == head_path::avx512)
      xd = detail::deinterleave_bf16_order(X, tokens, ldx, cols_);
#endif
    ex.parallel_for(rows_, grain, [&](index_t n0, index_t n1) {
      if (storage_ == dense_storage::f32)
        detail::dense_rows(path, f32_.data(), cols_, n0, n1, X, tokens, ldx, Y, ldy);
      else
        detail::dense_rows(path, bf16_.data(), cols_, n0, n1, X, tokens, ldx, Y, ldy,
                           xd.empty() ? nullptr : xd.data());
    });
  }

 private:
  index_t rows_ = 0, cols_ = 0;
  dense_storage storage_ = dense_storage::f32;
  std::vector<float> f32_;
  std::vector<std::uint16_t> bf16_;
};

namespace detail {

// acc[t, n] = sum_k xu[t, k] * q[n, k] with xu = x + 128 as unsigned bytes (the form vpdpbusd
// multiplies); exact in int32 for any K below 2^31 / (255 * 128).
inline void int8_head_rows_scalar(const std::int8_t* q, index_t k, index_t n0, index_t n1,
                                  const std::uint8_t* xu, std::int32_t* acc) {
  for (index_t n = n0; n < n1; ++n) {
    std::int32_t a = 0;
    for (index_t i = 0; i < k; ++i) a += static_cast<std::int32_t>(xu[i]) * q[n * k + i];
    acc[n] = a;
  }
}

#if BITLIN_HEAD_X86
// Through memory: GCC 12 warns falsely (-Wmaybe-uninitialized) on the shuffle intrinsics.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline std::int32_t head_hsum_epi32(
    __m512i v) {
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, v);
  std::int32_t s = 0;
  for (std::int32_t x : lanes) s += x;
  return s;
}

// Four rows per pass share each 64-byte activation load; one vpdpbusd per row per 64 weights.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void int8_head_rows_avx512(
    const std::int8_t* q, index_t k, index_t n0, index_t n1, const std::uint8_t* xu,
    std::int32_t* acc) {
  const index_t kb = k / 64 * 64;
  const auto tail = static_cast<__mmask64>(k == kb ? 0 : (~0ull >> (64 - (k - kb))));
  index_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    const std::int8_t* w = q + n * k;
    for (index_t i = 0; i < kb; i += 64) {
      const __m512i x = _mm512_loadu_si512(xu + i);
      a0 = _mm512_dpbusd_epi32(a0, x, _mm512_loadu_si512(w + i));
      a1 = _mm512_dpbusd_epi32(a1, x, _mm512_loadu_si512(w + k + i));
      a2 = _mm512_dpbusd_epi32(a2, x, _mm512_loadu_si512(w + 2 * k + i));
      a3 = _mm512_dpbusd_epi32(a3, x, _mm512_loadu_si512(w + 3 * k + i));
    }
    if (tail) {
      const __m512i x = _mm512_maskz_loadu_epi8(tail, xu + kb);
      a0 = _mm512_dpbusd_epi32(a0, x, _mm512_maskz_loadu_epi8(tail, w + kb));
      a1 = _mm512_dpbusd_epi32(a1, x, _mm512_maskz_loadu_epi8(tail, w + k + kb));
      a2 = _mm512_dpbusd_epi32(a2, x, _mm512_maskz_loadu_epi8(tail, w + 2 * k + kb));
      a3 = _mm512_dpbusd_epi32(a3, x, _mm512_maskz_loadu_epi8(tail, w + 3 * k + kb));
    }
    acc[n] = head_hsum_epi32(a0);
    acc[n + 1] = head_hsum_epi32(a1);
    acc[n + 2] = head_hsum_epi32(a2);
    acc[n + 3] = head_hsum_epi32(a3);
  }
  for (; n < n1; ++n) {
    __m512i a0 = _mm512_setzero_si512();
    const std::int8_t* w = q + n * k;
    for (index_t i = 0; i < kb; i += 64)
      a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(xu + i), _mm512_loadu_si512(w + i));
    if (tail)
      a0 = _mm512_dpbusd_epi32(a0, _mm512_maskz_loadu_epi8(tail, xu + kb),
                               _mm512_maskz_loadu_epi8(tail, w + kb));
    acc[n] = head_hsum_epi32(a0);
  }
}
#endif

}  // namespace detail

inline bool int8_head_avx512_supported() {
#if BITLIN_HEAD_X86
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return ok;
#else
  return false;
#endif
}

// The optional 8-bit head: each row of the table quantized to int8 with its own scale
// (absmax, W ~= q * row_scale), and the activations quantized per token to int8 (absmax) before
// an exact integer dot product. It halves the bytes a BF16 head reads per decoded token; the
// price is two extra roundings, so it is opt-in and checked against the fixture band.
class int8_head {
 public:
  int8_head() = default;
  explicit int8_head(const dense_matrix& m) : rows_(m.rows()), cols_(m.cols()) {
    q_.resize(static_cast<std::size_t>(rows_ * cols_));
    scale_.resize(static_cast<std::size_t>(rows_));
    row_sum_.resize(static_cast<std::size_t>(rows_));
    std::vector<float> row(static_cast<std::size_t>(cols_));
    for (index_t n = 0; n < rows_; ++n) {
      m.row(n, row.data());
      std::int8_t* q = q_.data() + n * cols_;
      const float s = absmax_quantize_row(row.data(), cols_, q);
      scale_[static_cast<std::size_t>(n)] = 1.0f / s;
      std::int32_t sum = 0;
      for (index_t i = 0; i < cols_; ++i) sum += q[i];
      row_sum_[static_cast<std::size_t>(n)] = sum;
    }
  }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  std::size_t bytes() const {
    return q_.size() + (scale_.size() + row_sum_.size()) * sizeof(float);
  }

  // Y[t, n] ~= sum_k X[t, k] * W[n, k]; `vectorized` false forces the scalar loop (for tests).
  void multiply(const float* X, index_t tokens, index_t ldx, float* Y, index_t ldy,
                const executor& ex = serial(), bool vectorized = true) const {
    BITLIN_REQUIRE(ldx >= cols_ && ldy >= rows_ && tokens >= 0, shape_error,
                   "int8_head::multiply: leading dimensions ", ldx, "/", ldy, " too small for ",
                   rows_, " x ", cols_);
    std::vector<std::int8_t> xq(static_cast<std::size_t>(cols_));
    std::vector<std::uint8_t> xu(static_cast<std::size_t>(cols_));
    std::vector<std::int32_t> acc(static_cast<std::size_t>(rows_));
    const bool simd = vectorized && int8_head_avx512_supported();
    for (index_t t = 0; t < tokens; ++t) {
      const float sx = absmax_quantize_row(X + t * ldx, cols_, xq.data());
      for (index_t i = 0; i < cols_; ++i)
        xu[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(xq[static_cast<std::size_t>(i)] + 128);
      ex.parallel_for(rows_, 256, [&](index_t n0, index_t n1) {
        (void)simd;
#if BITLIN_HEAD_X86
        if (simd)
          return detail::int8_head_rows_avx512(q_.data(), cols_, n0, n1, xu.data(), acc.data());
#endif
        detail::int8_head_rows_scalar(q_.data(), cols_, n0, n1, xu.data(), acc.data());
      });
      float* y = Y + t * ldy;
      for (index_t n = 0; n < rows_; ++n) {
        const auto i = static_cast<std::size_t>(n);
        y[n] = static_cast<float>(acc[i] - 128 * row_sum_[i]) * scale_[i] / sx;
      }
    }
  }

 private:
  index_t rows_ = 0, cols_ = 0;
  std::vector<std::int8_t> q_;
  std::vector<float> scale_;
  std::vector<std::int32_t> row_sum_;
};

}  // namespace bitlin::model
