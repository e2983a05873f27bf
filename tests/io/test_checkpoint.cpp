// io::checkpoint: single files, explicit file lists and sharded model directories, and every rule
// that keeps a hostile model.safetensors.index.json inside its directory: no paths, no "..", no
// control characters, no link escaping the directory (unless allowed), no file named twice, no
// FIFO or device, bounded index size, shard count and JSON nesting.
#include <bitlin/io/checkpoint.hpp>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"

using namespace bitlin::io;
namespace fs = std::filesystem;

namespace {

using bitlin_test::temp_dir;

void write_shard(const fs::path& p, const std::vector<std::string>& names) {
  safetensors_writer w;
  float v = 1.0f;
  for (const auto& n : names) w.add_f32(n, {1}, &v);
  w.write(p.string());
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& entries) {
  nlohmann::json wm = nlohmann::json::object();
  for (const auto& [t, f] : entries) wm[t] = f;
  return nlohmann::json{{"weight_map", wm}}.dump();
}

template <class Fn>
std::string format_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const bitlin::format_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  FAIL("accepted; expected a format_error");
  return {};
}

// A model directory with two shards (a, b | c) and an index over them.
struct sharded {
  temp_dir root;
  fs::path dir = root.path / "model";
  const std::string one = "model-00001-of-00002.safetensors",
                    two = "model-00002-of-00002.safetensors";
  sharded() {
    fs::create_directories(dir);
    write_shard(dir / one, {"a", "b"});
    write_shard(dir / two, {"c"});
    write_shard(root.path / "outside.safetensors", {"x"});
  }
  void index(const std::vector<std::pair<std::string, std::string>>& entries) const {
    write_text(dir / "model.safetensors.index.json", index_json(entries));
  }
  std::string rejected(const std::vector<std::pair<std::string, std::string>>& entries,
                       const checkpoint_options& opt = {}) const {
    index(entries);
    return format_error_of([&] { (void)checkpoint::open_dir(dir.string(), opt); });
  }
};

}  // namespace

TEST_CASE("checkpoint: single file, explicit files and a sharded directory", "[checkpoint]") {
  sharded s;
  s.index({{"a", s.one}, {"b", s.one}, {"c", s.two}});
  const checkpoint c = checkpoint::open_dir(s.dir.string());
  CHECK(c.file_count() == 2);
  CHECK(c.names().size() == 3);
  CHECK(c.file("c").read_f32("c") == std::vector<float>{1.0f});
  const checkpoint f = checkpoint::open_files({(s.dir / s.one).string(), (s.dir / s.two).string()});
  CHECK(f.contains("a"));
  CHECK(f.contains("c"));
  temp_dir single;
  write_shard(single.path / "model.safetensors", {"w"});
  CHECK(checkpoint::open_dir(single.path.string()).contains("w"));
  CHECK_THAT(format_error_of([&] { (void)checkpoint::open_dir(s.root.path.string()); }),
             Catch::Contains("neither"));
}

TEST_CASE("checkpoint: index names must be plain files of the model directory",
          "[checkpoint][limits]") {
  sharded s;
  fs::create_directories(s.dir / "sub");
  write_shard(s.dir / "sub" / "inner.safetensors", {"y"});
  const std::string abs = (s.root.path / "outside.safetensors").string();
  CHECK_THAT(s.rejected({{"x", abs}}), Catch::Contains("a path"));
  CHECK_THAT(s.rejected({{"x", "../outside.safetensors"}}), Catch::Contains("a path"));
  CHECK_THAT(s.rejected({{"y", "sub/inner.safetensors"}}), Catch::Contains("a path"));
  CHECK_THAT(s.rejected({{"y", "sub\\inner.safetensors"}}), Catch::Contains("a path"));
  CHECK_THAT(s.rejected({{"a", ".."}}), Catch::Contains("directory"));
  CHECK_THAT(s.rejected({{"a", "."}}), Catch::Contains("directory"));
  CHECK_THAT(s.rejected({{"a", ""}}), Catch::Contains("empty"));
  // A NUL would make the system call see "model-00001-of-00002.safetensors" alone.
  CHECK_THAT(s.rejected({{"a", s.one + std::string(1, '\0') + "x"}}),
             Catch::Contains("control character") && Catch::Contains("\\x00"));
  CHECK_THAT(s.rejected({{"a", "new\nline.safetensors"}}), Catch::Contains("control character"));
  CHECK_THAT(s.rejected({{"a", "missing.safetensors"}}), Catch::Contains("cannot be resolved"));
  CHECK_THAT(s.rejected({{"a", s.one}, {"c", s.one}}), Catch::Contains("'c'"));
}

