// GGUF reading and writing: metadata of every type (nested arrays included) and tensors of every
// converted type round-trip; the ternary layouts are checked position by position against the
// formats' definitions (written out independently here); and every malformed-file rule of the
// reader has its own test, on files assembled byte by byte (not by the writer under test).
#include <cmath>
#include <filesystem>
#include <cstring>
#include <set>
#include <random>
#include <string>
#include <vector>

#include "bitlin/io/gguf.hpp"
#include "catch.hpp"
#include "fixtures.hpp"

using namespace bitlin;
using namespace bitlin::io;

namespace {

// A little-endian byte builder for hand-made GGUF files.
struct bytes_builder {
  std::vector<std::uint8_t> b;
  template <class T>
  bytes_builder& put(T v) {
    std::uint8_t x[sizeof(T)];
    std::memcpy(x, &v, sizeof(T));
    b.insert(b.end(), x, x + sizeof(T));
    return *this;
  }
  bytes_builder& str(const std::string& s) {
    put<std::uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  bytes_builder& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
    put<std::uint32_t>(0x46554747u).put<std::uint32_t>(version).put(tensors).put(kvs);
    return *this;
  }
  bytes_builder& kv_u32(const std::string& k, std::uint32_t v) {
    str(k).put<std::uint32_t>(4).put(v);
    return *this;
  }
  bytes_builder& tensor(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type,
                        std::uint64_t offset) {
    str(name).put<std::uint32_t>(static_cast<std::uint32_t>(ne.size()));
    for (auto n : ne) put(n);
    put(type).put(offset);
    return *this;
  }
  bytes_builder& pad(std::size_t align = 32) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  bytes_builder& zeros(std::size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

std::string error_of(std::vector<std::uint8_t> bytes) {
  try {
    gguf_file::from_bytes(std::move(bytes), "t.gguf");
  } catch (const format_error& e) {
    return e.what();
  }
  return "(no error)";
}

#define REQUIRE_GGUF_ERROR(bytes, substring)          \
  do {                                                \
    const std::string msg_ = error_of(bytes);         \
    INFO(msg_);                                       \
    CHECK(msg_.find(substring) != std::string::npos); \
  } while (0)

matrix_i8 random_trits(index_t rows, index_t cols, unsigned seed, double zero_p = 0.3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  matrix_i8 t(rows, cols);
  for (index_t i = 0; i < t.size(); ++i) {
    const double x = u(rng);
    t.data()[i] = x < zero_p ? 0 : (x < (1 + zero_p) / 2 ? -1 : 1);
  }
  return t;
}

// A valid file with one F32 tensor [4] at offset 0, built by hand.
std::vector<std::uint8_t> minimal_file() {
  bytes_builder w;
  w.header(1, 1).kv_u32("general.alignment", 32).tensor("x", {4}, 0, 0).pad();
  for (float f : {1.0f, 2.0f, 3.0f, 4.0f}) w.put(f);
  return w.b;
}

}  // namespace

TEST_CASE("gguf: a hand-built minimal file reads", "[io][gguf]") {
  const auto f = gguf_file::from_bytes(minimal_file());
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  REQUIRE(f.tensors().size() == 1);
  CHECK(f.read_f32("x") == std::vector<float>{1, 2, 3, 4});
  CHECK(f.get_uint("general.alignment") == 32);
}

TEST_CASE("gguf: every metadata type, nested arrays and every tensor type round-trip",
          "[io][gguf]") {
  gguf_writer w;
  w.set("general.alignment", gguf_value::of_u32(64));
  gguf_value v;
  v.type = gguf_type::u8;
  v.u = 200;
  w.set("u8", v);
  v.type = gguf_type::i8;
  v.i = -100;
  w.set("i8", v);
  v.type = gguf_type::u16;
  v.u = 60000;
  w.set("u16", v);
  v.type = gguf_type::i16;
  v.i = -30000;
  w.set("i16", v);
  w.set_u32("u32", 4000000000u);
  w.set("i32", gguf_value::of_i32(-2000000000));
  w.set_f32("f32", 0.1f);
  w.set_bool("bool", true);
  w.set_string("string", std::string("h\xC3\xA9llo\0x", 8));
  w.set("u64", gguf_value::of_u64(~std::uint64_t{0}));
  v.type = gguf_type::i64;
  v.i = std::numeric_limits<std::int64_t>::min();
  w.set("i64", v);
  w.set("f64", gguf_value::of_f64(1e300));
  w.set("strings", gguf_value::of_strings({"a", "", "b c"}));
  w.set("ints", gguf_value::of_numbers<std::int32_t>(gguf_type::i32, {1, -2, 3}));
  w.set("floats", gguf_value::of_numbers<float>(gguf_type::f32, {0.5f, -1.0f}));
  w.set("bools", gguf_value::of_numbers<std::uint8_t>(gguf_type::boolean, {1, 0}));
  w.set("nested", gguf_value::of_arrays(gguf_type::array,
                                        {gguf_value::of_strings({"x"}),
                                         gguf_value::of_numbers<std::uint16_t>(gguf_type::u16, {7}),
                                         gguf_value::of_arrays(gguf_type::array, {})}));

  const std::vector<float> f32v = {1.5f, -2.0f, 3.25f};
  std::vector<std::uint8_t> b(12);
  std::memcpy(b.data(), f32v.data(), 12);
  w.add_tensor("f32", ggml_type::f32, {3}, b);
  std::vector<std::uint8_t> h(6), hb(6);
  for (int k = 0; k < 3; ++k) {
    const std::uint16_t x = f32_to_f16(f32v[static_cast<std::size_t>(k)]);
    const std::uint16_t y = f32_to_bf16(f32v[static_cast<std::size_t>(k)]);
    std::memcpy(h.data() + 2 * k, &x, 2);
    std::memcpy(hb.data() + 2 * k, &y, 2);
  }
  w.add_tensor("f16", ggml_type::f16, {3}, h);
  w.add_tensor("bf16", ggml_type::bf16, {3}, hb);
  const matrix_i8 t = random_trits(3, 512, 1);
  w.add_tensor("tq2", ggml_type::tq2_0, {512, 3}, encode_tq2_0(t, 0.03125f));
  w.add_tensor("tq1", ggml_type::tq1_0, {512, 3}, encode_tq1_0(t, 0.03125f));
  w.add_tensor("i2s", ggml_type::i2_s, {512, 3}, encode_i2_s(t, 0.0123f));

  const auto bytes = w.to_bytes();
  const auto f = gguf_file::from_bytes(bytes);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() % 64 == 0);
  for (const auto& t2 : f.tensors()) CHECK(t2.offset % 64 == 0);
  CHECK(f.get("u8").u == 200);
  CHECK(f.get("i8").i == -100);
  CHECK(f.get("u16").u == 60000);
  CHECK(f.get("i16").i == -30000);
  CHECK(f.get_uint("u32") == 4000000000u);
  CHECK(f.get("i32").i == -2000000000);
  CHECK(f.get_float("f32") == static_cast<double>(0.1f));
  CHECK(f.get_bool("bool"));
  CHECK(f.get_string("string") == std::string("h\xC3\xA9llo\0x", 8));
  CHECK(f.get_uint("u64") == ~std::uint64_t{0});
  CHECK(f.get("i64").i == std::numeric_limits<std::int64_t>::min());
  CHECK(f.get_float("f64") == 1e300);
  CHECK(f.get_strings("strings") == std::vector<std::string>{"a", "", "b c"});
  CHECK(f.get_ints("ints") == std::vector<std::int64_t>{1, -2, 3});
  const auto& nested = f.get("nested");
  REQUIRE(nested.arrays.size() == 3);
  CHECK(nested.arrays[0].strings == std::vector<std::string>{"x"});
  CHECK(nested.arrays[1].element<std::uint16_t>(0) == 7);
  CHECK(nested.arrays[2].count == 0);
  CHECK_THROWS_AS(f.get_string("u32"), format_error);
  CHECK_THROWS_AS(f.get("missing"), format_error);
  CHECK_THROWS_AS(f.get_uint("i8"), format_error);  // negative

