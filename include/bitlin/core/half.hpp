// IEEE 754 binary16 ("F16") and bfloat16 ("BF16") <-> float conversions for checkpoint I/O.
// Checkpoints store norms, embeddings and scales in 16-bit floats, while every bitlin computation
// runs in float, so these conversions sit on the load/save path only. They are scalar, portable and
// exact: widening is lossless, narrowing rounds to nearest with ties to even (what PyTorch's
// .half() and .bfloat16() do), overflows to infinity, and produces subnormals rather than flushing
// them.
//
// NaN: the sign and the top payload bits are kept, so a 16-bit NaN survives a round trip through
// float bit for bit (signalling or quiet). A float NaN whose payload lives only in the bits that
// narrowing drops becomes the quiet NaN of that sign, never an infinity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bitlin::io {

namespace detail {
inline std::uint32_t float_bits(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

inline float f16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return detail::bits_float(sign | 0x7f800000u | (mant << 13));  // Inf/NaN
  if (exp != 0) return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return detail::bits_float(sign);  // signed zero
  // Subnormal half m * 2^-24: shift the leading one up to the implicit-bit position; each shift
  // lowers the float exponent by one, starting from that of 2^-14.
  std::uint32_t e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return detail::bits_float(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

inline std::uint16_t f32_to_f16(float f) noexcept {
  const std::uint32_t x = detail::float_bits(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN: keep the top payload bits; never let it collapse to Inf
    auto m = static_cast<std::uint16_t>((a >> 13) & 0x3ffu);
    if (m == 0) m = 0x200;
    return static_cast<std::uint16_t>(sign | 0x7c00u | m);
  }
  // 65520 = 65504 (largest half) + half an ulp; the tie rounds to the even neighbour, infinity.
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (a >= 0x38800000u) {  // result is a normal half (or rounds up into the next binade)
    const std::uint32_t r = a + 0xfffu + ((a >> 13) & 1u);  // round to nearest even at bit 13
    return static_cast<std::uint16_t>(sign | ((r >> 13) - (112u << 10)));
  }
  // 2^-25 is the tie between 0 and the smallest subnormal 2^-24; it rounds to even, i.e. zero.
  if (a <= 0x33000000u) return sign;
  // Subnormal half: m = round(|f| * 2^24), where |f| = mant * 2^(e - 150).
  const std::uint32_t e = a >> 23;  // 102 .. 112
  const std::uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - e;  // 14 .. 24
  std::uint32_t m = mant >> shift;
  const std::uint32_t rem = mant & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (m & 1u))) ++m;  // m == 0x400 encodes 2^-14 correctly
  return static_cast<std::uint16_t>(sign | m);
}

inline float bf16_to_f32(std::uint16_t b) noexcept {
  return detail::bits_float(static_cast<std::uint32_t>(b) << 16);
}

inline std::uint16_t f32_to_bf16(float f) noexcept {
  const std::uint32_t x = detail::float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) {  // NaN: truncate, but keep it a NaN
    auto b = static_cast<std::uint16_t>(x >> 16);
    if ((b & 0x7fu) == 0) b = static_cast<std::uint16_t>(b | 0x40u);
    return b;
  }
  // Round to nearest even at bit 16; a carry out of the mantissa bumps the exponent, and past the
  // largest finite value lands exactly on infinity.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline void f16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
inline void f32_to_f16(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}
inline void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}
inline void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace bitlin::io
