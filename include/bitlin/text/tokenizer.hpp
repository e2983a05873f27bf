// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (GPT-2 / Llama 3 / BitNet-2B-4T style),
// so that a model can be given text and answer in text without Python. Encoding follows the
// `tokenizers` pipeline: added tokens are split out of the raw text first (longest match at the
// earliest position); each remaining segment is cut by the pre-tokenizer's Split regex (pieces
// are the matches and the gaps between them, "Isolated"), every piece is mapped byte by byte to
// GPT-2's printable byte alphabet and, unless `ignore_merges` finds the whole piece in the
// vocabulary, merged by BPE, lowest merge rank first. Decoding maps the byte alphabet back.
//
// The regex runs on PCRE2 (UTF + UCP: \p{L}, \p{N}, \s are Unicode-aware; JIT-compiled where
// available) instead of hand-written Unicode tables, which is why this is an optional component
// (`bitlin::tokenizer`, linking libpcre2-8) and not part of the dependency-free core.
//
// Invalid UTF-8 has a defined meaning: the regex engine runs with PCRE2_MATCH_INVALID_UTF, so no
// match contains an invalid sequence; those bytes fall into gap pieces and are encoded as their
// byte tokens like any other byte. decode(encode(s)) == s for every byte string s, valid UTF-8 or
// not (Hugging Face's implementations accept only valid Unicode text).
//
// Speed (a cold encode, where every piece is looked up or merged afresh, is what a new text costs):
// the whole-piece lookup (`ignore_merges`, Llama 3) is one probe of an open-addressing table keyed
// on the piece's raw bytes, so no piece is mapped to the byte alphabet or copied into a string;
// merge ranks live in an open-addressing table keyed on the (left id, right id) pair, pair and rank
// packed into one 64-bit slot; BPE keeps the rank of every adjacent pair and re-probes only the two
// pairs a merge changes (short pieces: a linear scan of the ranks; long ones: a heap, so hostile
// input stays O(n log n)); pieces go through in batches with their table slots prefetched, and the
// big tables sit on huge pages; the regex runs through pcre2_jit_match with match data reused
// across calls. Pieces that needed merges are memoized in a byte-keyed cache (bounded: cleared when
// full). encode() uses the tokenizer's own scratch, so one tokenizer serves one thread at a time
// that way; concurrent callers pass their own encode_state, and encode_batch spreads texts over an
// executor.
#pragma once

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/core/memory.hpp"
#include "bitlin/gemm/executor.hpp"

namespace bitlin::text {

namespace detail {

// A 64-bit hash of a short byte string, 8 bytes at a time (pieces are mostly under 16 bytes).
inline std::uint64_t hash_bytes(const char* p, std::size_t n) {
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i)
      w |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  }
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

// Byte strings -> 24-bit values, open addressing with linear probing at load <= 1/2. A slot holds
// the string's first 8 bytes, its length and the value, so that a probe for a piece of at most 8
// bytes (most pieces) never touches the arena holding the strings: one cache miss per lookup.
class byte_table {
 public:
  static constexpr std::uint32_t absent = UINT32_MAX;
  static constexpr std::uint32_t max_value = (1u << 24) - 1;