  CHECK(f.read_f32("f32") == f32v);
  CHECK(f.read_f32("f16") == f32v);  // exactly representable
  CHECK(f.read_f32("bf16") == f32v);
  for (const char* name : {"tq2", "tq1", "i2s"}) {
    CAPTURE(name);
    const gguf_ternary g = read_ternary(f, name);
    CHECK((g.trits.array() == t.array()).all());
    CHECK(g.uniform);
  }
  CHECK(read_ternary(f, "tq2").scale == 0.03125f);  // a power of two: exact in f16
  CHECK(read_ternary(f, "i2s").scale == 0.0123f);   // fp32, exact

  // Writing what was read gives the same bytes.
  gguf_writer w2;
  for (const auto& kv : f.metadata()) w2.set(kv.first, kv.second);
  for (const auto& ti : f.tensors())
    w2.add_tensor(ti.name, ti.type, ti.ne,
                  std::vector<std::uint8_t>(f.raw(ti.name), f.raw(ti.name) + ti.nbytes));
  CHECK(w2.to_bytes() == bytes);
}

TEST_CASE("gguf: TQ2_0 and I2_S put each weight where the formats say", "[io][gguf]") {
  // One non-zero weight at a time; the expected byte and bit follow the format descriptions in
  // ggml (TQ2_0) and bitnet.cpp (I2_S), computed here independently of the codec.
  for (int e : {0, 1, 31, 32, 33, 95, 127, 128, 129, 200, 255, 256, 300, 511}) {
    CAPTURE(e);
    matrix_i8 t = matrix_i8::Zero(1, 512);
    t(0, e) = 1;  // code 2
    const auto tq = encode_tq2_0(t, 1.0f);
    const int block = e / 256, in = e % 256;
    const int byte = block * 66 + (in / 128) * 32 + in % 32, shift = 2 * ((in % 128) / 32);
    for (int k = 0; k < static_cast<int>(tq.size()); ++k) {
      if (k % 66 >= 64) continue;  // the scale
      const int want = k == byte ? (0x55 & ~(3 << shift)) | (2 << shift) : 0x55;
      if (tq[static_cast<std::size_t>(k)] != want) {
        FAIL_CHECK("TQ2_0 byte " << k << " is " << int{tq[static_cast<std::size_t>(k)]});
        break;
      }
    }
    const auto i2 = encode_i2_s(t, 1.0f);
    const int ib = (e / 128) * 32 + e % 32, ishift = 6 - 2 * ((e % 128) / 32);
    for (int k = 0; k < 128; ++k) {
      const int want = k == ib ? (0x55 & ~(3 << ishift)) | (2 << ishift) : 0x55;
      if (i2[static_cast<std::size_t>(k)] != want) {
        FAIL_CHECK("I2_S byte " << k << " is " << int{i2[static_cast<std::size_t>(k)]});
        break;
      }
    }
    float s;
    std::memcpy(&s, i2.data() + 128, 4);
    CHECK(s == 1.0f);
  }
  // The f16 scale sits after qs (little-endian binary16 of 1.0 is 0x3c00).
  const auto tq = encode_tq2_0(matrix_i8::Zero(1, 256), 1.0f);
  CHECK(tq[64] == 0x00);
  CHECK(tq[65] == 0x3c);
}

TEST_CASE("gguf: TQ1_0 base-3 bytes are ggml's ceil(q * 256 / 243) encodings", "[io][gguf]") {
  // The 243 canonical bytes: digit n (most significant first) of q comes back from byte b as
  // ((b * 3^n mod 256) * 3) >> 8.
  std::set<int> canonical;
  for (int q = 0; q < 243; ++q) {
    const int b = (q * 256 + 242) / 243;
    canonical.insert(b);
    int rest = q;
    int digits[5];
    for (int n = 4; n >= 0; --n) {
      digits[n] = rest % 3;
      rest /= 3;
    }
    for (int n = 0; n < 5; ++n) {
      const auto x = static_cast<std::uint8_t>(b * static_cast<int>(std::pow(3, n)));
      CHECK(((x * 3) >> 8) == digits[n]);
    }
  }
  CHECK(canonical.size() == 243);
  // Element positions: weight e = m + 32 n of the first 160 lives in byte m as digit n.
  for (int e : {0, 31, 32, 159, 160, 175, 176, 239, 240, 243, 244, 255}) {
    CAPTURE(e);
    matrix_i8 t = matrix_i8::Constant(1, 256, -1);  // digit 0 everywhere
    t(0, e) = 1;                                    // digit 2
    const auto tq = encode_tq1_0(t, 1.0f);
    int byte, digit;
    if (e < 160) {
      byte = e % 32, digit = e / 32;
    } else if (e < 240) {
      byte = 32 + (e - 160) % 16, digit = (e - 160) / 16;
    } else {
      byte = 48 + (e - 240) % 4, digit = (e - 240) / 4;
    }
    const int q = 2 * static_cast<int>(std::pow(3, 4 - digit));
    CHECK(int{tq[static_cast<std::size_t>(byte)]} == (q * 256 + 242) / 243);
    for (int k = 0; k < 52; ++k)
      if (k != byte) CHECK(tq[static_cast<std::size_t>(k)] == 0);
  }
  // Every byte decodes (the 13 non-canonical ones too), as llama.cpp decodes them.
  std::vector<std::uint8_t> blk(54, 0);
  for (int b = 0; b < 256; ++b) {
    std::fill(blk.begin(), blk.begin() + 52, static_cast<std::uint8_t>(b));
    CHECK_NOTHROW(decode_tq1_0(blk.data(), 1, 256));
  }
}

TEST_CASE(
    "gguf: ternary codecs round-trip trits exactly; TQ loses only the f16 rounding of the "
    "scale",
    "[io][gguf]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-8.0f, 2.0f);
  for (int rep = 0; rep < 20; ++rep) {
    const index_t rows = 1 + rep % 7, cols = 256 * (1 + rep % 3);
    const matrix_i8 t =
        random_trits(rows, cols, static_cast<unsigned>(rep), rep % 5 == 0 ? 1.0 : 0.3);
    const float s = std::exp2(u(rng)) * 1.2345f;
    for (ggml_type ty : {ggml_type::tq2_0, ggml_type::tq1_0, ggml_type::i2_s}) {
      CAPTURE(rep, ggml_type_name(ty));
      const auto bytes = encode_ternary(ty, t, s);
      const gguf_ternary g = ty == ggml_type::tq2_0   ? decode_tq2_0(bytes.data(), rows, cols)
                             : ty == ggml_type::tq1_0 ? decode_tq1_0(bytes.data(), rows, cols)
                                                      : decode_i2_s(bytes.data(), rows, cols);
      CHECK((g.trits.array() == t.array()).all());
      CHECK(g.uniform);
      const float want = ty == ggml_type::i2_s ? s : f16_to_f32(f32_to_f16(s));
      CHECK(g.scale == want);
      if (ty != ggml_type::i2_s) CHECK(std::fabs(g.scale - s) <= s * std::exp2(-11.0f));
    }
  }
  // A scale binary16 cannot hold is refused, not flushed; non-trits are refused.
  CHECK_THROWS_AS(encode_tq2_0(matrix_i8::Zero(1, 256), 1e-6f), value_error);
  CHECK_THROWS_AS(encode_tq1_0(matrix_i8::Zero(1, 256), 70000.0f), value_error);
  CHECK_THROWS_AS(encode_tq2_0(matrix_i8::Constant(1, 256, 2), 1.0f), value_error);
  CHECK_THROWS_AS(encode_tq2_0(matrix_i8::Zero(1, 128), 1.0f), shape_error);
  CHECK_THROWS_AS(encode_i2_s(matrix_i8::Zero(1, 100), 1.0f), shape_error);
}

TEST_CASE("gguf: per-block scales that disagree are reported, all-zero blocks ignored",
          "[io][gguf]") {
  matrix_i8 t = random_trits(2, 256, 9, 0.0);
  t.row(1).setZero();
  auto bytes = encode_tq2_0(t, 0.5f);
  const std::uint16_t zero = 0;
  std::memcpy(bytes.data() + 66 + 64, &zero, 2);  // an all-zero block with d = 0 (llama.cpp does)
  gguf_ternary g = decode_tq2_0(bytes.data(), 2, 256);
  CHECK(g.uniform);
  CHECK(g.scale == 0.5f);
  t.row(1).setOnes();
  bytes = encode_tq2_0(t, 0.5f);
  const std::uint16_t other = f32_to_f16(0.25f);
  std::memcpy(bytes.data() + 66 + 64, &other, 2);
  g = decode_tq2_0(bytes.data(), 2, 256);
  CHECK_FALSE(g.uniform);
  CHECK(g.block_scales == std::vector<float>{0.5f, 0.25f});
}

// ---- one test per malformed-file rule -------------------------------------------------------

TEST_CASE("gguf malformed: bad magic", "[io][gguf][malformed]") {
  auto b = minimal_file();
  b[0] = 'X';
  REQUIRE_GGUF_ERROR(b, "bad magic");
}

TEST_CASE("gguf malformed: unsupported version", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, 0, 1).b, "unsupported GGUF version 1");
}

