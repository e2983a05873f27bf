// The BPE tokenizer on hand-made vocabularies whose right answers follow from the BPE rules
// (merge order, ignore_merges, Isolated splitting, added tokens), exact round trips on random
// valid and invalid UTF-8, the tokenizer a GGUF file embeds, and malformed tokenizer.json files.
#include <climits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bitlin/io/gguf.hpp"
#include "bitlin/model/gguf.hpp"
#include "bitlin/text/tokenizer.hpp"
#include "catch.hpp"
#include "text/toy_bpe.hpp"

using bitlin::format_error;
using bitlin::text::bpe_tokenizer;
using id_vector = std::vector<std::int32_t>;

namespace {

// A byte-level tokenizer.json with the 256 byte tokens at ids 0..255 plus `extra` tokens and
// `merges`, split by `regex`.
std::string make_json(const std::vector<std::string>& extra,
                      const std::vector<std::pair<std::string, std::string>>& merges,
                      bool ignore_merges, const std::string& regex = "\\S+|\\s+",
                      const std::string& added = "[]") {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (unsigned b = 0; b < 256; ++b) vocab[bitlin_test::toy_byte_char(b)] = b;
  int id = 256;
  for (const auto& e : extra) vocab[e] = id++;
  nlohmann::ordered_json m = nlohmann::ordered_json::array();
  for (const auto& [a, b] : merges) m.push_back(a + " " + b);
  nlohmann::ordered_json j = {
      {"added_tokens", nlohmann::ordered_json::parse(added)},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model",
       {{"type", "BPE"}, {"ignore_merges", ignore_merges}, {"vocab", vocab}, {"merges", m}}}};
  return j.dump();
}

std::int32_t byte_id(char c) {
  return static_cast<unsigned char>(c);
}

}  // namespace

TEST_CASE("tokenizer: merges apply lowest rank first, not left to right", "[text]") {
  // ranks: (b,c) first, then (a,b), then (a,bc): "abc" -> a + bc -> abc.
  const auto t = bpe_tokenizer::from_json_text(
      make_json({"bc", "ab", "abc"}, {{"b", "c"}, {"a", "b"}, {"a", "bc"}}, false));
  CHECK(t.encode("abc") == id_vector{258});
  CHECK(t.encode("ab") == id_vector{257});
  CHECK(t.encode("abcb") == id_vector{258, byte_id('b')});
  // Without the (a,bc) merge, "abc" stops at a + bc although "ab" + "c" would also exist.
  const auto t2 =
      bpe_tokenizer::from_json_text(make_json({"bc", "ab"}, {{"b", "c"}, {"a", "b"}}, false));
  CHECK(t2.encode("abc") == id_vector{byte_id('a'), 256});
  // ignore_merges: a piece that is itself a token is emitted whole, merges or not.
  const auto t3 = bpe_tokenizer::from_json_text(make_json({"bc", "xyz"}, {{"b", "c"}}, true));
  CHECK(t3.encode("xyz") == id_vector{257});
  const auto t4 = bpe_tokenizer::from_json_text(make_json({"bc", "xyz"}, {{"b", "c"}}, false));
  CHECK(t4.encode("xyz") == id_vector{byte_id('x'), byte_id('y'), byte_id('z')});
}

TEST_CASE("tokenizer: pieces are the regex matches and the gaps between them", "[text]") {
  // Only "ab" matches; the gaps "x" and "yab"... are pieces of their own, so no merge crosses a
  // piece boundary.
  const auto t =
      bpe_tokenizer::from_json_text(make_json({"ab", "xa"}, {{"x", "a"}, {"a", "b"}}, false, "ab"));
  CHECK(t.encode("xab") == id_vector{byte_id('x'), 256});
  CHECK(t.encode("xaab") == id_vector{257, 256});  // gap "xa" merges inside itself
  // Merges as [left, right] pairs load the same.
  nlohmann::json j = nlohmann::json::parse(make_json({"ab"}, {}, false));
  j["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "b"})});
  CHECK(bpe_tokenizer::from_json_text(j.dump()).encode("ab") == id_vector{256});
}

TEST_CASE("tokenizer: added tokens are split out first, longest at the earliest position",
          "[text]") {
  const std::string added =
      R"([{"id": 300, "content": "<|x|>", "special": true},
          {"id": 301, "content": "<|x|>y", "special": false}])";
  const auto t = bpe_tokenizer::from_json_text(make_json({}, {}, false, "\\S+|\\s+", added));
  CHECK(t.encode("a<|x|>b") == id_vector{byte_id('a'), 300, byte_id('b')});
  CHECK(t.encode("<|x|>y") == id_vector{301});
  CHECK(t.encode("<|x|><|x|>") == id_vector{300, 300});
  CHECK(t.encode("<|x|>", false).size() == 5);  // as plain text
  CHECK(t.is_special(300));
  CHECK_FALSE(t.is_special(301));
  CHECK(t.decode({byte_id('a'), 300, 301}) == "a<|x|><|x|>y");
  CHECK(t.token_id("<|x|>") == 300);
  CHECK(t.token_id("nope") == -1);
}

