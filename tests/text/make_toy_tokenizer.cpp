// Writes the toy byte-level BPE tokenizer.json (tests/text/toy_bpe.hpp) of a given vocabulary
// size: the tokenizer the CLI demos and the oracle tests use with the fixture models.
//   make_toy_tokenizer VOCAB_SIZE OUT.json
#include <cstdio>
#include <fstream>
#include <string>

#include "toy_bpe.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_toy_tokenizer VOCAB_SIZE OUT.json\n");
    return 2;
  }
  const int n = std::stoi(argv[1]);
  if (n < 260) {
    std::fprintf(stderr, "make_toy_tokenizer: vocabulary size must be at least 260\n");
    return 2;
  }
  std::ofstream(argv[2], std::ios::binary) << bitlin_test::make_toy_tokenizer_json(n);
  // Loading it back checks it is well-formed.
  const auto t = bitlin::text::bpe_tokenizer::from_file(argv[2]);
  std::printf("wrote %s: %zu tokens\n", argv[2], t.vocab_size());
  return t.vocab_size() == static_cast<std::size_t>(n) ? 0 : 1;
}