  std::uint32_t find(const char* p, std::size_t n, std::uint64_t h) const {
    if (slots_.empty()) return absent;
    const std::uint64_t hd = head(p, n);
    const std::uint32_t l8 = n < 255 ? static_cast<std::uint32_t>(n) : 255u;
    for (std::size_t i = h >> shift_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.meta == 0) return absent;
      if ((s.meta & 255u) != l8 || s.head != hd) continue;
      if (n <= 8) return s.meta >> 8;
      if (l8 == 255 && stored_length(s.off) != n) continue;
      if (equal(arena_.data() + s.off + 8, p + 8, n - 8)) return s.meta >> 8;
    }
  }
  // Adds a string that is not in the table (n > 0, value <= max_value).
  void insert(const char* p, std::size_t n, std::uint64_t h, std::uint32_t value) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    if (n >= 255) {  // the length does not fit the slot: it precedes the bytes in the arena
      const auto len = static_cast<std::uint64_t>(n);
      arena_.append(reinterpret_cast<const char*>(&len), sizeof len);
    }
    const std::size_t off = arena_.size();
    BITLIN_REQUIRE(off <= UINT32_MAX - n, value_error, "byte_table: more than 4 GiB of strings");
    arena_.append(p, n);
    const std::uint32_t l8 = n < 255 ? static_cast<std::uint32_t>(n) : 255u;
    place(slot{head(p, n), static_cast<std::uint32_t>(off), l8 | (value << 8)}, h);
    ++size_;
  }
  void prefetch(std::uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(slots_.data() + (h >> shift_));
  }
  std::size_t size() const { return size_; }
  std::size_t arena_bytes() const { return arena_.size(); }
  void clear() {
    slots_.clear();
    arena_.clear();
    size_ = 0;
  }

 private:
  struct slot {
    std::uint64_t head;  // the first 8 bytes, zero-padded
    std::uint32_t off;   // of the bytes in the arena
    std::uint32_t meta;  // min(length, 255) | value << 8; 0: empty (no empty string is stored)
  };
  static std::uint64_t head(const char* p, std::size_t n) {
    std::uint64_t w = 0;
    if (n >= 8) {
      std::memcpy(&w, p, 8);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        w |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    }
    return w;
  }
  std::size_t stored_length(std::uint32_t off) const {
    std::uint64_t len;
    std::memcpy(&len, arena_.data() + off - sizeof len, sizeof len);
    return static_cast<std::size_t>(len);
  }
  std::size_t length(const slot& s) const {
    return (s.meta & 255u) < 255 ? (s.meta & 255u) : stored_length(s.off);
  }
  // Pieces are short: word compares inline instead of a call to memcmp.
  static bool equal(const char* a, const char* b, std::size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a, 8);
      std::memcpy(&y, b, 8);
      if (x != y) return false;
    }
    for (; n > 0; ++a, ++b, --n)
      if (*a != *b) return false;
    return true;
  }
  void place(const slot& s, std::uint64_t h) {
    std::size_t i = h >> shift_;
    while (slots_[i].meta != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void grow() {
    const std::size_t cap = slots_.empty() ? 1024 : 2 * slots_.size();
    std::vector<slot, ::bitlin::detail::huge_page_allocator<slot>> old(cap, slot{0, 0, 0});
    old.swap(slots_);
    mask_ = cap - 1;
    shift_ = 64u - static_cast<unsigned>(__builtin_ctzll(cap));
    for (const slot& s : old)
      if (s.meta != 0) place(s, hash_bytes(arena_.data() + s.off, length(s)));
  }
  std::vector<slot, ::bitlin::detail::huge_page_allocator<slot>> slots_;
  std::string arena_;
  std::size_t size_ = 0, mask_ = 0;
  unsigned shift_ = 64;
};

// Merge ranks keyed on the (left id, right id) pair, open addressing with linear probing. A slot is
// one 64-bit word, (code << rank_bits) | rank with code = left * ids + right + 1 (0: empty), so
// Llama 3's 280,147 merges take 4 MiB, eight slots to a cache line: a cold encode is bound by the
// misses on this table and the whole-piece one. Fibonacci hashing spreads the codes.
class merge_table {
 public:
  static constexpr std::int32_t none = INT32_MAX;

  // Room for n merges (ranks < n) between token ids < ids.
  void reserve(std::size_t n, std::size_t ids) {
    const auto bits = [](std::uint64_t v) {
      return v == 0 ? 1u : 64u - static_cast<unsigned>(__builtin_clzll(v));
    };
    ids_ = ids;
    rank_bits_ = bits(n);
    const unsigned code_bits = bits(static_cast<std::uint64_t>(ids) * ids);
    BITLIN_REQUIRE(code_bits + rank_bits_ <= 64, format_error, "tokenizer.json: ", n,
                   " merges over ", ids,
                   " token ids do not fit the merge table (pair and rank in 64 bits)");
    std::size_t cap = 1024;
    while (2 * cap < 3 * n) cap *= 2;  // load <= 2/3
    slots_.assign(cap, 0);
    mask_ = cap - 1;
    shift_ = 64u - static_cast<unsigned>(__builtin_ctzll(cap));
  }
  // Keeps the first rank given for a pair (a merges list may repeat one; the earlier wins).
  void insert(std::int32_t a, std::int32_t b, std::int32_t rank) {
    const std::uint64_t c = code(a, b);
    std::size_t i = index(c);
    for (; slots_[i] != 0; i = (i + 1) & mask_)
      if ((slots_[i] >> rank_bits_) == c) return;
    slots_[i] = (c << rank_bits_) | static_cast<std::uint64_t>(rank);
  }
  std::int32_t rank(std::int32_t a, std::int32_t b) const {
    const std::uint64_t c = code(a, b);
    for (std::size_t i = index(c);; i = (i + 1) & mask_) {
      const std::uint64_t s = slots_[i];
      if ((s >> rank_bits_) == c)
        return static_cast<std::int32_t>(s & ((std::uint64_t{1} << rank_bits_) - 1));
      if (s == 0) return none;
    }
  }
  void prefetch(std::int32_t a, std::int32_t b) const {
    __builtin_prefetch(slots_.data() + index(code(a, b)));
  }

 private:
  std::uint64_t code(std::int32_t a, std::int32_t b) const {
    return static_cast<std::uint64_t>(a) * ids_ + static_cast<std::uint64_t>(b) + 1;
  }
  std::size_t index(std::uint64_t c) const {
    return static_cast<std::size_t>((c * 0x9e3779b97f4a7c15ull) >> shift_);
  }
  // Two empty slots until reserve(): every lookup misses.
  std::vector<std::uint64_t, ::bitlin::detail::huge_page_allocator<std::uint64_t>> slots_ =
      std::vector<std::uint64_t, ::bitlin::detail::huge_page_allocator<std::uint64_t>>(2, 0);
  std::uint64_t ids_ = 0;
  std::size_t mask_ = 1;
  unsigned shift_ = 63, rank_bits_ = 1;
};

}  // namespace detail

