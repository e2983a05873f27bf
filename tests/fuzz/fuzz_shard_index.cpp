// libFuzzer target: model.safetensors.index.json handling (io::parse_shard_index and
// io::checkpoint::open_dir). The input is the index; the model directory around it is fixed and
// holds two valid shards, a link to the first under another name (the same file twice), a link
// escaping the directory, a subdirectory and a FIFO, so that the fuzzer can find any name rule
// that lets a hostile index reach a file it must not. Every outcome is a checkpoint or a
// bitlin::error; an accepted checkpoint must only hold files from inside the directory.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bitlin/io/checkpoint.hpp"
#include "fuzz_util.hpp"

namespace {

using namespace bitlin::io;
namespace fs = std::filesystem;

std::string shard(const std::vector<std::string>& names) {
  safetensors_writer w;
  float v = 1.0f;
  for (const auto& n : names) w.add_f32(n, {1}, &v);
  const auto b = w.to_bytes();
  return std::string(b.begin(), b.end());
}

struct model_dir {
  bitlin_fuzz::scratch_dir root{"shard_index"};
  fs::path dir = root.path() / "model";
  model_dir() {
    fs::create_directories(dir / "sub");
    bitlin_fuzz::write_file(dir / "model-00001-of-00002.safetensors", shard({"a", "b"}));
    bitlin_fuzz::write_file(dir / "model-00002-of-00002.safetensors", shard({"c"}));
    bitlin_fuzz::write_file(root.path() / "outside.safetensors", shard({"x"}));
    bitlin_fuzz::write_file(dir / "sub" / "inner.safetensors", shard({"y"}));
    fs::create_symlink("model-00001-of-00002.safetensors", dir / "alias.safetensors");
    fs::create_symlink("../outside.safetensors", dir / "escape.safetensors");
    fs::create_symlink(root.path() / "outside.safetensors", dir / "absolute.safetensors");
    fs::create_symlink("loop.safetensors", dir / "loop.safetensors");
    ::mkfifo((dir / "fifo.safetensors").c_str(), 0600);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const model_dir m;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse_shard_index(text, "<fuzz index>");
  } catch (const bitlin::error&) {
  }
  bitlin_fuzz::write_file(m.dir / "model.safetensors.index.json", text);
  try {
    const checkpoint c = checkpoint::open_dir(m.dir.string());
    if (c.contains("x") || c.contains("y")) {
      std::fprintf(stderr, "fuzz_shard_index: a file outside the model directory was opened\n");
      std::abort();
    }
    for (const auto& n : c.names()) (void)c.file(n).read_f32(n);
  } catch (const bitlin::error&) {
  }
  return 0;
}
