// libFuzzer target: arbitrary bytes as a GGUF file. Every input must either parse or raise a
// bitlin::format_error; a parsed file's metadata accessors, tensor table and float/ternary tensor
// reads must stay in bounds (ASan/UBSan watch), and what parsed must re-serialize and parse again.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bitlin/io/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bitlin::io;
  try {
    const auto f = gguf_file::from_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz");
    gguf_writer w;
    for (const auto& kv : f.metadata()) {
      try {
        w.set(kv.first, kv.second);
      } catch (const bitlin::error&) {
      }
      try {
        (void)f.get_uint(kv.first);
      } catch (const bitlin::error&) {
      }
      try {
        (void)f.get_ints(kv.first);
      } catch (const bitlin::error&) {
      }
    }
    for (const auto& ti : f.tensors()) {
      if (ti.numel > (1u << 20)) continue;  // keep each run small
      try {
        (void)f.read_f32(ti.name);
      } catch (const bitlin::error&) {
      }
      try {
        if (ti.ne.size() <= 2) (void)read_ternary(f, ti.name);
      } catch (const bitlin::error&) {
      }
      try {
        w.add_tensor(ti.name, ti.type, ti.ne,
                     std::vector<std::uint8_t>(f.raw(ti.name), f.raw(ti.name) + ti.nbytes));
      } catch (const bitlin::error&) {
      }
    }
    (void)gguf_file::from_bytes(w.to_bytes(), "fuzz-rewritten");
  } catch (const bitlin::format_error&) {
  }
  return 0;
}
