// safetensors: write -> read round trips for every dtype and shape kind, the real golden fixture
// read and cross-checked, and one hand-built malformed file per validation rule, each of which
// must raise a format_error that says what is wrong.
#include <bitlin/io/safetensors.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "fixtures.hpp"

using namespace bitlin::io;
using bytes_t = std::vector<std::uint8_t>;

namespace {

// An 8-byte little-endian length, the header text, then data_bytes bytes of data (0, 1, 2, ...).
bytes_t assemble(const std::string& header, std::size_t data_bytes) {
  bytes_t out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::uint8_t>(i));
  return out;
}

bytes_t with_length_field(std::uint64_t n, std::size_t total) {
  bytes_t out(total, ' ');
  for (int i = 0; i < 8 && i < static_cast<int>(total); ++i)
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return out;
}

// The malformed file must be rejected with a format_error naming the file and containing `word`.
void expect_rejected(const bytes_t& bytes, const std::string& word) {
  try {
    (void)safetensors_file::from_bytes(bytes, "bad.safetensors");
  } catch (const bitlin::format_error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find("bad.safetensors") != std::string::npos);
    CHECK(msg.find(word) != std::string::npos);
    return;
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  FAIL("malformed file accepted; expected an error mentioning '" << word << "'");
}

void expect_rejected(const std::string& header, std::size_t data_bytes, const std::string& word) {
  INFO("header: " << header);
  expect_rejected(assemble(header, data_bytes), word);
}

template <class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::uint64_t header_length(const bytes_t& b) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<std::size_t>(i)];
  return n;
}

std::string temp_path(const std::string& stem) {
  static int counter = 0;
  static const unsigned tag = std::random_device{}();
  const auto dir = std::filesystem::temp_directory_path();
  return (dir /
          ("bitlin_io_test_" + std::to_string(tag) + "_" + std::to_string(counter++) + "_" + stem))
      .string();
}

void write_file(const std::string& path, const bytes_t& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(out.good());
}

bytes_t read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return bytes_t(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <class T>
std::vector<T> iota_values(std::size_t n, T start, T step) {
  std::vector<T> v(n);
  T x = start;
  for (auto& e : v) {
    e = x;
    x = static_cast<T>(x + step);
  }
  return v;
}

std::vector<std::vector<std::int64_t>> test_shapes() {
  return {{}, {0}, {1}, {7}, {2, 3}, {3, 0}, {0, 5}, {2, 3, 4}, {1, 1, 1, 5}};
}

std::size_t numel_of(const std::vector<std::int64_t>& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

template <class T>
void round_trip_typed(dtype type, T start, T step) {
  safetensors_writer w;
  std::vector<std::vector<T>> data;
  const auto shapes = test_shapes();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    data.push_back(iota_values<T>(numel_of(shapes[i]), start, step));
    w.add("t" + std::to_string(i), type, shapes[i], data.back().data(),
          data.back().size() * sizeof(T));
  }
  const auto f = safetensors_file::from_bytes(w.to_bytes(), "rt");
  REQUIRE(f.names().size() == shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const std::string name = "t" + std::to_string(i);
    INFO(name);
    const tensor_info& ti = f.info(name);
    CHECK(ti.type == type);
    CHECK(ti.shape == shapes[i]);
    CHECK(ti.numel() == static_cast<std::int64_t>(data[i].size()));
    CHECK(ti.end - ti.begin == data[i].size() * sizeof(T));
    if constexpr (std::is_same_v<T, std::uint16_t>) {  // F16 / BF16 bit patterns
      const auto widened = f.read_f32(name);
      REQUIRE(widened.size() == data[i].size());
      for (std::size_t k = 0; k < widened.size(); ++k)
        CHECK(widened[k] ==
              (type == dtype::f16 ? f16_to_f32(data[i][k]) : bf16_to_f32(data[i][k])));
    } else {
      CHECK(f.read<T>(name) == data[i]);
    }
    if (!data[i].empty()) CHECK(std::memcmp(f.raw(name), data[i].data(), ti.nbytes()) == 0);
  }
}

template <class T>
void round_trip_matrix(T start, T step) {
  // A block of a larger matrix: the Ref the writer receives has an outer stride != cols.
  bitlin::row_matrix<T> big(5, 9);
  T x = start;
  for (bitlin::index_t r = 0; r < big.rows(); ++r)
    for (bitlin::index_t c = 0; c < big.cols(); ++c) {
      big(r, c) = x;
      x = static_cast<T>(x + step);
    }
  const bitlin::row_matrix<T> block = big.block(1, 2, 3, 4);
  const bitlin::row_matrix<T> empty(0, 3);
  safetensors_writer w;
  w.add_matrix<T>("block", big.block(1, 2, 3, 4));
  w.add_matrix<T>("empty", empty);
  const auto f = safetensors_file::from_bytes(w.to_bytes());
  CHECK(f.info("block").type == dtype_of<T>::value);
  CHECK(f.info("block").shape == std::vector<std::int64_t>{3, 4});
  CHECK(f.read_matrix<T>("block") == block);
  CHECK(f.info("empty").shape == std::vector<std::int64_t>{0, 3});
  const auto e = f.read_matrix<T>("empty");
  CHECK(e.rows() == 0);
  CHECK(e.cols() == 3);
}

}  // namespace

