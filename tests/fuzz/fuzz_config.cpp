// libFuzzer target: config.json text -> bitlin::model::bitnet_config. Malformed documents must
// fail with a bitlin::error; an accepted one must validate, survive to_json() -> from_json() with
// every modelled field unchanged, and describe sizes whose products do not overflow.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bitlin/model/config.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using bitlin::model::bitnet_config;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const bitnet_config c =
        bitnet_config::from_json(bitlin::io::parse_json_bounded(text, "config.json"));
    c.validate();
    const bitnet_config d = bitnet_config::from_json(c.to_json());
    if (d.vocab_size != c.vocab_size || d.hidden_size != c.hidden_size ||
        d.intermediate_size != c.intermediate_size || d.num_hidden_layers != c.num_hidden_layers ||
        d.num_attention_heads != c.num_attention_heads ||
        d.num_key_value_heads != c.num_key_value_heads || d.head_dim != c.head_dim ||
        d.max_position_embeddings != c.max_position_embeddings ||
        d.tie_word_embeddings != c.tie_word_embeddings || d.hidden_act != c.hidden_act ||
        d.linear_class != c.linear_class || d.rope_theta != c.rope_theta ||
        !(d.rms_norm_eps == c.rms_norm_eps))
      fail("to_json() -> from_json() changed a field");
    // What the model computes from the sizes must be representable.
    (void)(c.q_size() + 2 * c.kv_size());
    (void)(c.vocab_size * c.hidden_size);
    (void)(c.intermediate_size * c.hidden_size);
  } catch (const bitlin::error&) {
  }
  return 0;
}
