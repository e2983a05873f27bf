// Replays, through the fuzz harnesses themselves (tests/fuzz/fuzz_<what>.cpp, linked in by
// tests/CMakeLists.txt), every input that once made a reader fail (tests/data/regressions/<what>/)
// and every seed of the fuzz corpora (tests/fuzz/corpus/<what>/). A harness returns normally when
// the reader either succeeded or threw a bitlin::error; a crash, a sanitizer report, a failed
// harness check (abort) or any other exception fails this test.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "catch.hpp"
#include "harness_table.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t replay(const bitlin_test::fuzz_harness& h, const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& f : files_in(dir)) {
    INFO(h.what << ": " << f.string());
    const std::vector<std::uint8_t> bytes = read_bytes(f);
    // A harness may keep references only during the call; an empty input has no data pointer.
    const std::uint8_t dummy = 0;
    CHECK(h.entry(bytes.empty() ? &dummy : bytes.data(), bytes.size()) == 0);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("every fuzz harness has seeds, and regression inputs replay cleanly", "[regressions]") {
  const auto harnesses = bitlin_test::fuzz_harnesses();
  REQUIRE(!harnesses.empty());
  const fs::path regressions = fs::path(BITLIN_TEST_DATA_DIR) / "regressions";
  for (const auto& h : harnesses) {
    CAPTURE(h.what);
    const std::size_t seeds = replay(h, fs::path(BITLIN_FUZZ_CORPUS_DIR) / h.what);
    CHECK(seeds > 0);
    (void)replay(h, regressions / h.what);
  }
  // A regression folder must belong to a harness (a renamed harness would silently skip it).
  for (const auto& e : fs::directory_iterator(regressions)) {
    if (!e.is_directory()) continue;
    bool known = false;
    for (const auto& h : harnesses) known = known || e.path().filename() == h.what;
    CHECK(known);
  }
}

TEST_CASE("the harnesses tolerate empty and one-byte inputs", "[regressions]") {
  for (const auto& h : bitlin_test::fuzz_harnesses()) {
    CAPTURE(h.what);
    const std::uint8_t b[1] = {0};
    CHECK(h.entry(b, 0) == 0);
    CHECK(h.entry(b, 1) == 0);
  }
}