TEST_CASE("gguf malformed: byte-swapped (big-endian) version", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, 0, 0x03000000u).b, "big-endian");
}

TEST_CASE("gguf malformed: truncation anywhere in the header or data", "[io][gguf][malformed]") {
  const auto full = minimal_file();
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    const std::string msg = error_of(
        std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    CHECK((msg.find("truncated") != std::string::npos ||
           msg.find("cannot fit") != std::string::npos ||
           msg.find("past the end") != std::string::npos));
  }
}

TEST_CASE("gguf malformed: key/value count larger than the file can hold",
          "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, std::uint64_t{1} << 60).zeros(64).b,
                     "metadata key/value count");
}

TEST_CASE("gguf malformed: tensor count larger than the file can hold", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(~std::uint64_t{0}, 0).zeros(64).b, "tensor count");
}

TEST_CASE("gguf malformed: string length beyond the file", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(8).put<std::uint64_t>(1000).zeros(10);
  REQUIRE_GGUF_ERROR(w.b, "value of metadata key 'k'");
}

TEST_CASE("gguf malformed: key longer than the cap", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).put<std::uint64_t>(gguf_file::max_name_bytes + 1).zeros(32);
  REQUIRE_GGUF_ERROR(w.b, "has length");
}

TEST_CASE("gguf malformed: unknown value type", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(13).zeros(16);
  REQUIRE_GGUF_ERROR(w.b, "unknown value type 13");
}

