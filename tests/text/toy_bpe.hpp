// A small byte-level BPE tokenizer.json of any vocabulary size >= 260, for tests and for the CLI
// demos on the fixture models (which ship no tokenizer). Layout: ids 0..3 are the special tokens
// <|pad|>, <|begin_of_text|>, <|end_of_text|>, <|eot_id|> (the fixtures' configs say bos 1,
// eos 2); ids 4..259 the 256 byte tokens; the rest merges learned greedily (most frequent adjacent
// pair, ties by the pair's text) from a training text cut by the Llama 3 pre-tokenizer regex. The
// result is a genuine Llama-3-style tokenizer.json (Split regex + ByteLevel, ignore_merges) that
// Hugging Face's implementations load too.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/text/pretokenizers.hpp"
#include "bitlin/text/tokenizer.hpp"

namespace bitlin_test {

inline std::string toy_byte_char(unsigned b) {
  int extra = 0;
  for (unsigned k = 0; k < b; ++k)
    if (!((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || k >= 174)) ++extra;
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  const unsigned cp = printable ? b : 256u + static_cast<unsigned>(extra);
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
  return s;
}

inline const char* toy_training_text() {
  return "The quick brown fox jumps over the lazy dog. It's a model that we've trained on "
         "ternary weights; they'll run fast. Hello, world! hello world, HELLO WORLD.\n"
         "int main() { return 0; }  // comment\n    for (int i = 0; i < 10; ++i) x += i;\n"
         "Numbers: 1234567890, 3.14159, 2026-12-01, 100%.\n"
         "User: What is BitNet?\nAssistant: BitNet b1.58 uses ternary weights -1, 0 and +1.\n"
         "the the the and and of of to to in in is is that that it it was was for for on on";
}

inline std::string make_toy_tokenizer_json(int vocab_size,
                                           const std::string& text = toy_training_text()) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  std::map<std::string, int> ids;
  const char* specials[] = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"};
  // The special tokens are in the model's vocabulary too (as GPT-2's <|endoftext|> is): the Rust
  // implementation renumbers added tokens that are not, counting from the vocabulary's end.
  for (int i = 0; i < 4; ++i) {
    vocab[specials[i]] = i;
    ids[specials[i]] = i;
  }
  for (unsigned b = 0; b < 256; ++b) {
    vocab[toy_byte_char(b)] = 4 + static_cast<int>(b);
    ids[toy_byte_char(b)] = 4 + static_cast<int>(b);
  }
  // Words: the pieces the Llama 3 regex cuts the text into, as byte-char symbol sequences.
  std::vector<std::vector<std::string>> words;
  {
    int err = 0;
    PCRE2_SIZE off = 0;
    const std::string pat = bitlin::text::llama3_pretokenizer_regex();
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
    std::size_t start = 0;
    while (start < text.size() && pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()),
                                              text.size(), start, 0, md, nullptr) > 0) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      std::vector<std::string> w;
      for (std::size_t i = ov[0]; i < ov[1]; ++i)
        w.push_back(toy_byte_char(static_cast<unsigned char>(text[i])));
      words.push_back(std::move(w));
      start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
  }
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  int next = 260;
  while (next < vocab_size) {
    std::map<std::pair<std::string, std::string>, int> count;
    for (const auto& w : words)
      for (std::size_t k = 0; k + 1 < w.size(); ++k) ++count[{w[k], w[k + 1]}];
    std::pair<std::string, std::string> best;
    int best_n = 0;
    for (const auto& [p, n] : count)
      if (n > best_n && ids.count(p.first + p.second) == 0) {
        best = p;
        best_n = n;
      }
    if (best_n == 0) {  // nothing left to learn: fill with unreachable tokens
      const std::string filler = "<|unused_" + std::to_string(next) + "|>";
      vocab[filler] = next;
      ids[filler] = next++;
      continue;
    }
    const std::string merged = best.first + best.second;
    vocab[merged] = next;
    ids[merged] = next++;
    merges.push_back(nlohmann::ordered_json::array({best.first, best.second}));
    for (auto& w : words) {
      std::vector<std::string> out;
      for (std::size_t k = 0; k < w.size(); ++k) {
        if (k + 1 < w.size() && w[k] == best.first && w[k + 1] == best.second) {
          out.push_back(merged);
          ++k;
        } else {
          out.push_back(w[k]);
        }
      }
      w = std::move(out);
    }
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (int i = 0; i < 4; ++i)
    added.push_back({{"id", i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", bitlin::text::llama3_pretokenizer_regex()}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", true},
                           {"use_regex", false}}}}};
  j["post_processor"] = {{"type", "ByteLevel"},
                         {"add_prefix_space", true},
                         {"trim_offsets", false},
                         {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"},
                  {"add_prefix_space", true},
                  {"trim_offsets", true},
                  {"use_regex", true}};
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", true},
                {"vocab", vocab},
                {"merges", merges}};
  return j.dump(1);
}

}  // namespace bitlin_test
