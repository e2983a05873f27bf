// No partial outputs: every file bitlin writes goes through io::atomic_file, so a write that fails
// part-way (an injected I/O error, a full disk simulated with RLIMIT_FSIZE, a process killed
// mid-way) leaves the previous file byte for byte, and no temporary file survives an error.
// Covered writers: safetensors_writer (checkpoints, the CLI's --logits-out) and the converter's
// output directory (model.safetensors + config.json).
#include <bitlin/io/atomic_file.hpp>
#include <bitlin/io/safetensors.hpp>
#include <bitlin/model/converter.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_util.hpp"
#include "fixtures.hpp"

using namespace bitlin;
namespace fs = std::filesystem;

namespace {

using bitlin_test::temp_dir;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A writer holding `mb` MiB of F32 data (several write chunks' worth when large).
io::safetensors_writer big_writer(std::size_t mb, float fill) {
  std::vector<float> v(mb * (std::size_t{1} << 18), fill);
  io::safetensors_writer w;
  w.add_f32("t", {static_cast<std::int64_t>(v.size())}, v.data());
  return w;
}

// Fails the write once `fail_at` bytes are written (errno EIO), for the life of this object.
struct fault {
  static inline std::uint64_t fail_at = 0;
  static inline int calls = 0;
  explicit fault(std::uint64_t at) {
    fail_at = at;
    calls = 0;
    io::detail::atomic_write_fault() = [](const std::string&, std::uint64_t written) {
      ++calls;
      return written >= fail_at ? EIO : 0;
    };
  }
  ~fault() { io::detail::atomic_write_fault() = nullptr; }
};

}  // namespace

TEST_CASE("atomic_file: commit replaces, discard and errors leave the previous file",
          "[io][atomic]") {
  temp_dir d;
  const fs::path p = d.path / "out.bin";
  io::write_file_atomically(p.string(), "first");
  CHECK(read_all(p) == "first");
  io::write_file_atomically(p.string(), "second, longer");
  CHECK(read_all(p) == "second, longer");
  {
    io::atomic_file f(p.string());
    f.write("abandoned");
    CHECK(fs::exists(f.temp_path()));
    CHECK(read_all(p) == "second, longer");  // nothing visible before commit
  }
  CHECK(read_all(p) == "second, longer");
  CHECK(entries(d.path) == std::vector<std::string>{"out.bin"});
  // A directory that does not exist: an error naming the file, nothing created.
  CHECK_THROWS_AS(io::write_file_atomically((d.path / "no" / "x").string(), "x"), bitlin::error);
  CHECK(entries(d.path) == std::vector<std::string>{"out.bin"});
}

TEST_CASE("an injected write error part-way leaves the previous safetensors file intact",
          "[io][atomic]") {
  temp_dir d;
  const fs::path p = d.path / "model.safetensors";
  big_writer(1, 1.0f).write(p.string());
  const std::string before = read_all(p);
  const auto w = big_writer(40, 2.0f);  // 40 MiB: the failure comes after two full 16 MiB chunks
  for (const std::uint64_t at : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{20} << 20}) {
    CAPTURE(at);
    fault f(at);
    try {
      w.write(p.string());
      FAIL("the write succeeded despite the injected error");
    } catch (const bitlin::error& e) {
      CHECK_THAT(std::string(e.what()),
                 Catch::Contains("model.safetensors") && Catch::Contains(std::strerror(EIO)));
    }
    CHECK(read_all(p) == before);
    CHECK(entries(d.path) == std::vector<std::string>{"model.safetensors"});
  }
  w.write(p.string());  // and without the fault it goes through
  CHECK(io::safetensors_file::open(p.string()).read_f32("t").at(5) == 2.0f);
}

TEST_CASE("a full disk (RLIMIT_FSIZE) leaves the previous file intact and no temporary file",
          "[io][atomic]") {
  temp_dir d;
  const fs::path p = d.path / "logits.safetensors";
  big_writer(1, 1.0f).write(p.string());
  const std::string before = read_all(p);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child may write 2 MiB per file; past that write(2) fails with EFBIG (SIGXFSZ ignored).
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{rlim_t{2} << 20, rlim_t{2} << 20};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(3);
    try {
      big_writer(8, 3.0f).write(p.string());
    } catch (const bitlin::error& e) {
      ::_exit(std::string(e.what()).find(std::strerror(EFBIG)) != std::string::npos ? 0 : 4);
    } catch (...) {
      ::_exit(5);
    }
    ::_exit(6);  // the write succeeded: the limit did not bite
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_all(p) == before);
  CHECK(entries(d.path) == std::vector<std::string>{"logits.safetensors"});
}

TEST_CASE("a process killed mid-write leaves the previous file intact", "[io][atomic]") {
  temp_dir d;
  const fs::path p = d.path / "model.safetensors";
  big_writer(1, 1.0f).write(p.string());
  const std::string before = read_all(p);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    io::detail::atomic_write_fault() = [](const std::string&, std::uint64_t written) {
      if (written > 0) ::raise(SIGKILL);
      return 0;
    };
    big_writer(40, 4.0f).write(p.string());
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(read_all(p) == before);
  // Only a kill can leave a temporary file behind; it is hidden and named after its target.
  for (const auto& name : entries(d.path))
    if (name != "model.safetensors") CHECK(name.rfind(".model.safetensors.tmp.", 0) == 0);
}

TEST_CASE("a converter failing part-way leaves the previous output directory intact",
          "[io][atomic][convert]") {
  temp_dir src, out;
  const fs::path data(bitlin_test::fixture_dir());
  fs::copy_file(data / "tiny_config.json", src.path / "config.json");
  fs::copy_file(data / "tiny_model.safetensors", src.path / "model.safetensors");
  model::convert_checkpoint(src.path.string(), out.path.string());
  const std::string config_before = read_all(out.path / "config.json");
  const std::string weights_before = read_all(out.path / "model.safetensors");
  model::convert_options opt;
  opt.linear_class = "autobitlinear";  // a different output
  for (const std::uint64_t at : {std::uint64_t{0}, std::uint64_t{1000}}) {
    CAPTURE(at);
    fault f(at);
    CHECK_THROWS_AS(model::convert_checkpoint(src.path.string(), out.path.string(), opt),
                    bitlin::error);
    CHECK(read_all(out.path / "config.json") == config_before);
    CHECK(read_all(out.path / "model.safetensors") == weights_before);
    CHECK(entries(out.path) == std::vector<std::string>{"config.json", "model.safetensors"});
  }
  model::convert_checkpoint(src.path.string(), out.path.string(), opt);
  CHECK(read_all(out.path / "config.json") != config_before);
  CHECK(model::bitnet_config::from_file((out.path / "config.json").string()).linear_class ==
        "autobitlinear");
}
