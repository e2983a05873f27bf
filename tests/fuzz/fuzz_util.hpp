// Shared by the fuzz targets: a per-process scratch directory (on /dev/shm when it exists, so
// that the targets that must go through the file system stay fast), file writing, and the
// splitting of one input into several files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace bitlin_fuzz {

namespace fs = std::filesystem;

// Separates the files packed into one input (see fuzz_checkpoint.cpp, tests/fuzz/make_corpus.py).
inline constexpr std::string_view part_separator = "\n--8<-- bitlin part --8<--\n";

inline std::vector<std::string> split_parts(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (true) {
    const std::size_t next = all.find(part_separator, at);
    if (next == std::string_view::npos) {
      parts.emplace_back(all.substr(at));
      return parts;
    }
    parts.emplace_back(all.substr(at, next - at));
    at = next + part_separator.size();
  }
}

// A directory of this process, removed at exit.
class scratch_dir {
 public:
  explicit scratch_dir(const std::string& tag) {
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = base / ("bitlin_fuzz_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  // Removes everything inside, keeping the directory.
  void clear() const {
    for (const auto& e : fs::directory_iterator(path_)) fs::remove_all(e.path());
  }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", p.string().c_str());
    std::abort();
  }
}

}  // namespace bitlin_fuzz