TEST_CASE("dtype names, sizes and parsing", "[safetensors]") {
  const dtype all[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::i8,
                       dtype::u8,  dtype::i32, dtype::i64};
  const char* names[] = {"F32", "F16", "BF16", "I8", "U8", "I32", "I64"};
  const std::size_t sizes[] = {4, 2, 2, 1, 1, 4, 8};
  for (int i = 0; i < 7; ++i) {
    CHECK(std::string(dtype_name(all[i])) == names[i]);
    CHECK(dtype_size(all[i]) == sizes[i]);
    CHECK(parse_dtype(names[i]) == all[i]);
  }
  for (const char* bad : {"F64", "BOOL", "f32", "", "U16", "F8_E4M3"}) {
    const std::string msg = message_of([&] { (void)parse_dtype(bad); });
    INFO(msg);
    CHECK(contains(msg, std::string("'") + bad + "'"));
    CHECK_THROWS_AS(parse_dtype(bad), bitlin::format_error);
  }
}

TEST_CASE("every dtype round-trips for scalar, empty and n-d shapes", "[safetensors]") {
  round_trip_typed<float>(dtype::f32, -3.25f, 0.5f);
  round_trip_typed<std::int8_t>(dtype::i8, std::int8_t{-128}, std::int8_t{37});
  round_trip_typed<std::uint8_t>(dtype::u8, std::uint8_t{200}, std::uint8_t{11});
  round_trip_typed<std::int32_t>(dtype::i32, std::numeric_limits<std::int32_t>::min(), 1 << 27);
  round_trip_typed<std::int64_t>(dtype::i64, std::numeric_limits<std::int64_t>::min() + 5,
                                 std::int64_t{1} << 58);
  // 16-bit floats have no C++ element type; they travel as raw bit patterns.
  round_trip_typed<std::uint16_t>(dtype::f16, std::uint16_t{0x3c00}, std::uint16_t{0x0123});
  round_trip_typed<std::uint16_t>(dtype::bf16, std::uint16_t{0xbf80}, std::uint16_t{0x0321});
}

TEST_CASE("F16 and BF16 tensors read as float", "[safetensors]") {
  const std::vector<float> values = {0.0f, -1.5f, 65504.0f, 1.0e-7f, -2.0f, 3.140625f};
  std::vector<std::uint16_t> h(values.size()), b(values.size());
  f32_to_f16(values.data(), h.data(), values.size());
  f32_to_bf16(values.data(), b.data(), values.size());
  safetensors_writer w;
  w.add("h", dtype::f16, {2, 3}, h.data(), h.size() * 2);
  w.add("b", dtype::bf16, {6}, b.data(), b.size() * 2);
  w.add_f32("f", {3, 2}, values.data());
  const auto f = safetensors_file::from_bytes(w.to_bytes());
  const auto hf = f.read_f32("h");
  const auto bf = f.read_f32("b");
  REQUIRE(hf.size() == values.size());
  REQUIRE(bf.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(hf[i] == f16_to_f32(h[i]));
    CHECK(bf[i] == bf16_to_f32(b[i]));
  }
  CHECK(hf[1] == -1.5f);
  CHECK(hf[2] == 65504.0f);
  CHECK(bf[5] == 3.140625f);
  CHECK(f.read_f32("f") == values);

  const bitlin::matrix_f hm = f.read_matrix_f32("h");
  REQUIRE(hm.rows() == 2);
  REQUIRE(hm.cols() == 3);
  CHECK(hm(1, 0) == hf[3]);
  const bitlin::matrix_f bm = f.read_matrix_f32("b");  // 1-D reads as one row
  REQUIRE(bm.rows() == 1);
  REQUIRE(bm.cols() == 6);
  CHECK(bm(0, 4) == -2.0f);
  const bitlin::matrix_f fm = f.read_matrix_f32("f");
  CHECK(fm(2, 1) == values[5]);
}