TEST_CASE("tokenizer: exact round trip on random valid and invalid UTF-8", "[text]") {
  const auto t = bpe_tokenizer::from_json_text(bitlin_test::make_toy_tokenizer_json(512));
  CHECK(t.vocab_size() == 512);
  CHECK(t.token_id("<|begin_of_text|>") == 1);
  CHECK(t.token_id("<|eot_id|>") == 3);
  std::mt19937 rng(11);
  const char* pieces[] = {"a",         " ",        "\n",    "é",           "日",         "😀",
                          "e\xcc\x81", "'s",       "12345", "\t",          "<|eot_id|>", "\xff",
                          "\xc3",      "\xe6\x97", "\x80",  "\xed\xa0\x80"};
  for (int rep = 0; rep < 300; ++rep) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      if (rng() % 4 == 0)
        s.push_back(static_cast<char>(rng() & 0xff));  // any byte, often invalid UTF-8
      else
        s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
    }
    const auto v = t.encode(s);
    for (auto id : v) REQUIRE((id >= 0 && static_cast<std::size_t>(id) < t.vocab_size()));
    CHECK(t.decode(v) == s);
    std::string streamed;
    for (auto id : v) t.append_decoded(id, streamed);
    CHECK(streamed == s);
  }
  // The toy training text compresses (merges were learned from it).
  const std::string text = bitlin_test::toy_training_text();
  CHECK(t.encode(text).size() < text.size() / 2);
}

TEST_CASE("tokenizer: BPE on short and long pieces equals the lowest-rank-first rescan", "[text]") {
  // The toy vocabulary without ignore_merges and with one piece per text, so that every text is
  // merged whole: lengths 1..700 cover the scan (short pieces) and the heap (long ones), and
  // repeated symbols make rank ties that must go to the leftmost pair.
  auto j = nlohmann::json::parse(bitlin_test::make_toy_tokenizer_json(512));
  j["model"]["ignore_merges"] = false;
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "[\\s\\S]+";
  const auto t = bpe_tokenizer::from_json_text(j.dump());
  std::map<std::string, std::int32_t> vocab;
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it)
    vocab[it.key()] = it->get<std::int32_t>();
  std::map<std::pair<std::string, std::string>, int> rank;
  for (const auto& m : j["model"]["merges"])
    rank.emplace(std::make_pair(m[0].get<std::string>(), m[1].get<std::string>()),
                 static_cast<int>(rank.size()));
  const auto reference = [&](const std::string& s) {
    std::vector<std::string> sym;
    for (const char c : s) sym.push_back(bitlin_test::toy_byte_char(static_cast<unsigned char>(c)));
    for (;;) {
      std::size_t best = 0;
      int best_rank = INT32_MAX;
      for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
        const auto it = rank.find({sym[k], sym[k + 1]});
        if (it != rank.end() && it->second < best_rank) {
          best_rank = it->second;
          best = k;
        }
      }
      if (best_rank == INT32_MAX) break;
      sym[best] += sym[best + 1];
      sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    id_vector out;
    for (const auto& x : sym) out.push_back(vocab.at(x));
    return out;
  };
  const std::string text = bitlin_test::toy_training_text();
  std::mt19937 rng(5);
  // 254..256: the longest cached pieces, whose length no longer fits the cache's slot.
  std::vector<std::string> cases = {
      std::string(700, 'e'), std::string(49, 't'),  std::string(48, ' '), "the the the the",
      std::string(254, 'h'), std::string(255, 'h'), std::string(256, 'h')};
  for (int rep = 0; rep < 200; ++rep) {
    const std::size_t len = 1 + rng() % (rep < 100 ? 60 : 700);
    std::string s;
    while (s.size() < len) {
      const std::size_t at = rng() % text.size();
      s += text.substr(at, 1 + rng() % 12);
    }
    cases.push_back(s.substr(0, len));
  }
  bpe_tokenizer::encode_state uncached(/*cache=*/false);
  for (const auto& s : cases) {
    CAPTURE(s);
    const auto want = reference(s);
    REQUIRE(t.encode(s) == want);
    REQUIRE(t.encode(s) == want);  // again, from the piece cache
    id_vector v;
    t.encode(s.data(), s.size(), uncached, v);
    REQUIRE(v == want);
  }
  CHECK(uncached.cached_pieces() == 0);
}

