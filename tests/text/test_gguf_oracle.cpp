// (Here in tests/text/ because it runs only where the Node oracles are set up, as the tokenizer
// oracle does.) GGUF files bitlin writes, read back by Hugging Face's own GGUF reader
// (@huggingface/gguf, run by Node in ctest: tests/text/gguf_dump.mjs): the same metadata (keys,
// types, values) and the same tensor table (names, dims, types, offsets). The hidden [write] case
// writes the file (the tiny fixture converted to I2_S with the toy tokenizer); ctest runs it, then
// the dump, then this.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bitlin/model/gguf.hpp"
#include "catch.hpp"
#include "fixtures.hpp"

using namespace bitlin;
namespace fs = std::filesystem;

namespace {
// A JSON number, or a bigint the dump wrote as a decimal string.
std::string num(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

TEST_CASE("gguf oracle: write the file", "[.write]") {
  const std::string out = env("BITLIN_GGUF_ORACLE");
  REQUIRE(!out.empty());
  const fs::path dir = fs::path(out).parent_path() / "oracle_model_src";
  fs::create_directories(dir);
  const std::string data = bitlin_test::fixture_dir();
  fs::copy_file(data + "/tiny_config.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(data + "/tiny_model.safetensors", dir / "model.safetensors",
                fs::copy_options::overwrite_existing);
  if (const std::string tok = env("BITLIN_TOY_TOKENIZER"); !tok.empty())
    fs::copy_file(tok, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  model::convert_to_gguf(dir.string(), out);
  CHECK(io::gguf_file::open(out).tensors().size() == 2 * 11 + 2);
}

TEST_CASE("gguf oracle: @huggingface/gguf reads bitlin's file as bitlin does",
          "[io][gguf][oracle]") {
  const std::string path = env("BITLIN_GGUF_ORACLE");
  INFO(
      "BITLIN_GGUF_ORACLE must name a GGUF file with its @huggingface/gguf dump beside it "
      "(ctest sets this up: run `ctest -R gguf_oracle`)");
  REQUIRE(!path.empty());
  std::ifstream in(path + ".json");
  REQUIRE(in.good());
  const auto dump = nlohmann::json::parse(in);
  const auto f = io::gguf_file::open(path);
  CHECK(dump["version"] == f.version());
  const auto& md = dump["metadata"];
  // The JavaScript reader adds its own view of the header counts; every key bitlin wrote is
  // there with the same type and value, and nothing else from the file.
  std::size_t keys = 0;
  for (const auto& [key, v] : f.metadata()) {
    CAPTURE(key);
    REQUIRE(md.contains(key));
    ++keys;
    const auto& o = md[key];
    CHECK(o["type"] == static_cast<int>(v.type));
    switch (v.type) {
      case io::gguf_type::string:
        CHECK(o["value"] == v.s);
        break;
      case io::gguf_type::u8:
      case io::gguf_type::u16:
      case io::gguf_type::u32:
      case io::gguf_type::u64:
        CHECK(num(o["value"]) == std::to_string(v.u));
        break;
      case io::gguf_type::f32:
      case io::gguf_type::f64:
        CHECK(o["value"].get<double>() == v.f);
        break;
      case io::gguf_type::boolean:
        CHECK(o["value"] == v.b);
        break;
      case io::gguf_type::array:
        CHECK(o["subType"] == static_cast<int>(v.elem));
        if (v.elem == io::gguf_type::string) {
          CHECK(o["value"].get<std::vector<std::string>>() == v.strings);
        } else if (v.elem == io::gguf_type::i32) {
          std::vector<std::int64_t> want;
          for (std::uint64_t k = 0; k < v.count; ++k) want.push_back(v.element<std::int32_t>(k));
          CHECK(o["value"].get<std::vector<std::int64_t>>() == want);
        }
        break;
      default:
        CHECK(num(o["value"]) == std::to_string(v.i));
    }
  }
  CHECK(keys == f.metadata().size());
  const auto& ti = dump["tensorInfos"];
  REQUIRE(ti.size() == f.tensors().size());
  for (std::size_t k = 0; k < f.tensors().size(); ++k) {
    const auto& t = f.tensors()[k];
    CAPTURE(t.name);
    CHECK(ti[k]["name"] == t.name);
    CHECK(ti[k]["dtype"] == static_cast<int>(t.type));
    CHECK(num(ti[k]["offset"]) == std::to_string(t.offset));
    std::vector<std::string> ne;
    for (auto n : t.ne) ne.push_back(std::to_string(n));
    std::vector<std::string> got;
    for (const auto& d : ti[k]["shape"]) got.push_back(num(d));
    CHECK(got == ne);
  }
  CHECK(num(dump["tensorDataOffset"]) == std::to_string(f.data_offset()));
}