TEST_CASE("matrices round-trip for every element type, strided input included", "[safetensors]") {
  round_trip_matrix<float>(-1.0f, 0.125f);
  round_trip_matrix<std::int8_t>(std::int8_t{-100}, std::int8_t{7});
  round_trip_matrix<std::uint8_t>(std::uint8_t{3}, std::uint8_t{9});
  round_trip_matrix<std::int32_t>(-70000, 4099);
  round_trip_matrix<std::int64_t>(-(std::int64_t{1} << 40), std::int64_t{1} << 35);
}

TEST_CASE("metadata, data order and header alignment", "[safetensors]") {
  safetensors_writer w;
  const float one = 1.0f;
  const std::int8_t q[3] = {-1, 0, 1};
  w.add_f32("zeta", {}, &one);
  w.add("alpha", dtype::i8, {3}, q, 3);
  w.add("mid", dtype::f32, {0}, nullptr, 0);
  w.set_metadata({{"format", "pt"}, {"note", "quote \" and unicode \xc3\xa9"}, {"empty", ""}});
  const bytes_t bytes = w.to_bytes();
  CHECK((8 + header_length(bytes)) % 8 == 0);

  const auto f = safetensors_file::from_bytes(bytes);
  CHECK(f.names() == std::vector<std::string>{"zeta", "alpha", "mid"});
  CHECK(f.metadata().size() == 3);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.metadata().at("note") == "quote \" and unicode \xc3\xa9");
  CHECK(f.metadata().at("empty").empty());
  CHECK(f.read<float>("zeta") == std::vector<float>{1.0f});
  CHECK(f.info("zeta").shape.empty());
  CHECK(f.info("zeta").numel() == 1);
  CHECK(f.read<std::int8_t>("alpha") == std::vector<std::int8_t>{-1, 0, 1});
  CHECK(f.read<float>("mid").empty());
  CHECK(f.file_size() == bytes.size());
  CHECK(f.contains("alpha"));
  CHECK_FALSE(f.contains("beta"));

  safetensors_writer none;
  none.add_f32("x", {1}, &one);
  const bytes_t plain = none.to_bytes();
  const std::string header(plain.begin() + 8,
                           plain.begin() + 8 + static_cast<long>(header_length(plain)));
  CHECK_FALSE(contains(header, "__metadata__"));
  CHECK(safetensors_file::from_bytes(plain).metadata().empty());

  const auto empty = safetensors_file::from_bytes(safetensors_writer().to_bytes());
  CHECK(empty.names().empty());
  CHECK(empty.file_size() == 8 + header_length(safetensors_writer().to_bytes()));
}