TEST_CASE("tokenizer: encode_batch on threads and encode_state give encode's ids",
          "[text][threads]") {
  const auto t = bpe_tokenizer::from_json_text(bitlin_test::make_toy_tokenizer_json(512));
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  const std::string text = bitlin_test::toy_training_text();
  for (int i = 0; i < 64; ++i) texts.push_back(text.substr(rng() % text.size()) + "<|eot_id|>");
  const bitlin::thread_pool pool(2);
  const auto batch = t.encode_batch(texts, pool);
  REQUIRE(batch.size() == texts.size());
  bpe_tokenizer::encode_state st;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CHECK(batch[i] == t.encode(texts[i]));
    id_vector v = {7};  // appends
    t.encode(texts[i].data(), texts[i].size(), st, v);
    CHECK(id_vector(v.begin() + 1, v.end()) == batch[i]);
  }
}

TEST_CASE("tokenizer: the vocabulary a GGUF file embeds tokenizes as the tokenizer.json does",
          "[text][gguf]") {
  const std::string json = bitlin_test::make_toy_tokenizer_json(400);
  bitlin::io::gguf_writer w;
  bitlin::model::gguf_set_tokenizer(w, json, 1, 2);
  const auto with_json = bitlin::io::gguf_file::from_bytes(w.to_bytes());
  bitlin::io::gguf_writer w2;
  for (const auto& kv : with_json.metadata())
    if (kv.first != "tokenizer.huggingface.json") w2.set(kv.first, kv.second);
  const auto ggml_only = bitlin::io::gguf_file::from_bytes(w2.to_bytes());
  const auto a = bpe_tokenizer::from_json_text(json);
  const auto b = bpe_tokenizer::from_json_text(bitlin::model::tokenizer_json_from_gguf(ggml_only));
  for (const char* s : {"Hello world, it's 2026!", "the the the\n\n  x", "日本語 😀 <|eot_id|>", ""})
    CHECK(a.encode(s) == b.encode(s));
}

TEST_CASE("tokenizer: malformed tokenizer.json files are format errors naming the field",
          "[text]") {
  auto err = [](const std::string& text) -> std::string {
    try {
      bpe_tokenizer::from_json_text(text);
    } catch (const format_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(err("{not json").find("not valid JSON") != std::string::npos);
  CHECK(err(R"({"model": {"type": "WordPiece", "vocab": {}}})").find("model.type") !=
        std::string::npos);
  // Members of the wrong type (a fuzzer found "type": 27 escaping as nlohmann's type_error).
  CHECK(err(R"({"model": {"type": 27, "vocab": {}}})").find("model.type") != std::string::npos);
  nlohmann::json j = nlohmann::json::parse(make_json({"ab"}, {{"a", "b"}}, false));
  j["pre_tokenizer"]["type"] = 5;
  CHECK(err(j.dump()) != "(no error)");
  j = nlohmann::json::parse(make_json({"ab"}, {{"a", "b"}}, false));
  j["model"]["merges"] = {"a zz"};
  CHECK(err(j.dump()).find("not in the vocabulary") != std::string::npos);
  j = nlohmann::json::parse(make_json({}, {}, false, "(unclosed"));
  CHECK(err(j.dump()).find("does not compile") != std::string::npos);
  j = nlohmann::json::parse(make_json({}, {}, false));
  j["normalizer"] = {{"type", "NFC"}};
  CHECK(err(j.dump()).find("normalizer") != std::string::npos);
  j = nlohmann::json::parse(make_json({}, {}, false));
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  CHECK(err(j.dump()).find("pre_tokenizer") != std::string::npos);
  j = nlohmann::json::parse(make_json({}, {}, false));
  j["model"]["vocab"]["x"] = -4;
  CHECK(err(j.dump()).find("vocab entry") != std::string::npos);
  j = nlohmann::json::parse(make_json({}, {}, false));
  j["model"]["vocab"].erase(bitlin_test::toy_byte_char(0x41));
  j["model"]["vocab"]["filler"] = 0x41;
  const auto t = bpe_tokenizer::from_json_text(j.dump());
  CHECK_THROWS_WITH(t.encode("A"), Catch::Contains("no token for byte 65"));
  CHECK_THROWS_AS(t.decode({100000}), bitlin::value_error);
  // Two strings with one id (found by fuzz_tokenizer: "a" decoded as another byte's token).
  j = nlohmann::json::parse(make_json({"ab"}, {}, false));
  j["model"]["vocab"]["ab"] = 97;
  CHECK(err(j.dump()).find("gives id 97 to both") != std::string::npos);
  // An added token may repeat its vocabulary entry, but not take another token's id.
  CHECK_NOTHROW(bpe_tokenizer::from_json_text(
      make_json({"<s>"}, {}, false, "\\S+|\\s+", R"([{"id": 256, "content": "<s>"}])")));
  CHECK(err(make_json({"<s>"}, {}, false, "\\S+|\\s+", R"([{"id": 256, "content": "</s>"}])"))
            .find("which belongs to") != std::string::npos);
  // A tiny file cannot claim a huge id space (the id table is as long as the largest id).
  j = nlohmann::json::parse(make_json({}, {}, false));
  j["model"]["vocab"]["far"] = 16000000;
  CHECK(err(j.dump()).find("far beyond") != std::string::npos);
}
