// bitnet_tokenize: a Hugging Face tokenizer.json (or the vocabulary a GGUF file embeds) on the
// command line. `--tokenizer PATH FILE` prints the ids of FILE's text (no BOS or EOS added) as
// comma-separated integers on one line; `--tokenizer PATH --decode IDS` prints the text of the
// comma-separated ids.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bitlin/model/gguf.hpp"
#include "bitlin/text/tokenizer.hpp"

namespace {

const char* const usage_text =
    "usage: bitnet_tokenize --tokenizer PATH FILE\n"
    "       bitnet_tokenize --tokenizer PATH --decode IDS\n"
    "\n"
    "PATH is a tokenizer.json or a GGUF file with an embedded vocabulary. The first form prints\n"
    "the ids of FILE's text (no BOS/EOS added) comma-separated on one line; the second prints the\n"
    "text of comma-separated ids.\n";

bitlin::text::bpe_tokenizer load(const std::string& path) {
  using bitlin::text::bpe_tokenizer;
  if (bitlin::model::is_gguf_path(path)) {
    const std::string json =
        bitlin::model::tokenizer_json_from_gguf(bitlin::io::gguf_file::open(path));
    if (json.empty()) throw std::invalid_argument(path + " embeds no vocabulary");
    return bpe_tokenizer::from_json_text(json);
  }
  return bpe_tokenizer::from_file(path);
}

int run(int argc, char** argv) {
  std::string tok, file, decode;
  bool have_decode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a == "--tokenizer" && i + 1 < argc) {
      tok = argv[++i];
    } else if (a == "--decode" && i + 1 < argc) {
      decode = argv[++i];
      have_decode = true;
    } else if (!a.empty() && a[0] != '-' && file.empty()) {
      file = a;
    } else {
      throw std::invalid_argument("unexpected argument '" + a + "' (see --help)");
    }
  }
  if (tok.empty() || (file.empty() == !have_decode))
    throw std::invalid_argument("give --tokenizer PATH and either FILE or --decode IDS");
  const auto t = load(tok);
  if (have_decode) {
    std::vector<std::int32_t> ids;
    std::stringstream ss(decode);
    std::string part;
    while (std::getline(ss, part, ',')) {
      std::size_t pos = 0;
      const long v = std::stol(part, &pos);
      if (pos != part.size() || v < 0 || v >= static_cast<long>(t.vocab_size()))
        throw std::invalid_argument("'" + part + "' is not a token id of this tokenizer");
      ids.push_back(static_cast<std::int32_t>(v));
    }
    const std::string text = t.decode(ids);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
    return 0;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot open " + file);
  std::ostringstream os;
  os << in.rdbuf();
  const auto ids = t.encode(os.str());
  for (std::size_t k = 0; k < ids.size(); ++k) std::printf(k ? ",%d" : "%d", ids[k]);
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 1) {
      std::cout << usage_text;
      return 0;
    }
    return run(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bitnet_tokenize: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet_tokenize: error: %s\n", e.what());
    return 1;
  }
}
