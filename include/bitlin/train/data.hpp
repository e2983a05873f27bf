// The trainer's data: a text corpus read as bytes, a deterministic train/validation split, token
// streams, random training windows chosen by (seed, step) alone (so a resumed run draws the same
// batches without saving a generator state), and the validation windows that bits per byte are
// measured on.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/train/model.hpp"
#include "bitlin/train/tokenizer.hpp"

namespace bitlin::train {

inline std::string read_corpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BITLIN_REQUIRE(in.good(), value_error, "corpus ", path, " cannot be opened");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BITLIN_REQUIRE(!s.empty(), value_error, "corpus ", path, " is empty");
  return s;
}

struct corpus_split {
  std::string train, validation;
};

// The last `val_fraction` of the text, starting at a line boundary, is the validation split: a
// contiguous tail cannot leak training text into validation windows.
inline corpus_split split_corpus(const std::string& text, double val_fraction = 0.1) {
  BITLIN_REQUIRE(val_fraction > 0.0 && val_fraction < 1.0, value_error,
                 "split_corpus: validation fraction must be in (0, 1), got ", val_fraction);
  BITLIN_REQUIRE(text.size() >= 2, value_error, "split_corpus: the corpus has ", text.size(),
                 " bytes, too short to split");
  std::size_t cut =
      static_cast<std::size_t>(static_cast<double>(text.size()) * (1.0 - val_fraction));
  cut = std::max<std::size_t>(1, std::min(cut, text.size() - 1));
  const std::size_t nl = text.find('\n', cut);
  if (nl != std::string::npos && nl + 1 < text.size()) cut = nl + 1;
  return {text.substr(0, cut), text.substr(cut)};
}

struct token_stream {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> bytes;  // bytes of each token (for bits per byte)
};

inline token_stream tokenize(const bpe_tokenizer& tok, const std::string& text) {
  token_stream s;
  s.ids = tok.encode(text);
  s.bytes.reserve(s.ids.size());
  for (auto id : s.ids) s.bytes.push_back(static_cast<std::int32_t>(tok.piece(id).size()));
  return s;
}

// `seqs` windows of context + 1 tokens for training update `step`, drawn uniformly from the stream.
inline std::vector<std::int32_t> training_windows(const token_stream& s, index_t context,
                                                  index_t seqs, std::uint64_t seed, index_t step) {
  const auto W = static_cast<std::size_t>(context + 1);
  BITLIN_REQUIRE(s.ids.size() >= W, value_error, "the training split has ", s.ids.size(),
                 " tokens, fewer than context + 1 = ", W, "; use a shorter --context or more data");
  rng r(seed ^ (0xD1B54A32D192ED03ull * static_cast<std::uint64_t>(step + 1)));
  std::vector<std::int32_t> out;
  out.reserve(W * static_cast<std::size_t>(seqs));
  const std::uint64_t starts = s.ids.size() - W + 1;
  for (index_t b = 0; b < seqs; ++b) {
    const auto o = static_cast<std::size_t>(r.below(starts));
    out.insert(out.end(), s.ids.begin() + static_cast<std::ptrdiff_t>(o),
               s.ids.begin() + static_cast<std::ptrdiff_t>(o + W));
  }
  return out;
}

// Validation windows of context + 1 tokens stepping by context (every target once), at most
// max_windows of them spread evenly over the split; `target_bytes` is the byte count of all their
// targets.
struct eval_set {
  std::vector<std::int32_t> windows;
  index_t count = 0;
  std::int64_t target_bytes = 0;
};

inline eval_set validation_windows(const token_stream& s, index_t context, index_t max_windows) {
  const auto W = static_cast<std::size_t>(context + 1);
  BITLIN_REQUIRE(s.ids.size() >= W, value_error, "the validation split has ", s.ids.size(),
                 " tokens, fewer than context + 1 = ", W, "; use a shorter --context or more data");
  const std::size_t available = (s.ids.size() - 1) / static_cast<std::size_t>(context);
  const std::size_t n = std::min<std::size_t>(available, static_cast<std::size_t>(max_windows));
  eval_set e;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t w = available == n ? i : i * available / n;
    const std::size_t o = w * static_cast<std::size_t>(context);
    e.windows.insert(e.windows.end(), s.ids.begin() + static_cast<std::ptrdiff_t>(o),
                     s.ids.begin() + static_cast<std::ptrdiff_t>(o + W));
    for (std::size_t t = o + 1; t < o + W; ++t) e.target_bytes += s.bytes[t];
  }
  e.count = static_cast<index_t>(n);
  return e;
}

}  // namespace bitlin::train
