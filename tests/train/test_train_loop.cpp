// The training loop end to end on a small synthetic corpus: tokenizer, split and bad input, loss
// falling, determinism, bit-exact resume, and the checkpoint round trip through the inference
// loader (what bitnet_cli runs). The multi-run cases are [slow]: emulated CI runs skip them.
#include <cmath>
#include <filesystem>
#include <string>

#include "bitlin/model/loader.hpp"
#include "bitlin/train/trainer.hpp"
#include "catch.hpp"

using namespace bitlin;
using namespace bitlin::train;
namespace fs = std::filesystem;

namespace {

// Sentences from a small grammar: learnable structure, not a single repeated string.
std::string synthetic_corpus(std::size_t sentences) {
  const char* subj[] = {"the cat", "a dog", "my friend", "the old man", "one bird"};
  const char* verb[] = {"sees", "likes", "finds", "eats", "follows"};
  const char* obj[] = {"the fish.", "a red ball.", "the moon.", "some bread.", "a small tree."};
  train::rng r(42);
  std::string s;
  for (std::size_t i = 0; i < sentences; ++i) {
    s += subj[r.below(5)];
    s += ' ';
    s += verb[r.below(5)];
    s += ' ';
    s += obj[r.below(5)];
    s += (i % 4 == 3) ? '\n' : ' ';
  }
  return s;
}

train_options small_options(weight_mode wm) {
  train_options o;
  o.shape.vocab = 300;
  o.shape.hidden = 32;
  o.shape.ffn = 64;
  o.shape.layers = 2;
  o.shape.heads = 4;
  o.shape.kv_heads = 2;
  o.shape.context = 16;
  o.shape.weights = wm;
  o.batch = 4;
  o.optim.lr = 1e-2f;
  o.optim.warmup_steps = 2;
  o.optim.total_steps = 20;
  o.eval_windows = 8;
  o.seed = 7;
  return o;
}

bool same_params(const model_params<float>& a, const model_params<float>& b) {
  std::vector<const matrix_f*> bs;
  b.visit([&](const std::string&, const matrix_f& t, bool) { bs.push_back(&t); });
  std::size_t i = 0;
  bool same = true;
  a.visit([&](const std::string&, const matrix_f& t, bool) {
    const matrix_f& u = *bs[i++];
    same = same && t.rows() == u.rows() && t.cols() == u.cols() &&
           std::memcmp(t.data(), u.data(), sizeof(float) * static_cast<std::size_t>(t.size())) == 0;
  });
  return same;
}

fs::path temp_dir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("bitlin_train_test_" + tag);
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("byte-level BPE: round trip, deterministic training, tokenizer.json", "[train][data]") {
  const std::string text = synthetic_corpus(200) + " caf\xc3\xa9 x\ty  z\n\n'll don't 1234";
  const bpe_tokenizer a = bpe_tokenizer::train(text, 320), b = bpe_tokenizer::train(text, 320);
  CHECK(a.vocab_size() == 320);
  const auto ids = a.encode(text);
  CHECK(ids == b.encode(text));
  CHECK(a.decode(ids) == text);
  CHECK(ids.size() < text.size() / 2);  // merges compress the corpus
  const auto pre = bpe_tokenizer::pretokenize("hi  there, 42 it's\n");
  CHECK(pre == std::vector<std::string>{"hi", " ", " there", ",", " 42", " it", "'s", "\n"});
  CHECK(bpe_tokenizer::visible(" ") == "\xc4\xa0");  // U+0120, GPT-2's space
  const fs::path d = temp_dir("tok");
  fs::create_directories(d);
  a.save((d / "tokenizer.json").string());
  const bpe_tokenizer c = bpe_tokenizer::load((d / "tokenizer.json").string());
  CHECK(c.encode(text) == ids);
  const nlohmann::json j = a.to_json();
  CHECK(j["model"]["type"] == "BPE");
  CHECK(j["pre_tokenizer"]["type"] == "ByteLevel");
  CHECK(j["decoder"]["type"] == "ByteLevel");
  CHECK(j["model"]["merges"].size() == 64);
  fs::remove_all(d);
}

TEST_CASE("bad corpora and shapes are clear errors", "[train][data]") {
  train_options o = small_options(weight_mode::ternary);
  CHECK_THROWS_AS(trainer(o, ""), value_error);
  CHECK_THROWS_WITH(trainer(o, "a"), Catch::Contains("too short"));
  o.shape.context = 4096;
  CHECK_THROWS_WITH(trainer(o, synthetic_corpus(50)), Catch::Contains("context + 1"));
  o = small_options(weight_mode::ternary);
  o.shape.heads = 3;
  CHECK_THROWS_WITH(trainer(o, synthetic_corpus(50)), Catch::Contains("heads"));
  CHECK_THROWS_AS(read_corpus("/nonexistent/corpus.txt"), value_error);
}

TEST_CASE("a non-finite loss stops training with an error naming the step", "[train]") {
  trainer t(small_options(weight_mode::full_precision), synthetic_corpus(300));
  t.train_step();
  t.mutable_params().embed.setConstant(std::numeric_limits<float>::infinity());
  CHECK_THROWS_WITH(t.train_step(), Catch::StartsWith("step 2:"));
}

TEST_CASE("training lowers the loss for every weight kind", "[train][slow]") {
  const std::string corpus = synthetic_corpus(600);
  for (weight_mode wm : {weight_mode::ternary, weight_mode::binary, weight_mode::full_precision}) {
    CAPTURE(weight_mode_name(wm));
    trainer t(small_options(wm), corpus);
    const eval_result before = t.evaluate();
    double first = 0.0, last = 0.0;
    for (int s = 0; s < 20; ++s) {
      const auto r = t.train_step();
      if (s == 0) first = r.loss;
      last = r.loss;
    }
    const eval_result after = t.evaluate();
    CHECK(last < first - 0.5);
    CHECK(after.loss < before.loss - 0.5);
    CHECK(after.bpb > 0.0);
    CHECK(after.bpb < before.bpb);
  }
}

TEST_CASE("runs are deterministic and independent of the thread count", "[train][slow]") {
  const std::string corpus = synthetic_corpus(400);
  train_options o = small_options(weight_mode::ternary);
  trainer a(o, corpus), b(o, corpus);
  o.threads = 2;
  trainer c(o, corpus);
  for (int s = 0; s < 4; ++s) {
    const double la = a.train_step().loss, lb = b.train_step().loss, lc = c.train_step().loss;
    CHECK(la == lb);
    CHECK(la == lc);
  }
  CHECK(same_params(a.params(), b.params()));
  CHECK(same_params(a.params(), c.params()));
  o.seed = 8;
  trainer d(o, corpus);
  d.train_step();
  CHECK_FALSE(same_params(a.params(), d.params()));
}

TEST_CASE("a resumed run reproduces the uninterrupted one bit for bit", "[train][slow]") {
  const std::string corpus = synthetic_corpus(400);
  for (bool two_stage : {false, true}) {
    train_options o = small_options(weight_mode::ternary);
    o.optim.total_steps = 8;
    o.optim.two_stage = two_stage;
    trainer full(o, corpus);
    for (int s = 0; s < 8; ++s) full.train_step();
    const fs::path d = temp_dir("resume");
    {
      trainer first(o, corpus);
      for (int s = 0; s < 5; ++s) first.train_step();
      first.save(d.string());
    }
    trainer rest = trainer::resume(d.string(), corpus, 2);
    CHECK(rest.step() == 5);
    for (int s = 0; s < 3; ++s) rest.train_step();
    CHECK(same_params(full.params(), rest.params()));
    CHECK_THROWS_WITH(trainer::resume(d.string(), corpus + "x", 1),
                      Catch::Contains("corpus differs"));
    fs::remove_all(d);
  }
}

TEST_CASE("two-stage schedule: lower learning rate and no weight decay in stage 2", "[train]") {
  optimizer_options o;
  o.total_steps = 100;
  o.warmup_steps = 10;
  CHECK(o.lr_at(0) == Approx(o.lr / 10));
  CHECK(o.lr_at(9) == Approx(o.lr));
  CHECK(o.lr_at(99) < o.lr_at(50));
  o.two_stage = true;
  CHECK(o.weight_decay_at(49) == o.weight_decay);
  CHECK(o.weight_decay_at(50) == 0.0f);
  optimizer_options one = o;
  one.two_stage = false;
  CHECK(o.lr_at(60) == Approx(one.lr_at(60) * o.stage2_lr_ratio));
}

TEST_CASE("checkpoints load in the inference model with the trainer's logits",
          "[train][checkpoint]") {
  const std::string corpus = synthetic_corpus(400);
  for (weight_mode wm : {weight_mode::ternary, weight_mode::binary}) {
    CAPTURE(weight_mode_name(wm));
    trainer t(small_options(wm), corpus);
    for (int s = 0; s < 5; ++s) t.train_step();
    const fs::path d = temp_dir("ckpt");
    t.save(d.string());
    const index_t C = t.options().shape.context;
    const auto& vw = t.validation().windows;
    std::vector<std::int32_t> win(vw.begin(), vw.begin() + C + 1);
    matrix_f train_logits;
    loss_and_grad<float>(t.params(), t.options().shape, win, 1, nullptr, serial(), nullptr,
                         &train_logits);
    const std::vector<std::int64_t> ids(win.begin(), win.end() - 1);
    const matrix_f packed = model::load_bitnet((d / "packed").string()).logits(ids);
    const float scale = train_logits.cwiseAbs().maxCoeff();
    // Same quantized weights and activations; only float summation order (attention, head)
    // differs, and an activation exactly at a rounding boundary could flip, so a loose band.
    CHECK((packed - train_logits).cwiseAbs().maxCoeff() <= 2e-2f * scale);
    // Ternary masters are b1.58, binary ones BitNet b1 (weight_bits 1, 1-bit packed/); both
    // load, and the converter's packing changes nothing.
    const model::bitnet_model mm = model::load_bitnet(d.string());
    CHECK(mm.config().binary() == (wm == weight_mode::binary));
    CHECK(model::load_bitnet((d / "packed").string()).config().binary() ==
          (wm == weight_mode::binary));
    const matrix_f masters = mm.logits(ids);
    CHECK(masters == packed);
    matrix_f first;
    const eval_result ei = t.evaluate_inference(d.string(), &first);
    CHECK(first == masters);
    CHECK(ei.loss == Approx(t.evaluate().loss).epsilon(1e-3));
    CHECK(fs::exists(d / "tokenizer.json"));
    fs::remove_all(d);
  }
}