TEST_CASE("gguf malformed: BOOL other than 0 or 1", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(7).put<std::uint8_t>(2);
  REQUIRE_GGUF_ERROR(w.b, "BOOL holding 2");
}

TEST_CASE("gguf malformed: unknown array element type", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(99).put<std::uint64_t>(0);
  REQUIRE_GGUF_ERROR(w.b, "unknown array element type 99");
}

TEST_CASE("gguf malformed: array count beyond the file", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(8).put<std::uint64_t>(
      std::uint64_t{1} << 40);
  w.zeros(100);
  REQUIRE_GGUF_ERROR(w.b, "claims 1099511627776 elements");
}

TEST_CASE("gguf malformed: arrays nested too deep", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("k").put<std::uint32_t>(9);
  for (int d = 0; d < gguf_file::max_array_depth + 1; ++d)
    w.put<std::uint32_t>(9).put<std::uint64_t>(1);
  w.put<std::uint32_t>(0).put<std::uint64_t>(0).zeros(64);
  REQUIRE_GGUF_ERROR(w.b, "nests arrays deeper");
}

TEST_CASE("gguf malformed: too many nested arrays", "[io][gguf][malformed]") {
  bytes_builder w;
  const std::uint64_t n = gguf_file::max_nested_arrays + 1;
  w.header(0, 1).str("k").put<std::uint32_t>(9).put<std::uint32_t>(9).put<std::uint64_t>(n);
  for (std::uint64_t k = 0; k < n; ++k) w.put<std::uint32_t>(0).put<std::uint64_t>(0);
  REQUIRE_GGUF_ERROR(w.b, "nested arrays in the header");
}