class bpe_tokenizer {
 public:
  // The piece cache is cleared when it holds this many pieces or max_cache_bytes of them; pieces
  // longer than max_cached_piece bytes are merged every time (they rarely repeat).
  static constexpr std::size_t max_cache_entries = std::size_t{1} << 18;
  static constexpr std::size_t max_cache_bytes = std::size_t{1} << 24;
  static constexpr std::size_t max_cached_piece = 256;
  static_assert(max_cache_entries <= detail::byte_table::max_value, "cache indices fit a slot");

  // What one encode in progress needs besides the (immutable) tokenizer: the regex match data,
  // BPE scratch and the piece cache. One per thread for concurrent encoding; `cache` false makes
  // every piece be looked up or merged afresh.
  class encode_state {
   public:
    explicit encode_state(bool cache = true)
        : match_(pcre2_match_data_create(1, nullptr)), cache_on_(cache) {
      BITLIN_REQUIRE(match_ != nullptr, value_error, "bpe_tokenizer: out of memory for match data");
    }
    void clear_cache() {
      cache_.clear();
      cache_ids_.clear();
      cache_entries_.clear();
    }
    std::size_t cached_pieces() const { return cache_.size(); }

   private:
    friend class bpe_tokenizer;
    struct match_deleter {
      void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
    };
    struct heap_entry {
      std::int32_t rank, pos, left, right;
      bool operator>(const heap_entry& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::unique_ptr<pcre2_match_data, match_deleter> match_;
    bool cache_on_;
    detail::byte_table cache_;  // piece bytes -> index into cache_entries_
    std::vector<std::pair<std::uint32_t, std::uint32_t>> cache_entries_;  // (first, count)
    std::vector<std::int32_t> cache_ids_;
    std::vector<std::int32_t> next_, prev_;  // long pieces: the symbol list
    std::vector<heap_entry> heap_;
    struct piece {
      const char* p;
      std::size_t n;
      std::uint64_t h;
    };
    std::vector<piece> pieces_;  // the batch being encoded
  };

  static bpe_tokenizer from_json_text(const std::string& text) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      std::string why = e.what();
      if (why.size() > 200) why = why.substr(0, 197) + "...";
      throw format_error("tokenizer.json: not valid JSON: " + why);
    }
    bpe_tokenizer t;
    try {
      t.load(j);
    } catch (const nlohmann::json::exception& e) {
      // A member of an unexpected type that no check above names: still a malformed file.
      std::string why = e.what();
      if (why.size() > 200) why = why.substr(0, 197) + "...";
      throw format_error("tokenizer.json: a field has the wrong type: " + why);
    }
    return t;
  }

