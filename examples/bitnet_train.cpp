// bitnet_train: train a small BitNet b1.58 (or b1, or float) language model from scratch on a text
// file, with nothing but this program: byte-level BPE tokenizer, AdamW on fp32 latent weights,
// quantized forward on bitlin's integer kernels, straight-through backward. Writes a Hugging Face
// checkpoint (config.json, float masters, packed/ form, tokenizer.json) that bitnet_cli runs, a CSV
// log, and resumable state. The last line is `final: step S train_loss A val_loss B val_bpb C`.
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>

#include "bitlin/io/safetensors.hpp"
#include "bitlin/train/trainer.hpp"
#include "cli_args.hpp"

namespace {

using bitlin_examples::cli_error;
using bitlin_examples::parse_double;
using bitlin_examples::parse_int;
using bitlin_examples::split;

const char* const usage_text =
    "usage: bitnet_train --data FILE --out DIR [options]\n"
    "\n"
    "  --data FILE        training text (any bytes); the last 10% is the validation split\n"
    "  --out DIR          output: Hugging Face checkpoint, packed/, tokenizer.json, log.csv, "
    "state\n"
    "  --weights KIND     ternary (BitNet b1.58, default), binary (BitNet b1) or float\n"
    "  --layers L         decoder layers (default 2)\n"
    "  --hidden H         hidden size (default 128)\n"
    "  --heads A          attention heads (default 4)\n"
    "  --kv-heads B       key/value heads (default 2)\n"
    "  --ffn F            feed-forward size (default 256)\n"
    "  --context C        tokens per training window (default 64)\n"
    "  --vocab V          BPE vocabulary size, 256 = bytes only (default 512)\n"
    "  --act-bits N       activation bits of the quantized layers, 2..8 (default 8)\n"
    "  --steps S          optimizer updates (default 300; 0 = evaluate and save the initial "
    "model)\n"
    "  --batch B          windows per update (default 16)\n"
    "  --lr X             peak learning rate (default 3e-3; warm-up then cosine decay)\n"
    "  --warmup N         warm-up steps (default 20)\n"
    "  --weight-decay X   AdamW decoupled weight decay (default 0.1)\n"
    "  --two-stage        BitNet's recipe: second half at half the rate and no weight decay\n"
    "  --seed N           seed of the initial weights and the batches (default 1)\n"
    "  --threads T        worker threads (default 2)\n"
    "  --resume DIR       continue the run saved in DIR (its options win; runs to its --steps)\n"
    "  --eval-every N     validate and checkpoint every N steps (default 50; 0 = only at the end)\n"
    "  --eval-windows N   validation windows per evaluation (default 32)\n"
    "  --ptq-eval         also evaluate the final weights quantized to ternary (absmean, A8):\n"
    "                     post-training quantization, meaningful for --weights float\n"
    "  --dump-val-logits  also write DIR/val_prompt_ids.txt and DIR/val_logits.safetensors\n"
    "                     (the final evaluation's logits of the first validation window)\n"
    "  --help             this text\n";

std::string eta_string(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

int run(int argc, char** argv) {
  namespace bt = bitlin::train;
  std::string data, out, resume;
  bt::train_options o;
  o.shape.vocab = 512;
  o.shape.hidden = 128;
  o.shape.ffn = 256;
  o.shape.layers = 2;
  o.shape.heads = 4;
  o.shape.kv_heads = 2;
  o.shape.context = 64;
  o.threads = 2;
  o.batch = 16;
  o.optim.total_steps = 300;
  long long eval_every = 50;
  bool dump_logits = false, ptq_eval = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw cli_error("option " + a + " needs a value");
      return argv[++i];
    };
    auto count = [&](long long lo) {
      const long long v = parse_int(value(), a);
      if (v < lo) throw cli_error(a + " must be >= " + std::to_string(lo));
      return static_cast<bitlin::index_t>(v);
    };
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a == "--data") {
      data = value();
    } else if (a == "--out") {
      out = value();
    } else if (a == "--weights") {
      o.shape.weights = bt::parse_weight_mode(value());
    } else if (a == "--layers") {
      o.shape.layers = count(1);
    } else if (a == "--hidden") {
      o.shape.hidden = count(1);
    } else if (a == "--heads") {
      o.shape.heads = count(1);
    } else if (a == "--kv-heads") {
      o.shape.kv_heads = count(1);
    } else if (a == "--ffn") {
      o.shape.ffn = count(1);
    } else if (a == "--context") {
      o.shape.context = count(1);
    } else if (a == "--vocab") {
      o.shape.vocab = count(256);
    } else if (a == "--act-bits") {
      o.shape.act_bits = static_cast<int>(count(2));
    } else if (a == "--steps") {
      o.optim.total_steps = count(0);
    } else if (a == "--batch") {
      o.batch = count(1);
    } else if (a == "--lr") {
      o.optim.lr = static_cast<float>(parse_double(value(), a));
    } else if (a == "--warmup") {
      o.optim.warmup_steps = count(0);
    } else if (a == "--weight-decay") {
      o.optim.weight_decay = static_cast<float>(parse_double(value(), a));
    } else if (a == "--two-stage") {
      o.optim.two_stage = true;
    } else if (a == "--seed") {
      o.seed = static_cast<std::uint64_t>(count(0));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(count(1));
    } else if (a == "--resume") {
      resume = value();
    } else if (a == "--eval-every") {
      eval_every = count(0);
    } else if (a == "--eval-windows") {
      o.eval_windows = count(1);
    } else if (a == "--ptq-eval") {
      ptq_eval = true;
    } else if (a == "--dump-val-logits") {
      dump_logits = true;
    } else {
      throw cli_error("unknown option '" + a + "' (see --help)");
    }
  }
  if (data.empty()) throw cli_error("--data FILE is required");
  if (out.empty()) throw cli_error("--out DIR is required");

  using clock = std::chrono::steady_clock;
  const std::string corpus = bt::read_corpus(data);
  const auto t_setup = clock::now();
  bt::trainer t =
      resume.empty() ? bt::trainer(o, corpus) : bt::trainer::resume(resume, corpus, o.threads);
  const bt::train_options& opt = t.options();
  const auto& sh = opt.shape;
  std::printf(
      "bitnet_train: %s weights, A%d, %ld layers, hidden %ld, heads %ld/%ld, ffn %ld, context "
      "%ld, vocab %ld (%zu merges, %.1fs)\n",
      bt::weight_mode_name(sh.weights), sh.act_bits, static_cast<long>(sh.layers),
      static_cast<long>(sh.hidden), static_cast<long>(sh.heads), static_cast<long>(sh.kv_heads),
      static_cast<long>(sh.ffn), static_cast<long>(sh.context), static_cast<long>(sh.vocab),
      t.tokenizer().merges(), std::chrono::duration<double>(clock::now() - t_setup).count());
  std::printf("data: %s, %zu bytes; train %zu tokens, validation %zu tokens (%ld windows)\n",
              data.c_str(), corpus.size(), t.train_tokens().ids.size(),
              t.validation_tokens().ids.size(), static_cast<long>(t.validation().count));
  std::printf("steps %ld, batch %ld, lr %g%s, seed %llu, threads %d%s\n",
              static_cast<long>(opt.optim.total_steps), static_cast<long>(opt.batch),
              static_cast<double>(opt.optim.lr), opt.optim.two_stage ? " (two-stage)" : "",
              static_cast<unsigned long long>(opt.seed), opt.threads,
              resume.empty() ? "" : (", resumed at step " + std::to_string(t.step())).c_str());
  std::fflush(stdout);

  std::filesystem::create_directories(out);
  const std::filesystem::path log_path = std::filesystem::path(out) / "log.csv";
  std::ofstream log(log_path, resume.empty() ? std::ios::trunc : std::ios::app);
  if (!log.good()) throw cli_error("cannot write " + log_path.string());
  if (resume.empty()) log << "step,train_loss,val_loss,val_bpb,lr,grad_norm,tokens_per_s\n";

  auto log_eval = [&](const bt::eval_result& e) {
    log << t.step() << ",," << e.loss << "," << e.bpb << ",,,\n";
    log.flush();
    std::printf("eval step %ld: val_loss %.4f val_bpb %.4f\n", static_cast<long>(t.step()), e.loss,
                e.bpb);
    std::fflush(stdout);
  };
  if (t.step() == 0) log_eval(t.evaluate());

  std::deque<double> recent;
  const bitlin::index_t total = opt.optim.total_steps;
  const double tokens_per_step = static_cast<double>(opt.batch * sh.context);
  const auto t0 = clock::now();
  const bitlin::index_t first = t.step();
  while (t.step() < total) {
    const auto ts = clock::now();
    const auto r = t.train_step();
    const double dt = std::chrono::duration<double>(clock::now() - ts).count();
    recent.push_back(r.loss);
    if (recent.size() > 10) recent.pop_front();
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    const auto done = static_cast<double>(t.step() - first);
    const double tps = tokens_per_step * done / elapsed;
    log << t.step() << "," << r.loss << ",,," << r.lr << "," << r.grad_norm << ","
        << tokens_per_step / dt << "\n";
    if (t.step() % 10 == 0 || t.step() == total || t.step() == first + 1) {
      std::printf("step %ld/%ld loss %.4f lr %.2e gnorm %.2f %.0f tokens/s ETA %s\n",
                  static_cast<long>(t.step()), static_cast<long>(total), r.loss,
                  static_cast<double>(r.lr), r.grad_norm, tps,
                  eta_string(elapsed / done * static_cast<double>(total - t.step())).c_str());
      std::fflush(stdout);
    }
    if (eval_every > 0 && t.step() % eval_every == 0 && t.step() < total) {
      log_eval(t.evaluate());
      t.save(out);
    }
  }

  t.save(out);
  double train_loss = 0.0;
  if (recent.empty()) {
    // No update ran: the loss of the first training batch, for the record.
    const auto w = bt::training_windows(t.train_tokens(), sh.context, opt.batch, opt.seed, 0);
    train_loss = bt::loss_and_grad<float>(t.params(), sh, w, opt.batch, nullptr, t.exec());
  } else {
    train_loss =
        std::accumulate(recent.begin(), recent.end(), 0.0) / static_cast<double>(recent.size());
  }
  // Ternary models with 8-bit activations are evaluated by the inference model loaded from the
  // checkpoint just written (what bitnet_cli runs); the others by the training forward.
  bitlin::matrix_f first_logits;
  bt::eval_result e;
  if (bt::inference_runs_masters(sh)) {
    e = t.evaluate_inference(out, &first_logits);
    std::printf("final evaluation: inference model loaded from %s\n", out.c_str());
  } else {
    e = t.evaluate();
    if (dump_logits) {
      const bitlin::index_t C = sh.context;
      std::vector<std::int32_t> win(t.validation().windows.begin(),
                                    t.validation().windows.begin() + C + 1);
      bt::loss_and_grad<float>(t.params(), sh, win, 1, nullptr, t.exec(), nullptr, &first_logits);
    }
  }
  log << t.step() << ",," << e.loss << "," << e.bpb << ",,,\n";
  if (ptq_eval) {
    const bt::eval_result q = t.evaluate_as(bt::weight_mode::ternary);
    std::printf("ptq: ternary absmean weights, 8-bit activations: val_loss %.4f val_bpb %.4f\n",
                q.loss, q.bpb);
  }
  if (dump_logits) {
    const auto& w = t.validation().windows;
    std::ofstream ids(std::filesystem::path(out) / "val_prompt_ids.txt");
    for (bitlin::index_t i = 0; i < sh.context; ++i)
      ids << (i ? "," : "") << w[static_cast<std::size_t>(i)];
    ids << "\n";
    bitlin::io::safetensors_writer lw;
    lw.add_matrix<float>("logits", first_logits);
    lw.write((std::filesystem::path(out) / "val_logits.safetensors").string());
  }
  std::printf("checkpoint: %s (packed form in %s/packed%s)\n", out.c_str(), out.c_str(),
              std::filesystem::exists(std::filesystem::path(out) / "packed") ? "" : ": none");
  std::printf("final: step %ld train_loss %.4f val_loss %.4f val_bpb %.4f\n",
              static_cast<long>(t.step()), train_loss, e.loss, e.bpb);
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
  } catch (const cli_error& e) {
    std::fprintf(stderr, "bitnet_train: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet_train: error: %s\n", e.what());
    return 1;
  }
}
