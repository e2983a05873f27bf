// A byte-level BPE tokenizer the trainer builds from its corpus and saves as a Hugging Face
// `tokenizer.json` (model "BPE" with vocab and merges, ByteLevel pre-tokenizer and decoder, the
// GPT-2 byte-to-unicode alphabet), so that a trained checkpoint carries the tokenizer any Hugging
// Face reader (and bitnet_cli's text prompts) use. With no merges it is the plain byte tokenizer.
//
// Pre-tokenization follows the GPT-2 pattern ByteLevel applies with use_regex: contractions
// ('s 't 're 've 'm 'll 'd), an optional space followed by letters, digits, or other symbols, and
// whitespace runs (a run before a word leaves its last space to the word). Letters are ASCII
// letters and every byte >= 0x80 (a byte-level stand-in for \p{L}: exact for ASCII text).
// Training: merge the most frequent adjacent pair over the corpus' pre-token counts (ties go to the
// smallest pair of ids, so training is deterministic), until the vocabulary is full.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"

namespace bitlin::train {

class bpe_tokenizer {
 public:
  // Bytes only: ids 0..255 are the bytes themselves.
  bpe_tokenizer() { init_bytes(); }

  // Learns vocab_size - 256 merges from `text` (fewer if the corpus runs out of pairs).
  static bpe_tokenizer train(const std::string& text, std::size_t vocab_size) {
    BITLIN_REQUIRE(vocab_size >= 256, value_error, "bpe_tokenizer: vocabulary size ", vocab_size,
                   " is below the 256 byte tokens");
    bpe_tokenizer tok;
    std::map<std::string, std::int64_t> counts;
    for (const auto& w : pretokenize(text)) counts[w] += 1;
    std::vector<std::vector<std::int32_t>> words;
    std::vector<std::int64_t> freq;
    for (const auto& [w, n] : counts) {
      std::vector<std::int32_t> s;
      for (unsigned char ch : w) s.push_back(static_cast<std::int32_t>(ch));
      words.push_back(std::move(s));
      freq.push_back(n);
    }
    while (tok.pieces_.size() < vocab_size) {
      std::unordered_map<std::uint64_t, std::int64_t> pairs;
      for (std::size_t i = 0; i < words.size(); ++i)
        for (std::size_t j = 0; j + 1 < words[i].size(); ++j)
          pairs[key(words[i][j], words[i][j + 1])] += freq[i];
      if (pairs.empty()) break;
      std::uint64_t best_key = 0;
      std::int64_t best_count = 0;
      for (const auto& [k, n] : pairs)  // the smallest pair of ids breaks ties
        if (n > best_count || (n == best_count && k < best_key)) {
          best_key = k;
          best_count = n;
        }
      if (best_count < 2) break;
      const auto a = static_cast<std::int32_t>(best_key >> 32);
      const auto b = static_cast<std::int32_t>(best_key & 0xFFFFFFFFu);
      const auto id = static_cast<std::int32_t>(tok.pieces_.size());
      tok.add_merge(a, b);
      for (auto& w : words) {
        std::size_t o = 0;
        for (std::size_t j = 0; j < w.size(); ++j) {
          if (j + 1 < w.size() && w[j] == a && w[j + 1] == b) {
            w[o++] = id;
            ++j;
          } else {
            w[o++] = w[j];
          }
        }
        w.resize(o);
      }
    }
    return tok;
  }

  std::size_t vocab_size() const { return pieces_.size(); }
  std::size_t merges() const { return merges_.size(); }
  // Bytes of token id.
  const std::string& piece(std::int32_t id) const {
    BITLIN_REQUIRE(id >= 0 && static_cast<std::size_t>(id) < pieces_.size(), value_error,
                   "bpe_tokenizer: token id ", id, " is outside the vocabulary");
    return pieces_[static_cast<std::size_t>(id)];
  }