TEST_CASE("gguf malformed: duplicate key", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).b,
                     "'a' appears twice");
}

TEST_CASE("gguf malformed: general.alignment of the wrong type", "[io][gguf][malformed]") {
  bytes_builder w;
  w.header(0, 1).str("general.alignment").put<std::uint32_t>(10).put<std::uint64_t>(32);
  REQUIRE_GGUF_ERROR(w.b, "general.alignment is UINT64");
}

TEST_CASE("gguf malformed: general.alignment not a power of two", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, 1).kv_u32("general.alignment", 48).b,
                     "power of two");
  REQUIRE_GGUF_ERROR(bytes_builder().header(0, 1).kv_u32("general.alignment", 0).b, "power of two");
}

TEST_CASE("gguf malformed: zero or more than four dims", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {}, 0, 0).pad().b, "0 dimensions");
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {1, 1, 1, 1, 1}, 0, 0).pad().b,
                     "5 dimensions");
}

TEST_CASE("gguf malformed: dims whose product overflows", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(
      bytes_builder().header(1, 0).tensor("x", {1u << 31, 1u << 31, 1u << 31}, 0, 0).pad().b,
      "element count of its dims overflows");
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {~std::uint64_t{0}}, 0, 0).pad().b,
                     "overflows int64");
}

