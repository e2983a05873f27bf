// F16 / BF16 conversions: widening checked against the formats' definitions for every bit pattern,
// narrowing checked by round trips, by every rounding tie between adjacent 16-bit values, by a
// nearest-value property over a sweep of float bit patterns and, on x86 with F16C, against the
// hardware converter.
#include <bitlin/core/half.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define BITLIN_TEST_HAVE_F16C 1
#endif

#include "catch.hpp"

using namespace bitlin::io;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The value a binary16 / bfloat16 pattern denotes, computed from the format definition in double.
double f16_value(std::uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  if (e == 0x1f) v = m ? std::numeric_limits<double>::quiet_NaN() : HUGE_VAL;
  return s ? -v : v;
}
double bf16_value(std::uint16_t b) {
  const int s = b >> 15, e = (b >> 7) & 0xff, m = b & 0x7f;
  double v = e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134);
  if (e == 0xff) v = m ? std::numeric_limits<double>::quiet_NaN() : HUGE_VAL;
  return s ? -v : v;
}

#ifdef BITLIN_TEST_HAVE_F16C
__attribute__((target("f16c"))) std::uint16_t hw_f32_to_f16(float f) {
  // imm 0: round to nearest even, independent of MXCSR
  return static_cast<std::uint16_t>(_mm_cvtsi128_si32(_mm_cvtps_ph(_mm_set_ss(f), 0)) & 0xffff);
}
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

// Narrowing must return a nearest representable value, the even one on a tie. Checked on |x| so
// that the neighbours of the result are r - 1 and r + 1 in bit order.
template <class ToHalf, class Value>
void check_nearest(float x, std::uint16_t inf_bits, double overflow_tie, ToHalf to_half,
                   Value value) {
  if (std::isnan(x)) return;
  const float ax = std::fabs(x);
  const std::uint16_t r = to_half(ax);
  INFO("x bits " << bits_of(x) << " -> " << r);
  REQUIRE((to_half(-ax) ^ r) == 0x8000);  // symmetric in the sign
  if (r == inf_bits) {
    REQUIRE(static_cast<double>(ax) >= overflow_tie);
    return;
  }
  REQUIRE(r < inf_bits);
  const double d = std::fabs(static_cast<double>(ax) - value(r));
  const double up = std::fabs(static_cast<double>(ax) - value(static_cast<std::uint16_t>(r + 1)));
  REQUIRE(d <= up);
  if (d == up) REQUIRE((r & 1) == 0);
  if (r > 0) {
    const double down =
        std::fabs(static_cast<double>(ax) - value(static_cast<std::uint16_t>(r - 1)));
    REQUIRE(d <= down);
    if (d == down) REQUIRE((r & 1) == 0);
  }
}

}  // namespace

TEST_CASE("f16_to_f32 is exact for every finite and infinite half", "[half]") {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<std::uint16_t>(i);
    const float f = f16_to_f32(h);
    const double want = f16_value(h);
    INFO("half bits " << i);
    if (std::isnan(want)) {
      REQUIRE(std::isnan(f));
    } else {
      REQUIRE(static_cast<double>(f) == want);
    }
    REQUIRE(std::signbit(f) == ((i & 0x8000) != 0));
  }
}

TEST_CASE("bf16_to_f32 is exact for every bfloat16", "[half]") {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto b = static_cast<std::uint16_t>(i);
    const float f = bf16_to_f32(b);
    const double want = bf16_value(b);
    INFO("bf16 bits " << i);
    if (std::isnan(want)) {
      REQUIRE(std::isnan(f));
    } else {
      REQUIRE(static_cast<double>(f) == want);
    }
    REQUIRE(std::signbit(f) == ((i & 0x8000) != 0));
  }
}

TEST_CASE("every half and bfloat16 pattern survives a round trip through float", "[half]") {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<std::uint16_t>(i);
    INFO("bits " << i);
    REQUIRE(f32_to_f16(f16_to_f32(h)) == h);  // NaN payloads included
    REQUIRE(f32_to_bf16(bf16_to_f32(h)) == h);
  }
}

TEST_CASE("f32_to_f16 rounds every tie between adjacent halves to even", "[half]") {
  // Adjacent positive finite halves h, h + 1 (h + 1 = 0x7c00 is the overflow to infinity, whose
  // "value" for rounding purposes is 65536). Their midpoint has 12 significant bits: exact in
  // float.
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = f16_value(static_cast<std::uint16_t>(h));
    const double hi = h + 1 == 0x7c00 ? 65536.0 : f16_value(static_cast<std::uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    const auto even = static_cast<std::uint16_t>((h & 1) ? h + 1 : h);
    INFO("between " << h << " and " << h + 1);
    REQUIRE(f32_to_f16(mid) == even);
    REQUIRE(f32_to_f16(-mid) == (even | 0x8000));
    REQUIRE(f32_to_f16(std::nextafter(mid, 0.0f)) == h);
    REQUIRE(f32_to_f16(std::nextafter(mid, HUGE_VALF)) == h + 1);
  }
}

