// Helpers the test files share (one definition each: the files of a folder are compiled as one
// translation unit, see tests/CMakeLists.txt).
#pragma once

#include <bitlin/core/types.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace bitlin_test {

// True where the big sweeps should shrink: unoptimised (sanitizer) builds, emulated runs
// (BITLIN_EMULATED, set by ctest under qemu) and BITLIN_TEST_QUICK.
inline bool quick() {
#if !defined(__OPTIMIZE__)
  return true;
#else
  for (const char* name : {"BITLIN_TEST_QUICK", "BITLIN_EMULATED"})
    if (const char* q = std::getenv(name); q && *q) return true;
  return false;
#endif
}

// An r x c matrix of N(0, scale^2) values, reproducible from the seed.
inline bitlin::matrix_f randn(bitlin::index_t r, bitlin::index_t c, std::uint32_t seed,
                              float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  bitlin::matrix_f m(r, c);
  for (bitlin::index_t i = 0; i < m.size(); ++i) m.data()[i] = scale * d(rng);
  return m;
}

// A fresh directory under the system's temporary directory, removed with its contents when the
// object goes out of scope. The name mixes a random tag and a counter so that test programs run
// side by side by ctest never share one.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& prefix = "bitlin_test") {
    static std::atomic<int> counter{0};
    path =
        std::filesystem::temp_directory_path() /
        (prefix + "_" + std::to_string(std::random_device{}()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace bitlin_test