TEST_CASE("checkpoint: links escaping the directory, the same file twice, FIFOs and loops",
          "[checkpoint][limits]") {
  sharded s;
  fs::create_symlink("../outside.safetensors", s.dir / "escape.safetensors");
  fs::create_symlink(s.root.path / "outside.safetensors", s.dir / "absolute.safetensors");
  fs::create_symlink(s.one, s.dir / "alias.safetensors");
  fs::create_symlink("loop.safetensors", s.dir / "loop.safetensors");
  REQUIRE(::mkfifo((s.dir / "fifo.safetensors").c_str(), 0600) == 0);

  CHECK_THAT(s.rejected({{"x", "escape.safetensors"}}),
             Catch::Contains("outside the model directory"));
  CHECK_THAT(s.rejected({{"x", "absolute.safetensors"}}), Catch::Contains("outside"));
  checkpoint_options follow;
  follow.follow_external_links = true;
  s.index({{"x", "escape.safetensors"}});
  CHECK(checkpoint::open_dir(s.dir.string(), follow).contains("x"));

  // A link inside the directory is fine, but not a second name for a file already listed.
  s.index({{"a", "alias.safetensors"}, {"c", s.two}});
  CHECK(checkpoint::open_dir(s.dir.string()).contains("b"));
  CHECK_THAT(s.rejected({{"a", s.one}, {"b", "alias.safetensors"}}), Catch::Contains("same file"));
  CHECK_THAT(format_error_of([&] {
               (void)checkpoint::open_files(
                   {(s.dir / s.one).string(), (s.dir / "alias.safetensors").string()});
             }),
             Catch::Contains("same file"));
  CHECK_THAT(format_error_of([&] {
               (void)checkpoint::open_files({(s.dir / s.one).string(), (s.dir / s.one).string()});
             }),
             Catch::Contains("same file"));

  CHECK_THAT(s.rejected({{"a", "fifo.safetensors"}}), Catch::Contains("not a regular file"));
  CHECK_THAT(s.rejected({{"a", "loop.safetensors"}}), Catch::Contains("cannot be resolved"));

  // The single-file layout follows the same rule.
  temp_dir single;
  fs::create_symlink(s.root.path / "outside.safetensors", single.path / "model.safetensors");
  CHECK_THAT(format_error_of([&] { (void)checkpoint::open_dir(single.path.string()); }),
             Catch::Contains("outside"));
  CHECK(checkpoint::open_dir(single.path.string(), follow).contains("x"));
}

TEST_CASE("checkpoint: index size, shard count and nesting are bounded", "[checkpoint][limits]") {
  sharded s;
  // One distinct shard name more than allowed: refused before any file is touched.
  std::vector<std::pair<std::string, std::string>> many;
  for (std::size_t i = 0; i <= max_shards; ++i)
    many.emplace_back("t" + std::to_string(i), "s" + std::to_string(i) + ".safetensors");
  CHECK_THAT(format_error_of([&] { (void)parse_shard_index(index_json(many), "idx"); }),
             Catch::Contains("more than"));
  many.pop_back();
  CHECK(parse_shard_index(index_json(many), "idx").shards.size() == max_shards);

  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THAT(
      format_error_of([&] { (void)parse_shard_index("{\"weight_map\": " + deep + "}", "idx"); }),
      Catch::Contains("nests deeper"));
  CHECK_THAT(format_error_of([&] { (void)parse_shard_index("{\"weight_map\": {}}", "idx"); }),
             Catch::Contains("empty"));

  // A file over the cap is refused after reading at most the cap (a sparse file: no disk used).
  const fs::path big = s.dir / "model.safetensors.index.json";
  { std::ofstream(big).put('{'); }
  fs::resize_file(big, max_index_bytes + 1);
  CHECK_THAT(format_error_of([&] { (void)checkpoint::open_dir(s.dir.string()); }),
             Catch::Contains("larger than"));
  CHECK_THAT(format_error_of([&] { (void)read_text_file(big.string(), 100); }),
             Catch::Contains("larger than 100 bytes"));
}