TEST_CASE("files written and opened from disk", "[safetensors]") {
  safetensors_writer w;
  bitlin::matrix_f m(17, 3);
  for (bitlin::index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(i) * 0.25f - 2.0f;
  w.add_matrix<float>("m", m);
  const std::int64_t ids[4] = {1, -2, 3, std::numeric_limits<std::int64_t>::max()};
  w.add("ids", dtype::i64, {1, 4}, ids, sizeof ids);
  w.set_metadata({{"k", "v"}});

  const std::string path = temp_path("ok.safetensors");
  w.write(path);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(read_file(path) == w.to_bytes());
  {
    auto f = safetensors_file::open(path);
    CHECK(f.path() == path);
    CHECK(f.read_matrix_f32("m") == m);
    CHECK(f.read<std::int64_t>("ids") == std::vector<std::int64_t>(ids, ids + 4));
    // Moving keeps the mapping valid.
    safetensors_file g = std::move(f);
    CHECK(g.read_matrix<float>("m") == m);
    CHECK(g.metadata().at("k") == "v");
  }
  {
    // Read into memory instead of mapped: same content, and independent of the file afterwards.
    auto f = safetensors_file::open(path, load_mode::read);
    CHECK(f.file_size() == w.to_bytes().size());
    write_file(path, bytes_t{1, 2, 3});
    CHECK(f.read_matrix_f32("m") == m);
    CHECK(std::memcmp(f.raw("ids"), ids, sizeof ids) == 0);
    CHECK_THROWS_AS(safetensors_file::open(path, load_mode::read), bitlin::format_error);
  }
  std::filesystem::remove(path);

  const std::string missing = temp_path("does_not_exist.safetensors");
  const std::string msg = message_of([&] { (void)safetensors_file::open(missing); });
  CHECK(contains(msg, missing));
  CHECK_THROWS_AS(safetensors_file::open(missing), bitlin::error);
  const std::string dir = std::filesystem::temp_directory_path().string();
  CHECK_THROWS_AS(safetensors_file::open(dir), bitlin::error);

  const std::string bad_target = temp_path("no_such_dir") + "/x.safetensors";
  const std::string wmsg = message_of([&] { w.write(bad_target); });
  CHECK(contains(wmsg, bad_target));
  CHECK_THROWS_AS(w.write(bad_target), bitlin::error);
}

TEST_CASE("a file truncated by one byte fails cleanly", "[safetensors]") {
  safetensors_writer w;
  const float v[6] = {1, 2, 3, 4, 5, 6};
  w.add_f32("a", {2, 3}, v);
  bytes_t bytes = w.to_bytes();
  bytes.pop_back();
  const std::string path = temp_path("truncated.safetensors");
  write_file(path, bytes);
  const std::string msg = message_of([&] { (void)safetensors_file::open(path); });
  INFO(msg);
  CHECK(contains(msg, path));
  CHECK(contains(msg, "'a'"));
  CHECK(contains(msg, "truncated"));
  CHECK_THROWS_AS(safetensors_file::open(path), bitlin::format_error);

  // Truncated inside the header, and inside the length field.
  write_file(path, bytes_t(bytes.begin(), bytes.begin() + 20));
  CHECK_THROWS_AS(safetensors_file::open(path), bitlin::format_error);
  write_file(path, bytes_t(bytes.begin(), bytes.begin() + 5));
  CHECK_THROWS_AS(safetensors_file::open(path), bitlin::format_error);
  write_file(path, bytes_t());
  CHECK_THROWS_AS(safetensors_file::open(path), bitlin::format_error);
  CHECK_THROWS_AS(safetensors_file::open(path, load_mode::read), bitlin::format_error);
  write_file(path, bytes);
  const std::string rmsg = message_of([&] { (void)safetensors_file::open(path, load_mode::read); });
  CHECK(contains(rmsg, "truncated"));
  std::filesystem::remove(path);
}

TEST_CASE("the golden fixture reads with its documented layout", "[safetensors][fixture]") {
  // Any *_cases.safetensors in the fixture directory (FIXTURES.md's naming) with any case count.
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(bitlin_test::fixture_dir())) {
    const std::string n = e.path().filename().string();
    const std::string suffix = "_cases.safetensors";
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      files.push_back(e.path().string());
  }
  REQUIRE(!files.empty());
  for (const auto& file : files) {
    INFO(file);
    const auto f = safetensors_file::open(file);
    int cases = 0;
    while (f.contains("case" + std::to_string(cases) + ".W")) ++cases;
    REQUIRE(cases > 0);
    CHECK(f.names().size() == static_cast<std::size_t>(8 * cases));
    for (int c = 0; c < cases; ++c) {
      const std::string p = "case" + std::to_string(c) + ".";
      INFO(p);
      CHECK(f.info(p + "W").type == dtype::f32);
      CHECK(f.info(p + "y_int").type == dtype::i32);
      CHECK(f.info(p + "Wq").type == dtype::i8);
      CHECK(f.info(p + "w_scale").shape == std::vector<std::int64_t>{1});
      // y_int must be Xq . Wq^T: the bytes read are the tensors the header says they are.
      const bitlin::matrix_i8 wq = f.read_matrix<std::int8_t>(p + "Wq");
      const bitlin::matrix_i8 xq = f.read_matrix<std::int8_t>(p + "Xq");
      const bitlin::matrix_i32 y = f.read_matrix<std::int32_t>(p + "y_int");
      REQUIRE(wq.cols() == xq.cols());
      const bitlin::matrix_i32 want = xq.cast<std::int32_t>() * wq.cast<std::int32_t>().transpose();
      CHECK(y == want);
    }
  }
}

