// The training loop as a library object (examples/bitnet_train is its command line): corpus ->
// tokenizer -> split -> steps (batch of windows, loss and gradients, AdamW) -> evaluation in bits
// per byte -> checkpoints that resume bit for bit. A run is a function of (options, corpus, seed,
// thread count); batches depend on (seed, step) only and the state is weights + moments + step.
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include "bitlin/model/loader.hpp"
#include "bitlin/train/checkpoint.hpp"
#include "bitlin/train/data.hpp"
#include "bitlin/train/model.hpp"
#include "bitlin/train/optim.hpp"

namespace bitlin::train {

struct train_options {
  model_shape shape;  // shape.vocab is the tokenizer's size (256 = bytes only)
  optimizer_options optim;
  index_t batch = 8;
  std::uint64_t seed = 1;
  int threads = 1;
  index_t eval_windows = 32;  // validation windows per evaluation (spread over the split)
  double val_fraction = 0.1;

  nlohmann::json to_json() const {
    return {{"vocab", shape.vocab},
            {"hidden", shape.hidden},
            {"ffn", shape.ffn},
            {"layers", shape.layers},
            {"heads", shape.heads},
            {"kv_heads", shape.kv_heads},
            {"context", shape.context},
            {"rope_theta", shape.rope_theta},
            {"weights", weight_mode_name(shape.weights)},
            {"act_bits", shape.act_bits},
            {"init_std", shape.init_std},
            {"lr", optim.lr},
            {"beta1", optim.beta1},
            {"beta2", optim.beta2},
            {"eps", optim.eps},
            {"weight_decay", optim.weight_decay},
            {"clip_norm", optim.clip_norm},
            {"warmup_steps", optim.warmup_steps},
            {"total_steps", optim.total_steps},
            {"min_lr_ratio", optim.min_lr_ratio},
            {"two_stage", optim.two_stage},
            {"stage2_lr_ratio", optim.stage2_lr_ratio},
            {"batch", batch},
            {"seed", seed},
            {"eval_windows", eval_windows},
            {"val_fraction", val_fraction}};
  }
  static train_options from_json(const nlohmann::json& j) {
    train_options o;
    o.shape.vocab = j.at("vocab").get<index_t>();
    o.shape.hidden = j.at("hidden").get<index_t>();
    o.shape.ffn = j.at("ffn").get<index_t>();
    o.shape.layers = j.at("layers").get<index_t>();
    o.shape.heads = j.at("heads").get<index_t>();
    o.shape.kv_heads = j.at("kv_heads").get<index_t>();
    o.shape.context = j.at("context").get<index_t>();
    o.shape.rope_theta = j.at("rope_theta").get<double>();
    o.shape.weights = parse_weight_mode(j.at("weights").get<std::string>());
    o.shape.act_bits = j.at("act_bits").get<int>();
    o.shape.init_std = j.at("init_std").get<float>();
    o.optim.lr = j.at("lr").get<float>();
    o.optim.beta1 = j.at("beta1").get<float>();
    o.optim.beta2 = j.at("beta2").get<float>();
    o.optim.eps = j.at("eps").get<float>();
    o.optim.weight_decay = j.at("weight_decay").get<float>();
    o.optim.clip_norm = j.at("clip_norm").get<float>();
    o.optim.warmup_steps = j.at("warmup_steps").get<index_t>();
    o.optim.total_steps = j.at("total_steps").get<index_t>();
    o.optim.min_lr_ratio = j.at("min_lr_ratio").get<float>();
    o.optim.two_stage = j.at("two_stage").get<bool>();
    o.optim.stage2_lr_ratio = j.at("stage2_lr_ratio").get<float>();
    o.batch = j.at("batch").get<index_t>();
    o.seed = j.at("seed").get<std::uint64_t>();
    o.eval_windows = j.at("eval_windows").get<index_t>();
    o.val_fraction = j.at("val_fraction").get<double>();
    return o;
  }
};

struct eval_result {
  double loss = 0.0;  // mean nats per validation target token
  double bpb = 0.0;   // bits per byte of the targets
  index_t tokens = 0;
};

// FNV-1a of the corpus, so a resume on different data is refused.
inline std::uint64_t corpus_hash(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

class trainer {
 public:
  // A fresh run: trains the tokenizer on the training split (shape.vocab tokens) and initializes
  // the weights from the seed.
  trainer(const train_options& o, const std::string& corpus)
      : trainer(o, corpus, nullptr, nullptr) {}

  // Continues the run saved in dir (by save) on the same corpus, with `threads` threads.
  static trainer resume(const std::string& dir, const std::string& corpus, int threads) {
    namespace fs = std::filesystem;
    const nlohmann::json st = detail::read_json(fs::path(dir) / "train_state.json");
    train_options o = train_options::from_json(st.at("options"));
    o.threads = threads;
    BITLIN_REQUIRE(st.at("corpus_hash").get<std::uint64_t>() == corpus_hash(corpus), value_error,
                   "resume: the corpus differs from the one the run in ", dir, " was trained on");
    auto tok = std::make_unique<bpe_tokenizer>(
        bpe_tokenizer::load((fs::path(dir) / "tokenizer.json").string()));
    auto p = std::make_unique<model_params<float>>(load_master_params(dir, o.shape));
    trainer t(o, corpus, std::move(tok), std::move(p));
    load_optimizer_state(dir, t.state_);
    t.state_.step = st.at("step").get<index_t>();
    return t;
  }

  const train_options& options() const { return opt_; }
  const model_params<float>& params() const { return params_; }
  const bpe_tokenizer& tokenizer() const { return tok_; }
  const token_stream& train_tokens() const { return train_; }
  const token_stream& validation_tokens() const { return val_; }
  const eval_set& validation() const { return eval_; }
  index_t step() const { return state_.step; }
  const executor& exec() const { return *pool_; }

  struct step_result {
    double loss = 0.0;
    double grad_norm = 0.0;
    float lr = 0.0f;
  };

  // One update. A non-finite loss or gradient is an error naming the step, before any weight
  // changes.
  step_result train_step() {
    try {
      return train_step_impl();
    } catch (const value_error& e) {
      const std::string msg = e.what();
      if (msg.rfind("step ", 0) == 0) throw;
      throw value_error("step " + std::to_string(state_.step + 1) + ": " + msg);
    }
  }

  // For experiments and tests (e.g. post-training quantization of a float run's weights).
  model_params<float>& mutable_params() { return params_; }

 private:
  step_result train_step_impl() {
    const index_t s = state_.step;
    const std::vector<std::int32_t> w =
        training_windows(train_, opt_.shape.context, opt_.batch, opt_.seed, s);
    model_params<float> g = params_.zeros_like();
    step_result r;
    r.loss = loss_and_grad(params_, opt_.shape, w, opt_.batch, &g, *pool_);
    BITLIN_REQUIRE(std::isfinite(r.loss), value_error, "step ", s + 1, ": the training loss is ",
                   r.loss, " (diverged; try a lower --lr)");
    const step_report rep = adamw_step(params_, g, state_, opt_.optim);
    r.grad_norm = rep.grad_norm;
    r.lr = rep.lr;
    return r;
  }

 public:
  // Validation loss and bits per byte with the training forward (no gradients). `as` evaluates
  // the weights under another quantization than they were trained with: a float run evaluated as
  // ternary is post-training quantization (absmean weights, absmax activations).
  eval_result evaluate() const { return evaluate_as(opt_.shape.weights); }
  eval_result evaluate_as(weight_mode as) const {
    model_shape shape = opt_.shape;
    shape.weights = as;
    eval_result e;
    double nats = 0.0;
    const index_t W = opt_.shape.context + 1;
    for (index_t i = 0; i < eval_.count; i += opt_.batch) {
      const index_t n = std::min(opt_.batch, eval_.count - i);
      const std::vector<std::int32_t> w(eval_.windows.begin() + i * W,
                                        eval_.windows.begin() + (i + n) * W);
      const double l = loss_and_grad<float>(params_, shape, w, n, nullptr, *pool_);
      nats += l * static_cast<double>(n * (W - 1));
      e.tokens += n * (W - 1);
    }
    e.loss = nats / static_cast<double>(e.tokens);
    e.bpb = nats / std::log(2.0) / static_cast<double>(eval_.target_bytes);
    return e;
  }

  // The same with the inference model loaded from a checkpoint directory (what bitnet_cli runs);
  // with first_logits, the logits of the first validation window.
  eval_result evaluate_inference(const std::string& dir, matrix_f* first_logits = nullptr) const {
    const model::bitnet_model mdl = model::load_bitnet(dir);
    eval_result e;
    double nats = 0.0;
    const index_t W = opt_.shape.context + 1;
    for (index_t i = 0; i < eval_.count; ++i) {
      const std::vector<std::int64_t> ids(eval_.windows.begin() + i * W,
                                          eval_.windows.begin() + (i + 1) * W - 1);
      const matrix_f logits = mdl.logits(ids, *pool_);
      if (i == 0 && first_logits) *first_logits = logits;
      std::vector<std::int32_t> targets(eval_.windows.begin() + i * W + 1,
                                        eval_.windows.begin() + (i + 1) * W);
      nats += cross_entropy<float>(logits, targets, nullptr) * static_cast<double>(W - 1);
      e.tokens += W - 1;
    }
    e.loss = nats / static_cast<double>(e.tokens);
    e.bpb = nats / std::log(2.0) / static_cast<double>(eval_.target_bytes);
    return e;
  }

  // The Hugging Face checkpoint plus the state a resume needs.
  void save(const std::string& dir) const {
    namespace fs = std::filesystem;
    save_hf_checkpoint(dir, params_, opt_.shape, tok_);
    save_optimizer_state(dir, state_);
    detail::write_json(
        fs::path(dir) / "train_state.json",
        {{"step", state_.step}, {"corpus_hash", corpus_hash_}, {"options", opt_.to_json()}});
  }

 private:
  trainer(const train_options& o, const std::string& corpus, std::unique_ptr<bpe_tokenizer> tok,
          std::unique_ptr<model_params<float>> p)
      : opt_(o), corpus_hash_(corpus_hash(corpus)) {
    opt_.shape.validate();
    opt_.optim.validate();
    BITLIN_REQUIRE(opt_.batch > 0, value_error, "batch must be positive, got ", opt_.batch);
    BITLIN_REQUIRE(opt_.threads >= 1 && opt_.threads <= 256, value_error,
                   "threads must be in [1, 256], got ", opt_.threads);
    BITLIN_REQUIRE(opt_.eval_windows > 0, value_error, "eval windows must be positive");
    BITLIN_REQUIRE(!corpus.empty(), value_error, "the corpus is empty");
    const corpus_split sp = split_corpus(corpus, opt_.val_fraction);
    tok_ = tok ? *tok : bpe_tokenizer::train(sp.train, static_cast<std::size_t>(opt_.shape.vocab));
    // The tokenizer may stop short of the requested size on a tiny corpus; the model's
    // vocabulary is the tokenizer's.
    opt_.shape.vocab = static_cast<index_t>(tok_.vocab_size());
    train_ = tokenize(tok_, sp.train);
    val_ = tokenize(tok_, sp.validation);
    BITLIN_REQUIRE(static_cast<index_t>(train_.ids.size()) >= opt_.shape.context + 1, value_error,
                   "the training split has ", train_.ids.size(),
                   " tokens, fewer than context + 1 = ", opt_.shape.context + 1,
                   "; use a shorter --context or more data");
    eval_ = validation_windows(val_, opt_.shape.context, opt_.eval_windows);
    params_ = p ? std::move(*p) : init_params<float>(opt_.shape, opt_.seed);
    state_ = make_adamw_state(params_);
    pool_ = std::make_shared<thread_pool>(opt_.threads);
  }

  train_options opt_;
  std::uint64_t corpus_hash_ = 0;
  bpe_tokenizer tok_;
  token_stream train_, val_;
  eval_set eval_;
  model_params<float> params_;
  adamw_state state_;
  std::shared_ptr<thread_pool> pool_;
};

}  // namespace bitlin::train
