// Packed formats: lossless round trips for every length 0..300, the byte layouts as defined, and
// rejection of codes that no packer produces.
#include <random>

#include <bitlin/bitlin.hpp>
#include <bitlin/io/safetensors.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "fixtures.hpp"

using namespace bitlin;

namespace {
template <class Kind>
std::vector<std::int8_t> random_values(index_t n, std::mt19937& rng) {
  std::vector<std::int8_t> v(static_cast<std::size_t>(n));
  for (auto& x : v) {
    if constexpr (std::is_same_v<Kind, ternary>)
      x = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
    else
      x = (rng() & 1) ? 1 : -1;
  }
  return v;
}

template <class Format>
void round_trip_every_length() {
  using traits = format_traits<Format>;
  std::mt19937 rng(11);
  for (index_t n = 0; n <= 300; ++n) {
    for (int rep = 0; rep < 3; ++rep) {
      const auto v = random_values<typename traits::kind>(n, rng);
      const index_t bytes = traits::packed_bytes(n);
      REQUIRE(bytes == (n + traits::values_per_byte - 1) / traits::values_per_byte);
      std::vector<std::uint8_t> packed(static_cast<std::size_t>(bytes) + 1, 0xEE);  // guard byte
      traits::pack(v.data(), n, packed.data());
      REQUIRE(packed.back() == 0xEE);
      std::vector<std::int8_t> back(static_cast<std::size_t>(n) + 1, 42);
      traits::unpack(packed.data(), n, back.data());
      REQUIRE(back.back() == 42);
      for (index_t i = 0; i < n; ++i)
        REQUIRE(back[static_cast<std::size_t>(i)] == v[static_cast<std::size_t>(i)]);
    }
  }
  // Matrices pack row by row.
  matrix_i8 q(7, 37);
  const auto flat = random_values<typename traits::kind>(7 * 37, rng);
  std::copy(flat.begin(), flat.end(), q.data());
  const auto p = pack_matrix<Format>(q);
  CHECK(p.row_bytes == traits::packed_bytes(37));
  CHECK(p.bytes() == static_cast<std::size_t>(7 * p.row_bytes));
  CHECK(unpack_matrix(p) == q);
  auto truncated = p;
  truncated.data.pop_back();
  CHECK_THROWS_AS(unpack_matrix(truncated), format_error);
}
}  // namespace

// Over the list itself, so a format added to all_formats is tested without further edits (and a
// failure names the format).
TEMPLATE_LIST_TEST_CASE("every portable format round-trips every length 0..300", "[pack]",
                        all_formats) {
  INFO(format_traits<TestType>::name);
  round_trip_every_length<TestType>();
}

TEST_CASE("byte layouts follow their definitions", "[pack]") {
  const std::int8_t t[] = {-1, 0, 1, 1, 0, -1};
  std::uint8_t b[2];
  format_traits<ternary_i2>::pack(t, 6, b);
  CHECK(b[0] == (0u | 1u << 2 | 2u << 4 | 2u << 6));
  CHECK(b[1] == (1u | 0u << 2 | 1u << 4 | 1u << 6));  // padding code 1 = value 0
  format_traits<ternary_base3>::pack(t, 6, b);
  CHECK(b[0] == 0 + 1 * 3 + 2 * 9 + 2 * 27 + 1 * 81);
  CHECK(b[1] == 0 + 1 * 3 + 1 * 9 + 1 * 27 + 1 * 81);  // padding digits 1
  const std::int8_t s[] = {1, -1, -1, 1, 1, 1, -1, -1, 1};
  format_traits<binary_b1>::pack(s, 9, b);
  CHECK(b[0] == 0b00111001);
  CHECK(b[1] == 0b00000001);
  CHECK(format_traits<ternary_base3>::bits_per_weight == 1.6);
}

TEST_CASE("invalid values and codes are rejected", "[pack]") {
  const std::int8_t two[] = {0, 2};
  std::uint8_t b[2];
  CHECK_THROWS_AS(format_traits<ternary_i2>::pack(two, 2, b), value_error);
  CHECK_THROWS_AS(format_traits<ternary_base3>::pack(two, 2, b), value_error);
  const std::int8_t zero[] = {1, 0};
  CHECK_THROWS_AS(format_traits<binary_b1>::pack(zero, 2, b), value_error);
  std::int8_t out[5];
  const std::uint8_t code3[] = {0x03};
  CHECK_THROWS_AS(format_traits<ternary_i2>::unpack(code3, 1, out), format_error);
  const std::uint8_t b243[] = {243};
  CHECK_THROWS_AS(format_traits<ternary_base3>::unpack(b243, 5, out), format_error);
}

TEST_CASE("Hugging Face BitNet layout: strided rows, any out_features", "[pack][hf]") {
  std::mt19937 rng(12);
  for (index_t out = 0; out <= 13; ++out) {
    matrix_i8 q(out, 9);
    const auto v = random_values<ternary>(out * 9, rng);
    std::copy(v.begin(), v.end(), q.data());
    const matrix_u8 p = pack_hf_bitnet(q);
    REQUIRE(p.rows() == (out + 3) / 4);
    // The definition, element by element.
    for (index_t n = 0; n < out; ++n)
      for (index_t k = 0; k < 9; ++k)
        REQUIRE(((p(n % p.rows(), k) >> (2 * (n / p.rows()))) & 3) == q(n, k) + 1);
    CHECK(unpack_hf_bitnet(p, out) == q);
  }
  matrix_u8 p = matrix_u8::Constant(2, 3, 0x55);
  CHECK_THROWS_AS(unpack_hf_bitnet(p, 9), shape_error);  // needs 3 packed rows
  p(1, 2) = 0xC0;
  CHECK_THROWS_AS(unpack_hf_bitnet(p, 8), format_error);
}

TEST_CASE("every fixture model's packed weights re-pack to the same bytes", "[pack][hf]") {
  const auto fixtures = bitlin_test::model_fixtures();
  REQUIRE(!fixtures.empty());
  for (const auto& fx : fixtures) {
    INFO(fx.tag);
    std::ifstream in(fx.config);
    const auto layers = nlohmann::json::parse(in).at("num_hidden_layers").get<int>();
    const auto f = io::safetensors_file::open(fx.model);
    int checked = 0;
    for (const auto& name : f.names()) {
      if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
      if (f.info(name).type != io::dtype::u8) continue;
      const auto packed = f.read_matrix<std::uint8_t>(name);
      const matrix_i8 q = unpack_hf_bitnet(packed, 4 * packed.rows());
      CHECK(pack_hf_bitnet(q) == packed);
      ++checked;
    }
    CHECK(checked == 7 * layers);  // q, k, v, o, gate, up, down per layer
  }
}