  std::vector<std::int32_t> encode(const std::string& text) const {
    std::vector<std::int32_t> out;
    std::unordered_map<std::string, std::vector<std::int32_t>> cache;
    for (const auto& w : pretokenize(text)) {
      auto it = cache.find(w);
      if (it == cache.end()) it = cache.emplace(w, encode_word(w)).first;
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
    return out;
  }

  std::string decode(const std::vector<std::int32_t>& ids) const {
    std::string s;
    for (auto id : ids) s += piece(id);
    return s;
  }

  // The Hugging Face tokenizer.json document.
  nlohmann::json to_json() const {
    nlohmann::json vocab = nlohmann::json::object();
    for (std::size_t i = 0; i < pieces_.size(); ++i) vocab[visible(pieces_[i])] = i;
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& [a, b] : merges_)
      merges.push_back(visible(pieces_[static_cast<std::size_t>(a)]) + " " +
                       visible(pieces_[static_cast<std::size_t>(b)]));
    const nlohmann::json byte_level = {{"type", "ByteLevel"},
                                       {"add_prefix_space", false},
                                       {"trim_offsets", true},
                                       {"use_regex", true}};
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", nlohmann::json::array()},
            {"normalizer", nullptr},
            {"pre_tokenizer", byte_level},
            {"post_processor", nullptr},
            {"decoder", byte_level},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"ignore_merges", false},
              {"vocab", vocab},
              {"merges", merges}}}};
  }

  void save(const std::string& path) const {
    std::ofstream out(path);
    BITLIN_REQUIRE(out.good(), error, "bpe_tokenizer: cannot write ", path);
    out << to_json().dump(1) << "\n";
    BITLIN_REQUIRE(out.good(), error, "bpe_tokenizer: failed writing ", path);
  }

  // Reads what save wrote (ids 0..255 must be the bytes, merges in id order).
  static bpe_tokenizer load(const std::string& path) {
    std::ifstream in(path);
    BITLIN_REQUIRE(in.good(), format_error, "cannot open tokenizer ", path);
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      throw format_error(path + ": not valid JSON: " + e.what());
    }
    const auto& m = j.at("model");
    BITLIN_REQUIRE(m.at("type") == "BPE", format_error, path, ": model.type is not BPE");
    std::unordered_map<std::string, std::int32_t> vocab;
    for (auto it = m.at("vocab").begin(); it != m.at("vocab").end(); ++it)
      vocab[it.key()] = it->get<std::int32_t>();
    bpe_tokenizer tok;
    for (std::size_t b = 0; b < 256; ++b) {
      const std::string v = visible(std::string(1, static_cast<char>(b)));
      BITLIN_REQUIRE(vocab.count(v) && vocab[v] == static_cast<std::int32_t>(b), format_error, path,
                     ": byte ", b, " is not token ", b);
    }
    for (const auto& e : m.at("merges")) {
      const std::string s = e.get<std::string>();
      const auto sp = s.find(' ');
      BITLIN_REQUIRE(sp != std::string::npos, format_error, path, ": merge '", s,
                     "' is not two pieces");
      const std::string a = s.substr(0, sp), b = s.substr(sp + 1);
      BITLIN_REQUIRE(vocab.count(a) && vocab.count(b) && vocab.count(a + b) &&
                         vocab[a + b] == static_cast<std::int32_t>(tok.pieces_.size()),
                     format_error, path, ": merge '", s, "' does not match the vocabulary");
      tok.add_merge(vocab[a], vocab[b]);
    }
    return tok;
  }

  // GPT-2's ByteLevel pre-tokenization (see the header comment), on raw bytes.
  static std::vector<std::string> pretokenize(const std::string& s) {
    std::vector<std::string> out;
    const std::size_t n = s.size();
    auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    auto letter = [](unsigned char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
    };
    auto digit = [](unsigned char c) { return c >= '0' && c <= '9'; };
    auto space = [](unsigned char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    std::size_t i = 0;
    while (i < n) {
      if (at(i) == '\'') {
        bool matched = false;
        for (const char* c : {"s", "t", "re", "ve", "m", "ll", "d"}) {
          const std::string suf(c);
          if (s.compare(i + 1, suf.size(), suf) == 0) {
            out.push_back(s.substr(i, 1 + suf.size()));
            i += 1 + suf.size();
            matched = true;
            break;
          }
        }
        if (matched) continue;
      }
      const std::size_t start = i;
      std::size_t j = i;
      if (at(j) == ' ' && j + 1 < n && !space(at(j + 1))) ++j;  // " ?" before a word
      if (j < n && letter(at(j))) {
        while (j < n && letter(at(j))) ++j;
      } else if (j < n && digit(at(j))) {
        while (j < n && digit(at(j))) ++j;
      } else if (j < n && !space(at(j))) {
        while (j < n && !space(at(j)) && !letter(at(j)) && !digit(at(j))) ++j;
      } else {
        // Whitespace: \s+(?!\S) leaves the last space of a run that precedes a non-space.
        while (j < n && space(at(j))) ++j;
        if (j < n && j - start > 1) --j;
      }
      out.push_back(s.substr(start, j - start));
      i = j;
    }
    return out;
  }

  // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others map to
  // U+0100 onwards in byte order; the result is UTF-8.
  static std::string visible(const std::string& bytes) {
    std::string out;
    for (unsigned char b : bytes) {
      unsigned cp = b;
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))) {
        unsigned k = 0;
        for (unsigned x = 0; x < b; ++x)
          if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) ++k;
        cp = 256 + k;
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    return out;
  }

 private:
  static std::uint64_t key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b);
  }
  void init_bytes() {
    pieces_.clear();
    for (int b = 0; b < 256; ++b) pieces_.emplace_back(1, static_cast<char>(b));
  }
  void add_merge(std::int32_t a, std::int32_t b) {
    rank_[{a, b}] = static_cast<std::int32_t>(merges_.size());
    merges_.emplace_back(a, b);
    pieces_.push_back(pieces_[static_cast<std::size_t>(a)] + pieces_[static_cast<std::size_t>(b)]);
  }
  // Standard BPE: merge the lowest-ranked adjacent pair until none applies.
  std::vector<std::int32_t> encode_word(const std::string& w) const {
    std::vector<std::int32_t> s;
    for (unsigned char c : w) s.push_back(static_cast<std::int32_t>(c));
    for (;;) {
      std::int32_t best = -1;
      std::size_t at = 0;
      for (std::size_t j = 0; j + 1 < s.size(); ++j) {
        const auto it = rank_.find({s[j], s[j + 1]});
        if (it != rank_.end() && (best < 0 || it->second < best)) {
          best = it->second;
          at = j;
        }
      }
      if (best < 0) return s;
      s[at] = 256 + best;
      s.erase(s.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
  }

  std::vector<std::string> pieces_;
  std::vector<std::pair<std::int32_t, std::int32_t>> merges_;
  std::map<std::pair<std::int32_t, std::int32_t>, std::int32_t> rank_;
};

}  // namespace bitlin::train