TEST_CASE("the committed golden file has the values an independent reader sees",
          "[safetensors][fixture]") {
  // This file only (not BITLIN_FIXTURES): the values were read from it with numpy.
  const auto f =
      safetensors_file::open(std::string(BITLIN_TEST_DATA_DIR) + "/bitlinear_cases.safetensors");
  CHECK(f.info("case0.W").shape == std::vector<std::int64_t>{64, 128});
  // Values cross-checked with an independent reader (numpy over the same file).
  const bitlin::matrix_f w = f.read_matrix_f32("case0.W");
  std::uint32_t bits00, bits_last;
  std::memcpy(&bits00, &w(0, 0), 4);
  std::memcpy(&bits_last, &w(63, 127), 4);
  CHECK(bits00 == 0xbb126e87u);
  CHECK(bits_last == 0x3bbe7e6du);
  const auto y0 = f.read<std::int32_t>("case0.y_int");
  REQUIRE(y0.size() == 64);
  CHECK(y0[0] == -235);
  CHECK(y0[1] == 128);
  CHECK(y0[2] == -150);
  CHECK(y0[3] == 604);
  std::int64_t sum = 0;
  for (auto v : y0) sum += v;
  CHECK(sum == -946);

  const auto names = f.names();
  CHECK(names.size() == 56);
  for (std::size_t i = 1; i < names.size(); ++i)
    CHECK(f.info(names[i - 1]).end <= f.info(names[i]).begin);
  CHECK(names.front() == "case0.W");
}

TEST_CASE("every fixture file opens and its tensors tile the data section",
          "[safetensors][fixture]") {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(bitlin_test::fixture_dir())) {
    if (entry.path().extension() != ".safetensors") continue;
    ++files;
    INFO(entry.path().string());
    const auto f = safetensors_file::open(entry.path().string());
    // Written by the reference implementation, which packs tensors back to back.
    std::uint64_t next = 0;
    for (const auto& name : f.names()) {
      const tensor_info& ti = f.info(name);
      CHECK(ti.begin == next);
      next = ti.end;
      if (ti.type == dtype::f32 || ti.type == dtype::f16 || ti.type == dtype::bf16)
        CHECK(f.read_f32(name).size() == static_cast<std::size_t>(ti.numel()));
    }
    CHECK(f.file_size() - next ==
          static_cast<std::uint64_t>(8) + header_length(read_file(entry.path().string())));
  }
  CHECK(files > 0);
}

TEST_CASE("reading into caller buffers", "[safetensors]") {
  safetensors_writer w;
  const float v[6] = {1, -2, 3, -4, 5, -6};
  const std::int8_t q[3] = {-1, 0, 1};
  std::uint16_t h[6];
  f32_to_bf16(v, h, 6);
  w.add_f32("f", {2, 3}, v);
  w.add("q", dtype::i8, {3}, q, 3);
  w.add("h", dtype::bf16, {6}, h, sizeof h);
  w.add("none", dtype::i8, {0}, nullptr, 0);
  const auto f = safetensors_file::from_bytes(w.to_bytes(), "buf");

  std::vector<float> out(6, 99.0f);
  f.read_f32("f", out.data(), out.size());
  CHECK(out == std::vector<float>(v, v + 6));
  std::fill(out.begin(), out.end(), 99.0f);
  f.read_f32("h", out.data(), out.size());
  CHECK(out == std::vector<float>(v, v + 6));  // small integers are exact in bfloat16
  std::int8_t qo[3] = {9, 9, 9};
  f.read<std::int8_t>("q", qo, 3);
  CHECK(std::vector<std::int8_t>(qo, qo + 3) == std::vector<std::int8_t>(q, q + 3));
  f.read<std::int8_t>("none", nullptr, 0);

  CHECK_THROWS_AS(f.read_f32("f", out.data(), 5), bitlin::shape_error);
  CHECK(contains(message_of([&] { f.read_f32("f", out.data(), 7); }), "'f'"));
  CHECK_THROWS_AS(f.read<std::int8_t>("q", qo, 2), bitlin::shape_error);
  CHECK_THROWS_AS(f.read<std::uint8_t>("q", reinterpret_cast<std::uint8_t*>(qo), 3),
                  bitlin::format_error);
  CHECK_THROWS_AS(f.read_f32("q", out.data(), 3), bitlin::format_error);
}

