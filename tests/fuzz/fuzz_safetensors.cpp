// libFuzzer target: io::safetensors_file on arbitrary bytes. A file either fails with a
// bitlin::error or opens; an opened file must then serve every tensor through every accessor its
// dtype allows without touching memory outside the input, and must survive a round trip through
// safetensors_writer unchanged (names, dtypes, shapes, bytes, metadata).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bitlin/io/safetensors.hpp"

namespace {

using namespace bitlin::io;

[[noreturn]] void fail(const char* what, const std::string& name) {
  std::fprintf(stderr, "fuzz_safetensors: %s (tensor '%s')\n", what, name.c_str());
  std::abort();
}

unsigned checksum(const std::uint8_t* p, std::size_t n) {
  unsigned s = 0;
  for (std::size_t i = 0; i < n; ++i) s = s * 31u + p[i];
  return s;
}

void read_every_way(const safetensors_file& f, const std::string& name) {
  const tensor_info& ti = f.info(name);
  if (static_cast<std::uint64_t>(ti.numel()) * dtype_size(ti.type) != ti.nbytes())
    fail("numel * dtype size differs from the byte range", name);
  (void)checksum(f.raw(name), static_cast<std::size_t>(ti.nbytes()));
  const bool matrix_rank = ti.shape.size() == 1 || ti.shape.size() == 2;
  switch (ti.type) {
    case dtype::f32:
    case dtype::f16:
    case dtype::bf16: {
      const std::vector<float> v = f.read_f32(name);
      if (v.size() != static_cast<std::size_t>(ti.numel())) fail("read_f32 size", name);
      if (matrix_rank) (void)f.read_matrix_f32(name);
      if (ti.type == dtype::f32) {
        std::vector<float> buf(v.size());
        f.read<float>(name, buf.data(), buf.size());
        if (!buf.empty() && std::memcmp(buf.data(), v.data(), buf.size() * sizeof(float)) != 0)
          fail("read<float> and read_f32 disagree", name);
      }
      break;
    }
    case dtype::i8:
      (void)f.read<std::int8_t>(name);
      if (matrix_rank) (void)f.read_matrix<std::int8_t>(name);
      break;
    case dtype::u8:
      (void)f.read<std::uint8_t>(name);
      if (matrix_rank) (void)f.read_matrix<std::uint8_t>(name);
      break;
    case dtype::i32:
      (void)f.read<std::int32_t>(name);
      break;
    case dtype::i64:
      (void)f.read<std::int64_t>(name);
      break;
  }
}

void round_trip(const safetensors_file& f) {
  safetensors_writer w;
  for (const auto& name : f.names()) {
    const tensor_info& ti = f.info(name);
    w.add(name, ti.type, ti.shape, f.raw(name), static_cast<std::size_t>(ti.nbytes()));
  }
  w.set_metadata(f.metadata());
  const safetensors_file g = safetensors_file::from_bytes(w.to_bytes(), "<round trip>");
  if (g.names() != f.names()) fail("round trip changed the tensor list", "");
  if (g.metadata() != f.metadata()) fail("round trip changed the metadata", "");
  for (const auto& name : f.names()) {
    const tensor_info &a = f.info(name), &b = g.info(name);
    if (a.type != b.type || a.shape != b.shape || a.nbytes() != b.nbytes())
      fail("round trip changed a tensor's description", name);
    if (a.nbytes() && std::memcmp(f.raw(name), g.raw(name), a.nbytes()) != 0)
      fail("round trip changed a tensor's bytes", name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const safetensors_file f =
        safetensors_file::from_bytes(std::vector<std::uint8_t>(data, data + size), "<fuzz>");
    for (const auto& name : f.names()) read_every_way(f, name);
    round_trip(f);
  } catch (const bitlin::error&) {
  }
  return 0;
}
