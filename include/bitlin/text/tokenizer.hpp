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
// Speed: merge lookups are one hash probe on a pair of token ids, and the ids of each distinct
// piece are cached (the cache is cleared when it reaches max_cache_entries).
#pragma once

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"

namespace bitlin::text {

class bpe_tokenizer {
 public:
  static constexpr std::size_t max_cache_entries = std::size_t{1} << 18;

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
    t.load(j);
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
  // `parse_special` (what Hugging Face does by default).
  std::vector<std::int32_t> encode(const std::string& text, bool parse_special = true) const {
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 1);
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t at = text.size();
      std::int32_t added = -1;
      std::size_t added_len = 0;
      if (parse_special && !added_.empty()) find_added(text, pos, at, added, added_len);
      if (at > pos) encode_segment(text.data() + pos, at - pos, out);
      if (added < 0) break;
      out.push_back(added);
      pos = at + added_len;
    }
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

  // Forgets the cached ids of pieces seen so far (what a cold start looks like).
  void clear_cache() const { cache_.clear(); }

  bpe_tokenizer(bpe_tokenizer&&) = default;
  bpe_tokenizer& operator=(bpe_tokenizer&&) = default;

 private:
  bpe_tokenizer() = default;

  struct code_deleter {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };
  struct match_deleter {
    void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
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
    const std::string type = m.value("type", std::string("BPE"));
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
    id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    special_.assign(id_to_token_.size(), false);
    added_flag_.assign(id_to_token_.size(), false);
    for (auto it = vi->begin(); it != vi->end(); ++it) {
      const auto id = static_cast<std::int32_t>(it->get<std::int64_t>());
      id_to_token_[static_cast<std::size_t>(id)] = it.key();
      token_to_id_[it.key()] = id;
    }
    for (std::size_t k = 0; k < added.size(); ++k) {
      const auto id = static_cast<std::int32_t>(added[k].second);
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
      merges_.reserve(mg->size());
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
        merges_.emplace(pair_key(ia->second, ib->second), std::make_pair(rank, im->second));
        ++rank;
      }
    }

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

  // Accepts what byte-level BPE tokenizers use; sets `pattern` to the splitting regex.
  static bool read_pretokenizer(const nlohmann::json& pt, std::string& pattern) {
    if (!pt.is_object()) return false;
    const std::string type = pt.value("type", std::string());
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
    if (!split.is_object() || split.value("type", std::string()) != "Split" ||
        split.value("behavior", std::string()) != "Isolated" ||
        (split.contains("invert") && split["invert"] == true) || !split.contains("pattern") ||
        !split["pattern"].is_object() || !split["pattern"].contains("Regex") ||
        !split["pattern"]["Regex"].is_string())
      return false;
    if (!bl.is_object() || bl.value("type", std::string()) != "ByteLevel" ||
        !bytelevel_ok(bl, false))
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
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if unavailable
    code_.reset(c);
    match_.reset(pcre2_match_data_create_from_pattern(c, nullptr));
  }

  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }

  void find_added(const std::string& text, std::size_t from, std::size_t& at, std::int32_t& id,
                  std::size_t& len) const {
    for (std::size_t i = from; i < text.size(); ++i) {
      if (!added_first_byte_[static_cast<unsigned char>(text[i])]) continue;
      for (const auto& a : added_)
        if (a.first.size() <= text.size() - i && text.compare(i, a.first.size(), a.first) == 0) {
          at = i;
          id = a.second;
          len = a.first.size();
          return;
        }
    }
  }

  void encode_segment(const char* s, std::size_t n, std::vector<std::int32_t>& out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s);
    std::size_t start = 0, gap = 0;
    while (start <= n) {
      const int rc = pcre2_match(code_.get(), subject, n, start, 0, match_.get(), nullptr);
      if (rc < 0) break;  // no more matches (PCRE2_ERROR_NOMATCH) or an engine limit
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match_.get());
      const std::size_t b = ov[0], e = ov[1];
      if (b > gap) encode_piece(s + gap, b - gap, out);
      if (e > b) encode_piece(s + b, e - b, out);
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
    if (gap < n) encode_piece(s + gap, n - gap, out);
  }

  void encode_piece(const char* p, std::size_t n, std::vector<std::int32_t>& out) const {
    std::string key(p, n);
    if (const auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
    for (std::size_t i = 0; i < n; ++i)
      BITLIN_REQUIRE(byte_token_[static_cast<unsigned char>(p[i])] >= 0, format_error,
                     "bpe_tokenizer: the vocabulary has no token for byte ",
                     int{static_cast<unsigned char>(p[i])});
    const std::size_t first = out.size();
    if (ignore_merges_) {
      std::string mapped;
      mapped.reserve(2 * n);
      for (std::size_t i = 0; i < n; ++i) mapped += byte_char_[static_cast<unsigned char>(p[i])];
      const auto whole = token_to_id_.find(mapped);
      if (whole != token_to_id_.end() && !is_added(whole->second)) out.push_back(whole->second);
    }
    if (out.size() == first) {
      for (std::size_t i = 0; i < n; ++i)
        out.push_back(byte_token_[static_cast<unsigned char>(p[i])]);
      // Merge the adjacent pair of lowest rank until none is left (ties: leftmost, as the
      // reference implementations do), in place at the end of `out`.
      std::size_t len = n;
      std::int32_t* sym = out.data() + first;
      while (len > 1) {
        std::int32_t best_rank = INT32_MAX, best_id = -1;
        std::size_t best = 0;
        for (std::size_t k = 0; k + 1 < len; ++k) {
          const auto it = merges_.find(pair_key(sym[k], sym[k + 1]));
          if (it != merges_.end() && it->second.first < best_rank) {
            best_rank = it->second.first;
            best_id = it->second.second;
            best = k;
          }
        }
        if (best_id < 0) break;
        sym[best] = best_id;
        std::copy(sym + best + 2, sym + len, sym + best + 1);
        --len;
      }
      out.resize(first + len);
    }
    if (cache_.size() >= max_cache_entries) cache_.clear();
    cache_.emplace(
        std::move(key),
        std::vector<std::int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
  }

  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, std::int32_t> token_to_id_;
  std::vector<bool> special_, added_flag_;
  std::vector<std::pair<std::string, std::int32_t>> added_;
  bool added_first_byte_[256] = {};
  std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int32_t>> merges_;
  bool ignore_merges_ = false;
  int byte_of_char_[324];
  std::string byte_char_[256];
  std::int32_t byte_token_[256];
  std::unique_ptr<pcre2_code, code_deleter> code_;
  std::unique_ptr<pcre2_match_data, match_deleter> match_;  // one matcher: not thread-safe
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

}  // namespace bitlin::text