TEST_CASE("f32_to_bf16 rounds every tie between adjacent bfloat16 values to even", "[half]") {
  for (std::uint32_t b = 0; b < 0x7f80; ++b) {
    const double lo = bf16_value(static_cast<std::uint16_t>(b));
    const double hi =
        b + 1 == 0x7f80 ? std::ldexp(1.0, 128) : bf16_value(static_cast<std::uint16_t>(b + 1));
    const double mid_d = (lo + hi) / 2;
    INFO("between " << b << " and " << b + 1);
    if (b + 1 == 0x7f80) {
      // The overflow tie is not a float; FLT_MAX lies above it and must round to infinity.
      REQUIRE(static_cast<double>(std::numeric_limits<float>::max()) > mid_d);
      REQUIRE(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);
      REQUIRE(f32_to_bf16(from_bits(0x7f7f7fffu)) == 0x7f7f);
      continue;
    }
    const auto mid = static_cast<float>(mid_d);
    REQUIRE(static_cast<double>(mid) == mid_d);
    const auto even = static_cast<std::uint16_t>((b & 1) ? b + 1 : b);
    REQUIRE(f32_to_bf16(mid) == even);
    REQUIRE(f32_to_bf16(-mid) == (even | 0x8000));
    REQUIRE(f32_to_bf16(std::nextafter(mid, 0.0f)) == b);
    REQUIRE(f32_to_bf16(std::nextafter(mid, HUGE_VALF)) == b + 1);
  }
}

TEST_CASE("narrowing returns a nearest value over a sweep of float bit patterns", "[half]") {
  auto f16 = [](float x) { return f32_to_f16(x); };
  auto bf16 = [](float x) { return f32_to_bf16(x); };
  // Stride 4099 (prime) visits every exponent with varied low mantissa bits: about a million
  // floats.
  for (std::uint64_t u = 0; u < (1ull << 31); u += 4099) {
    const float x = from_bits(static_cast<std::uint32_t>(u));
    check_nearest(x, 0x7c00, 65520.0, f16, f16_value);
    check_nearest(x, 0x7f80, std::ldexp(1.0, 128) - std::ldexp(1.0, 119), bf16, bf16_value);
  }
}

TEST_CASE("overflow, underflow, infinities and NaN", "[half]") {
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(std::nextafter(65520.0f, 0.0f)) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);
  CHECK(f32_to_f16(-65520.0f) == 0xfc00);
  CHECK(f32_to_f16(1e10f) == 0x7c00);
  CHECK(f32_to_f16(std::numeric_limits<float>::max()) == 0x7c00);
  CHECK(f32_to_f16(HUGE_VALF) == 0x7c00);
  CHECK(f32_to_f16(-HUGE_VALF) == 0xfc00);
  CHECK(f32_to_bf16(HUGE_VALF) == 0x7f80);
  CHECK(f32_to_bf16(-HUGE_VALF) == 0xff80);

  const float tiny = std::ldexp(1.0f, -25);  // half of the smallest subnormal half
  CHECK(f32_to_f16(tiny) == 0x0000);
  CHECK(f32_to_f16(-tiny) == 0x8000);
  CHECK(f32_to_f16(std::nextafter(tiny, 1.0f)) == 0x0001);
  CHECK(f32_to_f16(1e-30f) == 0x0000);
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK(f32_to_f16(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);
  CHECK(f32_to_f16(std::nextafter(std::ldexp(1.0f, -14), 0.0f)) == 0x0400);  // rounds up a binade
  // bfloat16 keeps float's exponent range, so float subnormals stay subnormal.
  CHECK(f32_to_bf16(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(f32_to_bf16(from_bits(0x00010000u)) == 0x0001);
  CHECK(f32_to_bf16(-0.0f) == 0x8000);

  // NaNs whose payload sits only in the bits narrowing drops must stay NaN, not become Inf.
  for (std::uint32_t nan_bits : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7f801000u}) {
    const float nan = from_bits(nan_bits);
    const std::uint16_t h = f32_to_f16(nan);
    const std::uint16_t b = f32_to_bf16(nan);
    INFO("nan bits " << nan_bits);
    CHECK(std::isnan(f16_to_f32(h)));
    CHECK(std::isnan(bf16_to_f32(b)));
    CHECK(((h & 0x8000) != 0) == ((nan_bits >> 31) != 0));
    CHECK(((b & 0x8000) != 0) == ((nan_bits >> 31) != 0));
  }
  CHECK(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("bulk conversions agree with the scalar ones", "[half]") {
  std::vector<std::uint16_t> bits(65536);
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<std::uint16_t>(i);
  std::vector<float> f(bits.size());
  std::vector<std::uint16_t> back(bits.size());

  f16_to_f32(bits.data(), f.data(), bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i)
    REQUIRE(bits_of(f[i]) == bits_of(f16_to_f32(bits[i])));
  f32_to_f16(f.data(), back.data(), f.size());
  REQUIRE(back == bits);

  bf16_to_f32(bits.data(), f.data(), bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i)
    REQUIRE(bits_of(f[i]) == bits_of(bf16_to_f32(bits[i])));
  f32_to_bf16(f.data(), back.data(), f.size());
  REQUIRE(back == bits);

  f16_to_f32(nullptr, nullptr, 0);  // empty ranges are fine
  f32_to_bf16(nullptr, nullptr, 0);
}

#ifdef BITLIN_TEST_HAVE_F16C
TEST_CASE("f32_to_f16 matches the F16C hardware converter", "[half]") {
  if (!cpu_has_f16c()) {
    WARN("no F16C on this CPU; hardware comparison skipped");
    return;
  }
  // Every 61st float bit pattern (about 70 million), skipping NaNs, whose quieting differs.
  std::uint64_t mismatches = 0, first = 0;
  for (std::uint64_t u = 0; u < (1ull << 32); u += 61) {
    const float x = from_bits(static_cast<std::uint32_t>(u));
    if (std::isnan(x)) continue;
    if (f32_to_f16(x) != hw_f32_to_f16(x) && mismatches++ == 0) first = u;
  }
  INFO("first mismatch at float bits " << first);
  REQUIRE(mismatches == 0);
}
#endif