TEST_CASE("typed access insists on the stored dtype and shape", "[safetensors]") {
  safetensors_writer w;
  const float v[24] = {};
  const std::int32_t i[2] = {1, 2};
  w.add_f32("cube", {2, 3, 4}, v);
  w.add("ints", dtype::i32, {2}, i, sizeof i);
  const auto f = safetensors_file::from_bytes(w.to_bytes(), "typed.safetensors");

  const std::string wrong = message_of([&] { (void)f.read<std::int8_t>("cube"); });
  CHECK(contains(wrong, "'cube'"));
  CHECK(contains(wrong, "F32"));
  CHECK(contains(wrong, "I8"));
  CHECK_THROWS_AS(f.read<std::int8_t>("cube"), bitlin::format_error);
  CHECK_THROWS_AS(f.read_matrix<std::int64_t>("ints"), bitlin::format_error);
  const std::string notfloat = message_of([&] { (void)f.read_f32("ints"); });
  CHECK(contains(notfloat, "I32"));
  CHECK_THROWS_AS(f.read_f32("ints"), bitlin::format_error);
  CHECK_THROWS_AS(f.read_matrix_f32("cube"), bitlin::format_error);  // 3-D is not a matrix
  const std::string missing = message_of([&] { (void)f.info("nope"); });
  CHECK(contains(missing, "tensor 'nope' not found in typed.safetensors"));
  CHECK_THROWS_AS(f.raw("nope"), bitlin::format_error);
  CHECK_THROWS_AS(f.read<float>("nope"), bitlin::format_error);
}

TEST_CASE("the writer rejects inconsistent input", "[safetensors]") {
  safetensors_writer w;
  const float v[4] = {};
  w.add_f32("a", {4}, v);
  CHECK_THROWS_AS(w.add_f32("a", {4}, v), bitlin::value_error);
  CHECK(contains(message_of([&] { w.add_f32("a", {2}, v); }), "'a'"));
  CHECK_THROWS_AS(w.add("b", dtype::f32, {2, 2}, v, 12), bitlin::shape_error);
  CHECK_THROWS_AS(w.add("b", dtype::i8, {-1}, v, 0), bitlin::shape_error);
  CHECK_THROWS_AS(w.add("b", dtype::i8, {std::int64_t{1} << 62, 8}, v, 0), bitlin::shape_error);
  CHECK_THROWS_AS(w.add("b", dtype::f32, {1}, nullptr, 4), bitlin::value_error);
  CHECK_THROWS_AS(w.add_f32("__metadata__", {1}, v), bitlin::value_error);
  w.add("b", dtype::f32, {2, 2}, v, 16);  // the failed attempts left no trace
  CHECK(safetensors_file::from_bytes(w.to_bytes()).names() == std::vector<std::string>{"a", "b"});
}

// ---- malformed files: one section per validation rule ----------------------------------------

TEST_CASE("malformed: file shorter than the length field", "[safetensors][malformed]") {
  expect_rejected(bytes_t{}, "too short");
  expect_rejected(bytes_t{2, 0, 0, 0, 0, 0, 0}, "too short");
}

TEST_CASE("malformed: header length larger than the file", "[safetensors][malformed]") {
  expect_rejected(with_length_field(1000, 40), "exceeds");
  expect_rejected(with_length_field(33, 40), "exceeds");  // one byte more than is there
  expect_rejected(with_length_field(std::uint64_t{100} << 20 | 1, 40), "absurd");
  expect_rejected(with_length_field(~std::uint64_t{0}, 40), "absurd");
  CHECK_NOTHROW(safetensors_file::from_bytes(assemble("{}", 0)));
}

TEST_CASE("malformed: header not JSON or not an object", "[safetensors][malformed]") {
  expect_rejected("{\"a\": ", 0, "not valid JSON");
  expect_rejected("", 0, "not valid JSON");
  expect_rejected("{} trailing", 0, "not valid JSON");
  expect_rejected(std::string("{\"a\xff\": 1}"), 0, "not valid JSON");  // invalid UTF-8
  expect_rejected("[1, 2]", 0, "not a JSON object");
  expect_rejected("\"text\"", 0, "not a JSON object");
  expect_rejected("null", 0, "not a JSON object");
}