TEST_CASE("gguf malformed: byte size that overflows", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(
      bytes_builder().header(1, 0).tensor("x", {std::uint64_t{1} << 62, 2}, 1, 0).pad().b,
      "overflow");
}

TEST_CASE("gguf malformed: unknown tensor type", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {4}, 77, 0).pad().zeros(64).b,
                     "unknown or unsupported tensor type 77");
}

TEST_CASE("gguf malformed: row length not a multiple of the block size", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {128, 2}, 35, 0).pad().zeros(256).b,
                     "divisible by its block size 256");
}

TEST_CASE("gguf malformed: I2_S element count not a multiple of 128", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {100}, 36, 0).pad().zeros(64).b,
                     "divisible by 128");
}

TEST_CASE("gguf malformed: misaligned tensor offset", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {4}, 0, 4).pad().zeros(64).b,
                     "not a multiple of the alignment");
}

TEST_CASE("gguf malformed: tensor data past the end of the file", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder().header(1, 0).tensor("x", {4}, 0, 32).pad().zeros(16).b,
                     "extends past the end");
}

TEST_CASE("gguf malformed: data section starting past the end", "[io][gguf][malformed]") {
  auto b = bytes_builder().header(1, 0).tensor("x", {0}, 0, 0).b;  // no padding at all
  if (b.size() % 32 == 0) b.push_back(0);
  REQUIRE_GGUF_ERROR(b, "past the end");
}

TEST_CASE("gguf malformed: overlapping tensors", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(bytes_builder()
                         .header(2, 0)
                         .tensor("a", {16}, 0, 0)
                         .tensor("b", {4}, 0, 32)
                         .pad()
                         .zeros(64)
                         .b,
                     "overlap");
}