  static bpe_tokenizer from_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    BITLIN_REQUIRE(f, format_error, "cannot open tokenizer file ", path);
    std::string text;
    char buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    try {
      return from_json_text(text);
    } catch (const format_error& e) {
      throw format_error(::bitlin::detail::concat(path, ": ", e.what()));
    }
  }

  std::size_t vocab_size() const { return id_to_token_.size(); }
  // The id of a token string (vocabulary or added token), or -1.
  std::int32_t token_id(const std::string& token) const {
    const auto it = token_to_id_.find(token);
    return it == token_to_id_.end() ? -1 : it->second;
  }
  const std::string& token(std::int32_t id) const {
    BITLIN_REQUIRE(id >= 0 && static_cast<std::size_t>(id) < id_to_token_.size(), value_error,
                   "bpe_tokenizer: token id ", id, " is out of range [0, ", id_to_token_.size(),
                   ")");
    return id_to_token_[static_cast<std::size_t>(id)];
  }
  bool is_special(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < special_.size() &&
           special_[static_cast<std::size_t>(id)];
  }

  // The ids of `text` (no BOS/EOS added). Added tokens in the text are recognized when
  // `parse_special` (what Hugging Face does by default). Uses the tokenizer's own encode_state:
  // not for concurrent calls on one tokenizer (use the overload with a state per thread).
  std::vector<std::int32_t> encode(const std::string& text, bool parse_special = true) const {
    std::vector<std::int32_t> out;
    encode(text.data(), text.size(), state_, out, parse_special);
    return out;
  }
  // Appends the ids of the n bytes at `text` to `out`, with the caller's scratch (thread-safe for
  // distinct states).
  void encode(const char* text, std::size_t n, encode_state& st, std::vector<std::int32_t>& out,
              bool parse_special = true) const {
    out.reserve(out.size() + n / 3 + 1);
    std::size_t pos = 0;
    while (pos < n) {
      std::size_t at = n;
      std::int32_t added = -1;
      std::size_t added_len = 0;
      if (parse_special && !added_.empty()) find_added(text, n, pos, at, added, added_len);
      if (at > pos) encode_segment(text + pos, at - pos, st, out);
      if (added < 0) break;
      out.push_back(added);
      pos = at + added_len;
    }
  }
  // Every text's ids, the texts spread over `ex`'s threads (each chunk with its own state).
  std::vector<std::vector<std::int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                      const executor& ex = serial(),
                                                      bool parse_special = true) const {
    std::vector<std::vector<std::int32_t>> out(texts.size());
    ex.parallel_for(static_cast<index_t>(texts.size()), 1, [&](index_t b, index_t e) {
      encode_state st;
      for (index_t i = b; i < e; ++i) {
        const auto& t = texts[static_cast<std::size_t>(i)];
        encode(t.data(), t.size(), st, out[static_cast<std::size_t>(i)], parse_special);
      }
    });
    return out;
  }

  // The bytes the ids stand for (added tokens as their content).
  std::string decode(const std::vector<std::int32_t>& ids) const {
    std::string out;
    for (const std::int32_t id : ids) append_decoded(id, out);
    return out;
  }
  // One token's bytes appended (for streaming; a UTF-8 character may span several tokens).
  void append_decoded(std::int32_t id, std::string& out) const {
    const std::string& t = token(id);
    if (is_added(id)) {
      out += t;
      return;
    }
    for (std::size_t i = 0; i < t.size();) {
      std::uint32_t cp = 0;
      const std::size_t n = utf8_decode(t, i, cp);
      if (cp < 324 && byte_of_char_[cp] >= 0)
        out.push_back(static_cast<char>(byte_of_char_[cp]));
      else
        out.append(t, i, n);
      i += n;
    }
  }

  // Forgets the cached ids of pieces seen so far by encode(text) (what a cold start looks like).
  void clear_cache() const { state_.clear_cache(); }

  bpe_tokenizer(bpe_tokenizer&&) = default;
  bpe_tokenizer& operator=(bpe_tokenizer&&) = default;

 private:
  bpe_tokenizer() = default;

  struct code_deleter {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };

  static std::size_t utf8_decode(const std::string& s, std::size_t i, std::uint32_t& cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    cp = n == 1 ? c : (c & (0x7fu >> n));
    for (std::size_t k = 1; k < n; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
    return n;
  }
  static void utf8_append(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  bool is_added(std::int32_t id) const {
    return static_cast<std::size_t>(id) < added_flag_.size() &&
           added_flag_[static_cast<std::size_t>(id)];
  }

  void load(const nlohmann::json& j) {
    BITLIN_REQUIRE(j.is_object(), format_error, "tokenizer.json: the document is not an object");
    const auto mi = j.find("model");
    BITLIN_REQUIRE(mi != j.end() && mi->is_object(), format_error,
                   "tokenizer.json: missing object \"model\"");
    const auto& m = *mi;
    BITLIN_REQUIRE(!m.contains("type") || m["type"].is_string(), format_error,
                   "tokenizer.json: field \"model.type\" is not a string");
    const std::string type = string_member(m, "type", "BPE");
    BITLIN_REQUIRE(type == "BPE", format_error, "tokenizer.json: field \"model.type\" is \"", type,
                   "\"; only \"BPE\" is supported");
    BITLIN_REQUIRE(!m.contains("byte_fallback") || !m["byte_fallback"].is_boolean() ||
                       !m["byte_fallback"].get<bool>(),
                   format_error, "tokenizer.json: \"model.byte_fallback\" is not supported");
    if (const auto n = j.find("normalizer"); n != j.end())
      BITLIN_REQUIRE(n->is_null(), format_error,
                     "tokenizer.json: field \"normalizer\" must be null (normalizers are not "
                     "supported)");
    ignore_merges_ = m.contains("ignore_merges") && m["ignore_merges"].is_boolean() &&
                     m["ignore_merges"].get<bool>();

    const auto vi = m.find("vocab");
    BITLIN_REQUIRE(vi != m.end() && vi->is_object(), format_error,
                   "tokenizer.json: field \"model.vocab\" must be an object");
    std::int64_t max_id = -1;
    for (auto it = vi->begin(); it != vi->end(); ++it) {
      BITLIN_REQUIRE(it->is_number_integer() && it->get<std::int64_t>() >= 0 &&
                         it->get<std::int64_t>() < (std::int64_t{1} << 24),
                     format_error, "tokenizer.json: vocab entry \"", it.key(),
                     "\" has no valid id");
      max_id = std::max(max_id, it->get<std::int64_t>());
    }
    std::vector<std::pair<std::string, std::int64_t>> added;
    std::vector<bool> added_special;
    if (const auto at = j.find("added_tokens"); at != j.end()) {
      BITLIN_REQUIRE(at->is_array(), format_error,
                     "tokenizer.json: field \"added_tokens\" must be an array");
      for (const auto& e : *at) {
        BITLIN_REQUIRE(
            e.is_object() && e.contains("id") && e["id"].is_number_integer() &&
                e["id"].get<std::int64_t>() >= 0 &&
                e["id"].get<std::int64_t>() < (std::int64_t{1} << 24) && e.contains("content") &&
                e["content"].is_string() && !e["content"].get<std::string>().empty(),
            format_error,
            "tokenizer.json: an \"added_tokens\" entry needs an id and non-empty content");
        added.emplace_back(e["content"].get<std::string>(), e["id"].get<std::int64_t>());
        added_special.push_back(e.contains("special") && e["special"].is_boolean() &&
                                e["special"].get<bool>());
        max_id = std::max(max_id, e["id"].get<std::int64_t>());
      }
    }
    // The id table is as long as the largest id: bounded by what the file defines (holes are
    // allowed, up to as many again plus 1024), so a tiny file cannot claim 2^24 ids.
    const auto entries = static_cast<std::int64_t>(vi->size() + added.size());
    BITLIN_REQUIRE(max_id < 2 * entries + 1024, format_error, "tokenizer.json: id ", max_id,
                   " is far beyond the ", entries, " tokens the file defines");
    id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    special_.assign(id_to_token_.size(), false);
    added_flag_.assign(id_to_token_.size(), false);
    std::vector<bool> taken(id_to_token_.size(), false);
    for (auto it = vi->begin(); it != vi->end(); ++it) {
      const auto id = static_cast<std::int32_t>(it->get<std::int64_t>());
      // Two strings with one id would decode one of them as the other.
      BITLIN_REQUIRE(!taken[static_cast<std::size_t>(id)], format_error,
                     "tokenizer.json: vocab gives id ", id, " to both \"",
                     id_to_token_[static_cast<std::size_t>(id)], "\" and \"", it.key(), "\"");
      taken[static_cast<std::size_t>(id)] = true;
      id_to_token_[static_cast<std::size_t>(id)] = it.key();
      token_to_id_[it.key()] = id;
    }
    for (std::size_t k = 0; k < added.size(); ++k) {
      const auto id = static_cast<std::int32_t>(added[k].second);
      // An added token may repeat its vocabulary entry (same id, same content), nothing else.
      BITLIN_REQUIRE(!taken[static_cast<std::size_t>(id)] ||
                         id_to_token_[static_cast<std::size_t>(id)] == added[k].first,
                     format_error, "tokenizer.json: added token \"", added[k].first, "\" has id ",
                     id, ", which belongs to \"", id_to_token_[static_cast<std::size_t>(id)], "\"");
      const auto known = token_to_id_.find(added[k].first);
      BITLIN_REQUIRE(known == token_to_id_.end() || known->second == id, format_error,
                     "tokenizer.json: added token \"", added[k].first, "\" has id ", id,
                     " and also id ", known == token_to_id_.end() ? -1 : known->second);
      taken[static_cast<std::size_t>(id)] = true;
      id_to_token_[static_cast<std::size_t>(id)] = added[k].first;
      token_to_id_[added[k].first] = id;
      special_[static_cast<std::size_t>(id)] = added_special[k];
      added_flag_[static_cast<std::size_t>(id)] = true;
      added_.emplace_back(added[k].first, id);
    }
    // Longest first, so that at one position the longest added token wins.
    std::sort(added_.begin(), added_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& a : added_) added_first_byte_[static_cast<unsigned char>(a.first[0])] = true;

    // The byte alphabet: printable Latin-1 bytes stand for themselves, the rest for 256 + k.
    std::fill(std::begin(byte_of_char_), std::end(byte_of_char_), -1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const std::uint32_t cp =
          printable ? static_cast<std::uint32_t>(b) : static_cast<std::uint32_t>(256 + extra++);
      byte_of_char_[cp] = b;
      std::string s;
      utf8_append(cp, s);
      byte_char_[b] = s;
      const auto it = token_to_id_.find(s);
      byte_token_[b] = it == token_to_id_.end() ? -1 : it->second;
    }

    if (const auto mg = m.find("merges"); mg != m.end() && !mg->is_null()) {
      BITLIN_REQUIRE(mg->is_array(), format_error,
                     "tokenizer.json: \"model.merges\" must be an array");
      merges_.reserve(mg->size(), id_to_token_.size());
      merge_id_.reserve(mg->size());
      std::int32_t rank = 0;
      for (const auto& e : *mg) {
        std::string a, b;
        if (e.is_string()) {
          const std::string s = e.get<std::string>();
          const auto sp = s.find(' ', 1);
          BITLIN_REQUIRE(sp != std::string::npos, format_error, "tokenizer.json: merge ", rank,
                         " (\"", s.substr(0, 64), "\") is not \"left right\"");
          a = s.substr(0, sp);
          b = s.substr(sp + 1);
        } else {
          BITLIN_REQUIRE(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(),
                         format_error, "tokenizer.json: merge ", rank,
                         " is neither \"left right\" nor [left, right]");
          a = e[0].get<std::string>();
          b = e[1].get<std::string>();
        }
        const auto ia = token_to_id_.find(a), ib = token_to_id_.find(b),
                   im = token_to_id_.find(a + b);
        BITLIN_REQUIRE(
            ia != token_to_id_.end() && ib != token_to_id_.end() && im != token_to_id_.end(),
            format_error, "tokenizer.json: merge ", rank, " (\"", a.substr(0, 32), "\" + \"",
            b.substr(0, 32), "\") names a token that is not in the vocabulary");
        merges_.insert(ia->second, ib->second, rank);
        merge_id_.push_back(im->second);
        ++rank;
      }
    }
    all_bytes_have_tokens_ =
        std::all_of(std::begin(byte_token_), std::end(byte_token_), [](auto t) { return t >= 0; });
    if (ignore_merges_) index_whole_tokens();

    std::string pattern = gpt2_pattern();
    bool found = false;
    if (const auto pt = j.find("pre_tokenizer"); pt != j.end() && !pt->is_null())
      found = read_pretokenizer(*pt, pattern);
    BITLIN_REQUIRE(found, format_error,
                   "tokenizer.json: \"pre_tokenizer\" must be ByteLevel, or a Sequence of a Split "
                   "(Regex, Isolated) and a ByteLevel without its own regex");
    compile(pattern);
  }

  static const char* gpt2_pattern() {
    return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  }

  // obj[key] when it is a string, `absent` when there is no such member, and an impossible value
  // (a NUL byte) when it has another type, so that comparisons with the expected names fail
  // instead of nlohmann's value() throwing its type_error.
  static std::string string_member(const nlohmann::json& obj, const char* key,
                                   const std::string& absent) {
    const auto it = obj.find(key);
    if (it == obj.end()) return absent;
    return it->is_string() ? it->get<std::string>() : std::string(1, '\0');
  }

  // Accepts what byte-level BPE tokenizers use; sets `pattern` to the splitting regex.
  static bool read_pretokenizer(const nlohmann::json& pt, std::string& pattern) {
    if (!pt.is_object()) return false;
    const std::string type = string_member(pt, "type", "");
    auto bytelevel_ok = [](const nlohmann::json& b, bool want_regex) {
      const bool prefix = b.contains("add_prefix_space") && b["add_prefix_space"].is_boolean() &&
                          b["add_prefix_space"].get<bool>();
      const bool re =
          !b.contains("use_regex") || !b["use_regex"].is_boolean() || b["use_regex"].get<bool>();
      return !prefix && re == want_regex;
    };
    if (type == "ByteLevel") return bytelevel_ok(pt, true);
    if (type != "Sequence" || !pt.contains("pretokenizers") || !pt["pretokenizers"].is_array() ||
        pt["pretokenizers"].size() != 2)
      return false;
    const auto& split = pt["pretokenizers"][0];
    const auto& bl = pt["pretokenizers"][1];
    if (!split.is_object() || string_member(split, "type", "") != "Split" ||
        string_member(split, "behavior", "") != "Isolated" ||
        (split.contains("invert") && split["invert"] == true) || !split.contains("pattern") ||
        !split["pattern"].is_object() || !split["pattern"].contains("Regex") ||
        !split["pattern"]["Regex"].is_string())
      return false;
    if (!bl.is_object() || string_member(bl, "type", "") != "ByteLevel" || !bytelevel_ok(bl, false))
      return false;
    pattern = split["pattern"]["Regex"].get<std::string>();
    return true;
  }

  void compile(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* c =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!c) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw format_error(
          ::bitlin::detail::concat("tokenizer.json: the pre-tokenizer regex does "
                                   "not compile at offset ",
                                   off, ": ", reinterpret_cast<const char*>(msg)));
    }
    // Without JIT support (some architectures) pcre2_match interprets the pattern instead.
    jit_ = pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) == 0;
    code_.reset(c);
  }

  // The whole-piece table: every vocabulary token (not an added one) by the raw bytes its
  // characters stand for. The byte alphabet is a bijection, so a piece's mapped string is such a
  // token exactly when the piece's bytes are in this table; tokens with characters outside the
  // alphabet can never equal a mapped piece and are left out.
  void index_whole_tokens() {
    std::string bytes;
    for (const auto& [str, id] : token_to_id_) {
      if (is_added(id) || str.empty()) continue;
      bytes.clear();
      bool ok = true;
      for (std::size_t i = 0; i < str.size() && ok;) {
        std::uint32_t cp = 0;
        const std::size_t n = utf8_decode(str, i, cp);
        ok = cp < 324 && byte_of_char_[cp] >= 0 &&
             str.compare(i, n, byte_char_[byte_of_char_[cp]]) == 0;
        if (ok) bytes.push_back(static_cast<char>(byte_of_char_[cp]));
        i += n;
      }
      if (!ok) continue;
      const std::uint64_t h = detail::hash_bytes(bytes.data(), bytes.size());
      if (whole_.find(bytes.data(), bytes.size(), h) == detail::byte_table::absent)
        whole_.insert(bytes.data(), bytes.size(), h, static_cast<std::uint32_t>(id));
    }
  }

  void find_added(const char* text, std::size_t n, std::size_t from, std::size_t& at,
                  std::int32_t& id, std::size_t& len) const {
    for (std::size_t i = from; i < n; ++i) {
      if (!added_first_byte_[static_cast<unsigned char>(text[i])]) continue;
      for (const auto& a : added_)
        if (a.first.size() <= n - i && std::memcmp(text + i, a.first.data(), a.first.size()) == 0) {
          at = i;
          id = a.second;
          len = a.first.size();
          return;
        }
    }
  }

  int match(PCRE2_SPTR subject, std::size_t n, std::size_t start, pcre2_match_data* md) const {
    return jit_ ? pcre2_jit_match(code_.get(), subject, n, start, 0, md, nullptr)
                : pcre2_match(code_.get(), subject, n, start, 0, md, nullptr);
  }

  // Pieces go through in batches: the regex finds up to piece_batch of them, each one's table slot
  // is prefetched, then they are encoded, so that the cache misses on the (multi-MiB) tables
  // overlap with each other and with the matching instead of following one another.
  static constexpr std::size_t piece_batch = 32;

  void encode_segment(const char* s, std::size_t n, encode_state& st,
                      std::vector<std::int32_t>& out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s);
    pcre2_match_data* md = st.match_.get();
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    auto& batch = st.pieces_;
    batch.clear();
    const auto add = [&](std::size_t b, std::size_t e) {
      const std::uint64_t h = e - b > 1 ? detail::hash_bytes(s + b, e - b) : 0;
      if (e - b > 1) {
        if (ignore_merges_)
          whole_.prefetch(h);
        else if (st.cache_on_)
          st.cache_.prefetch(h);
      }
      batch.push_back({s + b, e - b, h});
      if (batch.size() == piece_batch) {
        for (const auto& pc : batch) encode_piece(pc.p, pc.n, pc.h, st, out);
        batch.clear();
      }
    };
    std::size_t start = 0, gap = 0;
    while (start <= n) {
      // rc 0 (the one-pair ovector is too small for the pattern's groups) still sets ov[0..1].
      const int rc = match(subject, n, start, md);
      if (rc < 0) break;  // no more matches (PCRE2_ERROR_NOMATCH) or an engine limit
      const std::size_t b = ov[0], e = ov[1];
      if (b > gap) add(gap, b);
      if (e > b) add(b, e);
      gap = e;
      if (e == b) {  // an empty match: step over one character (or one invalid byte)
        if (e >= n) break;
        std::size_t step = 1;
        while (e + step < n && (static_cast<unsigned char>(s[e + step]) & 0xc0) == 0x80 && step < 4)
          ++step;
        start = e + step;
      } else {
        start = e;
      }
    }
    if (gap < n) add(gap, n);
    for (const auto& pc : batch) encode_piece(pc.p, pc.n, pc.h, st, out);
    batch.clear();
  }

  // One piece (h: its hash_bytes when n > 1).
  void encode_piece(const char* p, std::size_t n, std::uint64_t h, encode_state& st,
                    std::vector<std::int32_t>& out) const {
    if (!all_bytes_have_tokens_)
      for (std::size_t i = 0; i < n; ++i)
        BITLIN_REQUIRE(byte_token_[static_cast<unsigned char>(p[i])] >= 0, format_error,
                       "bpe_tokenizer: the vocabulary has no token for byte ",
                       int{static_cast<unsigned char>(p[i])});
    if (n == 1) {
      out.push_back(byte_token_[static_cast<unsigned char>(p[0])]);
      return;
    }
    if (ignore_merges_) {
      const std::uint32_t whole = whole_.find(p, n, h);
      if (whole != detail::byte_table::absent) {
        out.push_back(static_cast<std::int32_t>(whole));
        return;
      }
    }
    const bool cacheable = st.cache_on_ && n <= max_cached_piece;
    if (cacheable) {
      const std::uint32_t c = st.cache_.find(p, n, h);
      if (c != detail::byte_table::absent) {
        const auto [first, count] = st.cache_entries_[c];
        out.insert(out.end(), st.cache_ids_.begin() + first, st.cache_ids_.begin() + first + count);
        return;
      }
    }
    const std::size_t first = out.size();
    out.resize(first + n);
    std::int32_t* sym = out.data() + first;
    for (std::size_t i = 0; i < n; ++i) sym[i] = byte_token_[static_cast<unsigned char>(p[i])];
    const std::size_t len = n <= short_piece ? merge_short(sym, n) : merge_long(sym, n, st);
    out.resize(first + len);
    if (cacheable) {
      if (st.cache_.size() >= max_cache_entries || st.cache_.arena_bytes() + n > max_cache_bytes)
        st.clear_cache();
      st.cache_.insert(p, n, h, static_cast<std::uint32_t>(st.cache_entries_.size()));
      st.cache_entries_.emplace_back(static_cast<std::uint32_t>(st.cache_ids_.size()),
                                     static_cast<std::uint32_t>(len));
      st.cache_ids_.insert(st.cache_ids_.end(), out.begin() + static_cast<std::ptrdiff_t>(first),
                           out.end());
    }
  }

  // BPE on sym[0, n): merge the adjacent pair of lowest rank until none is left (ties: leftmost,
  // as the reference implementations do). Returns the new length. Short pieces keep each pair's
  // rank in an array and scan it for the minimum; a merge re-probes only its two new pairs.
  static constexpr std::size_t short_piece = 48;
  std::size_t merge_short(std::int32_t* sym, std::size_t n) const {
    std::int32_t rank[short_piece];
    for (std::size_t k = 0; k + 1 < n; ++k) merges_.prefetch(sym[k], sym[k + 1]);
    for (std::size_t k = 0; k + 1 < n; ++k) rank[k] = merges_.rank(sym[k], sym[k + 1]);
    std::size_t len = n;
    while (len > 1) {
      std::size_t best = 0;
      for (std::size_t k = 1; k + 1 < len; ++k)
        if (rank[k] < rank[best]) best = k;
      if (rank[best] == detail::merge_table::none) break;
      sym[best] = merge_id_[static_cast<std::size_t>(rank[best])];
      std::memmove(sym + best + 1, sym + best + 2, (len - best - 2) * sizeof *sym);
      std::memmove(rank + best, rank + best + 1, (len - best - 2) * sizeof *rank);
      --len;
      if (best > 0) rank[best - 1] = merges_.rank(sym[best - 1], sym[best]);
      if (best + 1 < len) rank[best] = merges_.rank(sym[best], sym[best + 1]);
    }
    return len;
  }
  // Long pieces: a doubly linked list of symbols and a min-heap of (rank, position) candidates,
  // O(n log n). An entry is stale when its pair no longer stands at its position; any entry whose
  // pair does is a true candidate, so popping in (rank, position) order gives the same merges as
  // the scan.
  std::size_t merge_long(std::int32_t* sym, std::size_t n, encode_state& st) const {
    auto& next = st.next_;
    auto& prev = st.prev_;
    auto& heap = st.heap_;
    next.resize(n);
    prev.resize(n);
    heap.clear();
    const auto cmp = std::greater<encode_state::heap_entry>();
    const auto push = [&](std::size_t i, std::size_t j) {
      const std::int32_t r = merges_.rank(sym[i], sym[j]);
      if (r == detail::merge_table::none) return;
      heap.push_back({r, static_cast<std::int32_t>(i), sym[i], sym[j]});
      std::push_heap(heap.begin(), heap.end(), cmp);
    };
    for (std::size_t i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
      prev[i] = static_cast<std::int32_t>(i) - 1;
    }
    for (std::size_t i = 0; i + 1 < n; ++i) push(i, i + 1);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      const auto e = heap.back();
      heap.pop_back();
      const auto i = static_cast<std::size_t>(e.pos);
      if (sym[i] != e.left || next[i] < 0) continue;  // merged away (-1) or changed
      const auto j = static_cast<std::size_t>(next[i]);
      if (sym[j] != e.right) continue;
      sym[i] = merge_id_[static_cast<std::size_t>(e.rank)];
      sym[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[static_cast<std::size_t>(next[j])] = static_cast<std::int32_t>(i);
      if (prev[i] >= 0) push(static_cast<std::size_t>(prev[i]), i);
      if (next[i] >= 0) push(i, static_cast<std::size_t>(next[i]));
    }
    std::size_t len = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (sym[i] >= 0) sym[len++] = sym[i];
    return len;
  }

  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, std::int32_t> token_to_id_;
  std::vector<bool> special_, added_flag_;
  std::vector<std::pair<std::string, std::int32_t>> added_;
  bool added_first_byte_[256] = {};
  detail::merge_table merges_;
  std::vector<std::int32_t> merge_id_;  // by rank: the token a merge makes
  detail::byte_table whole_;            // ignore_merges: piece bytes -> token
  bool ignore_merges_ = false;
  bool all_bytes_have_tokens_ = false;
  int byte_of_char_[324];
  std::string byte_char_[256];
  std::int32_t byte_token_[256];
  std::unique_ptr<pcre2_code, code_deleter> code_;
  bool jit_ = false;
  mutable encode_state state_;  // encode(text)'s scratch and cache: not for concurrent use
};

}  // namespace bitlin::text