TEST_CASE("malformed: entry not an object, fields missing or ill-typed",
          "[safetensors][malformed]") {
  expect_rejected(R"({"a": 5})", 0, "'a' is not a JSON object");
  expect_rejected(R"({"a": [1]})", 0, "not a JSON object");
  expect_rejected(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4, "dtype");
  expect_rejected(R"({"a": {"dtype": 1, "shape": [1], "data_offsets": [0, 4]}})", 4, "dtype");
  expect_rejected(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", 4, "shape");
  expect_rejected(R"({"a": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", 4, "shape");
  expect_rejected(R"({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}})", 4,
                  "non-integer");
  expect_rejected(R"({"a": {"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]}})", 4,
                  "non-integer");
  expect_rejected(R"({"a": {"dtype": "F32", "shape": [1]}})", 4, "data_offsets");
}

TEST_CASE("malformed: unknown dtype", "[safetensors][malformed]") {
  expect_rejected(R"({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8, "F64");
  expect_rejected(R"({"w": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}})", 1, "BOOL");
  expect_rejected(R"({"w": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}})", 4,
                  "unsupported");
}

TEST_CASE("malformed: negative or overflowing shapes", "[safetensors][malformed]") {
  expect_rejected(R"({"a": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 0]}})", 0,
                  "negative");
  // 2^32 * 2^32 elements overflow int64.
  expect_rejected(
      R"({"a": {"dtype": "I8", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0,
      "overflow");
  // A single dimension of 2^63 does not fit int64.
  expect_rejected(
      R"({"a": {"dtype": "I8", "shape": [9223372036854775808], "data_offsets": [0, 0]}})", 0,
      "overflow");
  // 2^62 elements fit, but 2^62 * 4 bytes does not.
  expect_rejected(
      R"({"a": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0,
      "overflow");
}

TEST_CASE("malformed: bad data_offsets", "[safetensors][malformed]") {
  const std::string pre = R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": )";
  expect_rejected(pre + "[0]}}", 4, "data_offsets");
  expect_rejected(pre + "[0, 4, 8]}}", 8, "data_offsets");
  expect_rejected(pre + "[-4, 0]}}", 4, "data_offsets");
  expect_rejected(pre + "[0.0, 4]}}", 4, "data_offsets");
  expect_rejected(pre + "[\"0\", 4]}}", 4, "data_offsets");
  expect_rejected(pre + "{\"0\": 4}}}", 4, "data_offsets");
  expect_rejected(pre + "[8, 4]}}", 8, "begin > end");
}

TEST_CASE("malformed: data beyond the end of the file", "[safetensors][malformed]") {
  const std::string h = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  CHECK_NOTHROW(safetensors_file::from_bytes(assemble(h, 8)));
  expect_rejected(h, 7, "truncated");
  expect_rejected(h, 0, "beyond");
  expect_rejected(R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [9, 9]}})", 8, "beyond");
  // Offsets near 2^64 must not wrap around.
  expect_rejected(
      R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [18446744073709551614, 18446744073709551615]}})",
      8, "beyond");
}

TEST_CASE("malformed: byte range size disagrees with dtype and shape", "[safetensors][malformed]") {
  expect_rejected(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8, "8 bytes");
  expect_rejected(R"({"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 4]}})", 8, "'a'");
  expect_rejected(R"({"a": {"dtype": "I64", "shape": [], "data_offsets": [0, 4]}})", 8, "8 bytes");
  expect_rejected(R"({"a": {"dtype": "I8", "shape": [0], "data_offsets": [0, 1]}})", 1, "0 bytes");
}

TEST_CASE("malformed: overlapping tensors", "[safetensors][malformed]") {
  expect_rejected(R"({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                      "b": {"dtype": "U8", "shape": [8], "data_offsets": [4, 12]}})",
                  12, "overlap");
  expect_rejected(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                      "b": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
                  4, "overlap");
  // Contained in a longer range that started earlier, past a tensor in between.
  expect_rejected(R"({"a": {"dtype": "U8", "shape": [12], "data_offsets": [0, 12]},
                      "b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]},
                      "c": {"dtype": "U8", "shape": [2], "data_offsets": [8, 10]}})",
                  12, "overlap");
  // Adjacent ranges and empty tensors anywhere are fine; so are gaps and out-of-order entries.
  const auto ok = safetensors_file::from_bytes(
      assemble(R"({"c": {"dtype": "U8", "shape": [4], "data_offsets": [6, 10]},
                   "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                   "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [2, 2]},
                   "z": {"dtype": "U8", "shape": [0], "data_offsets": [10, 10]}}    )",
               10));
  CHECK(ok.names() == std::vector<std::string>{"a", "e", "c", "z"});
  CHECK(ok.read<std::uint8_t>("c") == std::vector<std::uint8_t>{6, 7, 8, 9});
}

