// libFuzzer target: arbitrary bytes as a tokenizer.json, and (when they load) the same bytes as
// text to encode. Loading must succeed or raise a bitlin::format_error; encoding must give ids in
// range that decode back to the exact bytes. Needs the tokenizer component (PCRE2): link
// bitlin::tokenizer, e.g. `target_link_libraries(fuzz_tokenizer PRIVATE bitlin::tokenizer)` where
// tests/fuzz/CMakeLists.txt builds the fuzz_*.cpp targets. Built without that component (no
// BITLIN_HAVE_TOKENIZER), the target compiles to a no-op so that a harness linking only
// bitlin::bitlin still builds.
#include <cstddef>
#include <cstdint>
#include <string>

#ifdef BITLIN_HAVE_TOKENIZER
#include "bitlin/text/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto t = bitlin::text::bpe_tokenizer::from_json_text(bytes);
    std::string text = bytes.substr(0, 4096);
    try {
      const auto ids = t.encode(text);
      if (t.decode(ids) != text) __builtin_trap();
    } catch (const bitlin::format_error&) {
      // a vocabulary without some byte token cannot encode that byte: a defined error
    }
  } catch (const bitlin::format_error&) {
  }
  return 0;
}
#else
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) {
  return 0;
}
#endif