TEST_CASE("gguf malformed: duplicate tensor name", "[io][gguf][malformed]") {
  REQUIRE_GGUF_ERROR(
      bytes_builder().header(2, 0).tensor("a", {4}, 0, 0).tensor("a", {4}, 0, 32).pad().zeros(64).b,
      "'a' appears twice");
}

TEST_CASE("gguf malformed: ternary code 3", "[io][gguf][malformed]") {
  auto tq = encode_tq2_0(matrix_i8::Zero(1, 256), 1.0f);
  tq[5] = 0xff;
  bytes_builder w;
  w.header(1, 0).tensor("w", {256, 1}, 35, 0).pad();
  w.b.insert(w.b.end(), tq.begin(), tq.end());
  w.pad();
  const auto g = gguf_file::from_bytes(w.b);
  CHECK_THROWS_WITH(read_ternary(g, "w"), Catch::Contains("code 3"));
  auto i2 = encode_i2_s(matrix_i8::Zero(1, 128), 1.0f);
  i2[0] = 0xc0;
  bytes_builder w2;
  w2.header(1, 0).tensor("w", {128, 1}, 36, 0).pad();
  w2.b.insert(w2.b.end(), i2.begin(), i2.end());
  w2.pad();
  CHECK_THROWS_WITH(read_ternary(gguf_file::from_bytes(w2.b), "w"), Catch::Contains("code 3"));
}

TEST_CASE("gguf: reading a non-ternary or non-float tensor as one is an error", "[io][gguf]") {
  const auto f = gguf_file::from_bytes(minimal_file());
  CHECK_THROWS_WITH(read_ternary(f, "x"), Catch::Contains("expected TQ1_0, TQ2_0 or I2_S"));
  CHECK_THROWS_AS(f.info("nope"), format_error);
}

TEST_CASE("gguf writer: rejects sizes that do not match the type", "[io][gguf]") {
  gguf_writer w;
  CHECK_THROWS_AS(w.add_tensor("x", ggml_type::f32, {4}, std::vector<std::uint8_t>(15)),
                  shape_error);
  CHECK_THROWS_AS(w.add_tensor("y", ggml_type::tq2_0, {128}, std::vector<std::uint8_t>(33)),
                  shape_error);
  w.add_tensor("z", ggml_type::f32, {1}, std::vector<std::uint8_t>(4));
  CHECK_THROWS_AS(w.add_tensor("z", ggml_type::f32, {1}, std::vector<std::uint8_t>(4)),
                  value_error);
  CHECK_THROWS_AS(w.set("general.alignment", gguf_value::of_u32(3)), value_error);
}

TEST_CASE("gguf: an empty ternary tensor with a huge row count decodes at once", "[io][gguf]") {
  // Found by fuzz_gguf: ne = {0, 2^32 + 1} in TQ2_0 / TQ1_0 looped over 4 billion empty rows.
  for (std::uint32_t type : {34u, 35u}) {
    bytes_builder w;
    w.header(1, 0).tensor("w", {0, (std::uint64_t{1} << 32) + 1}, type, 0).pad();
    const auto f = gguf_file::from_bytes(w.b);
    const gguf_ternary g = read_ternary(f, "w");
    CHECK(g.trits.size() == 0);
    CHECK(g.block_scales.empty());
  }
}

TEST_CASE("gguf: fuzzing regressions replay (tests/data/regressions/gguf)", "[io][gguf]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(bitlin_test::fixture_dir()) / "regressions" / "gguf";
  REQUIRE(fs::is_directory(dir));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    CAPTURE(e.path().string());
    ++files;
    try {
      const auto f = gguf_file::open(e.path().string());
      for (const auto& ti : f.tensors()) {
        try {
          if (ti.ne.size() <= 2) (void)read_ternary(f, ti.name);
        } catch (const format_error&) {
        }
      }
    } catch (const format_error&) {
    }
  }
  CHECK(files > 0);
}
