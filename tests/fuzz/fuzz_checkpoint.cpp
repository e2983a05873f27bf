// libFuzzer target: a whole Hugging Face model directory made from one input, loaded with
// model::load_bitnet and, when it loads, run for two tokens. The input is split at
// bitlin_fuzz::part_separator into config.json, model.safetensors and, when there are more parts,
// model.safetensors.index.json followed by shards model-0000<i>.safetensors (the seeds in
// tests/fuzz/corpus/checkpoint come from tests/fuzz/make_corpus.py). Loading must end in a model
// or a bitlin::error; a loaded model's forward pass must stay in bounds.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bitlin/model/loader.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bitlin_fuzz::scratch_dir dir("checkpoint");
  const std::vector<std::string> parts = bitlin_fuzz::split_parts(data, size);
  if (parts.size() < 2 || parts.size() > 6) return 0;
  dir.clear();
  bitlin_fuzz::write_file(dir.path() / "config.json", parts[0]);
  bitlin_fuzz::write_file(dir.path() / "model.safetensors", parts[1]);
  if (parts.size() > 2) {
    bitlin_fuzz::write_file(dir.path() / "model.safetensors.index.json", parts[2]);
    for (std::size_t i = 3; i < parts.size(); ++i)
      bitlin_fuzz::write_file(dir.path() / ("model-0000" + std::to_string(i - 2) + ".safetensors"),
                              parts[i]);
  }
  try {
    bitlin::model::load_options opt;
    opt.target = bitlin::isa::scalar;  // one code path: what the fuzzer explores is the loader
    const bitlin::model::bitnet_model m = bitlin::model::load_bitnet(dir.path().string(), opt);
    const auto& c = m.config();
    // The model's size is bounded by the input's, but a forward pass over a huge vocabulary
    // would only make the fuzzer slow.
    if (c.vocab_size * c.hidden_size <= (1 << 20)) {
      const std::int64_t ids[2] = {0, c.vocab_size - 1};
      bitlin::model::kv_cache cache = m.new_cache();
      (void)m.forward(ids, 2, cache, bitlin::model::logits_for::all);
    }
  } catch (const bitlin::error&) {
  }
  return 0;
}