TEST_CASE("malformed: metadata that is not string to string", "[safetensors][malformed]") {
  expect_rejected(R"({"__metadata__": {"format": 1}})", 0, "not a string");
  expect_rejected(R"({"__metadata__": {"a": "x", "b": {"c": "d"}}})", 0, "'b'");
  expect_rejected(R"({"__metadata__": ["x"]})", 0, "__metadata__");
  const auto ok =
      safetensors_file::from_bytes(assemble(R"({"__metadata__": {"format": "pt"}})", 0));
  CHECK(ok.metadata().at("format") == "pt");
}

TEST_CASE("malformed: a tensor name given twice", "[safetensors][malformed]") {
  expect_rejected(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                      "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                  2, "twice");
}

TEST_CASE("malformed: hostile headers fail cleanly", "[safetensors][malformed]") {
  // Deep nesting must not exhaust the stack or memory; it is cut off as soon as it goes deeper
  // than header > entry > shape.
  const std::size_t depth = 200000;
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  expect_rejected(deep, 0, "nests");
  expect_rejected("{\"x\": " + deep + "}", 0, "nests");
  expect_rejected("{\"x\": {\"dtype\": \"U8\", \"shape\": " + deep + "}}", 0, "nests");
  expect_rejected("{\"__metadata__\": {\"k\": " + deep + "}}", 0, "nests");
  expect_rejected(R"({"x": {"dtype": "U8", "shape": [[1]], "data_offsets": [0, 1]}})", 1, "nests");
  expect_rejected(R"({"x": {"dtype": "U8", "shape": [{"a": 1}], "data_offsets": [0, 1]}})", 1,
                  "nests");
  expect_rejected(R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [[0], [1]]}})", 1,
                  "nests");
  expect_rejected(
      R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "extra": {"a": []}}})", 1,
      "nests");
  // An unterminated megabyte string: the message stays short.
  const std::string unterminated = "{\"" + std::string(1 << 20, 'a');
  const std::string msg = message_of(
      [&] { (void)safetensors_file::from_bytes(assemble(unterminated, 0), "bad.safetensors"); });
  CHECK(contains(msg, "not valid JSON"));
  CHECK(msg.size() < 400);
}

TEST_CASE("malformed: too many tensors or dimensions are refused while parsing",
          "[safetensors][malformed][limits]") {
  // One more tensor than the cap, each an empty U8 tensor (valid on its own).
  std::string many = "{";
  for (std::size_t i = 0; i <= safetensors_file::max_tensors; ++i)
    many += (i ? ",\"" : "\"") + std::to_string(i) +
            "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
  many += "}";
  expect_rejected(many, 0, "more than");
  // Exactly the cap opens (with __metadata__ not counted as a tensor).
  std::string at_cap = "{\"__metadata__\":{}";
  for (std::size_t i = 0; i < safetensors_file::max_tensors; ++i)
    at_cap +=
        ",\"" + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
  at_cap += "}";
  CHECK(safetensors_file::from_bytes(assemble(at_cap, 0)).names().size() ==
        safetensors_file::max_tensors);

  auto shape_of_rank = [](std::size_t rank) {
    std::string s = "[";
    for (std::size_t i = 0; i < rank; ++i) s += i ? ",1" : "1";
    return s + "]";
  };
  const std::string max_rank = shape_of_rank(safetensors_file::max_rank);
  CHECK(safetensors_file::from_bytes(
            assemble("{\"x\":{\"dtype\":\"U8\",\"shape\":" + max_rank + ",\"data_offsets\":[0,1]}}",
                     1))
            .info("x")
            .shape.size() == safetensors_file::max_rank);
  expect_rejected("{\"x\":{\"dtype\":\"U8\",\"shape\":" +
                      shape_of_rank(safetensors_file::max_rank + 1) + ",\"data_offsets\":[0,1]}}",
                  1, "dimensions");
  // A shape of a million zeros (element count 0) is cut off at the rank cap, not built.
  std::string zeros = "[0";
  for (int i = 0; i < 1000000; ++i) zeros += ",0";
  expect_rejected("{\"x\":{\"dtype\":\"U8\",\"shape\":" + zeros + "],\"data_offsets\":[0,0]}}", 0,
                  "dimensions");
}
