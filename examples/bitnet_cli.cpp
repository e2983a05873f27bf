// bitnet_cli: run a BitNet b1.58 checkpoint in the Hugging Face layout on bitlin's kernels.
// Token ids in, token ids out (text tokenization is left to the caller), greedy by default, with
// temperature / top-k / top-p sampling under a fixed seed, and an optional dump of the prompt's
// logits as safetensors. Prints load time, prefill and decode speed and the resident model size.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/model/sampling.hpp"

namespace {

const char* const usage_text =
    "usage: bitnet_cli (--model DIR | --config FILE --weights FILE[,FILE...]) --prompt-ids IDS "
    "[options]\n"
    "\n"
    "Runs a BitNet b1.58 model (Hugging Face layout: config.json + model.safetensors, or shards "
    "with\n"
    "model.safetensors.index.json; packed or float master weights) from token ids.\n"
    "\n"
    "  --model DIR          Hugging Face model directory\n"
    "  --config FILE        config.json given directly (with --weights instead of --model)\n"
    "  --weights FILES      comma-separated safetensors files\n"
    "  --prompt-ids IDS     prompt token ids, comma-separated (e.g. 1,2,3)\n"
    "  -n N                 number of new tokens to generate (default 16; 0 = none)\n"
    "  --temperature T      sampling temperature (default 0 = greedy)\n"
    "  --top-k K            keep the K most likely tokens (default 0 = all)\n"
    "  --top-p P            nucleus sampling mass in (0, 1] (default 1)\n"
    "  --seed S             random seed for sampling (default 0)\n"
    "  --threads T          worker threads (default 1)\n"
    "  --isa NAME           kernel code path (scalar, avx2, avx512vnni, ...; default: best)\n"
    "  --stop-id ID         stop after generating this token id\n"
    "  --int8-head          8-bit output head (per-row int8 weights; halves the head's traffic)\n"
    "  --allow-external-links  let model files be symbolic links out of DIR (a Hugging Face\n"
    "                       hub cache snapshot)\n"
    "  --logits-out FILE    write the prompt's logits (F32 [prompt length, vocab], tensor "
    "'logits')\n"
    "  --help               this text\n";

struct cli_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

long long parse_int(const std::string& s, const std::string& what) {
  std::size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw cli_error(what + ": '" + s + "' is not an integer");
  return v;
}

double parse_double(const std::string& s, const std::string& what) {
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw cli_error(what + ": '" + s + "' is not a number");
  return v;
}

// Resident set size of this process, from /proc (0 where unavailable).
std::size_t process_rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return resident * 4096;
}

int run(int argc, char** argv) {
  std::string model_dir, config_path, weights, prompt_arg, logits_out, isa_name;
  long long n_new = 16, threads = 1, stop_id = -1;
  bool int8_head = false, external_links = false;
  bitlin::model::sampling_options so;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw cli_error("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a == "--model") {
      model_dir = value();
    } else if (a == "--config") {
      config_path = value();
    } else if (a == "--weights") {
      weights = value();
    } else if (a == "--prompt-ids") {
      prompt_arg = value();
    } else if (a == "-n") {
      n_new = parse_int(value(), "-n");
    } else if (a == "--temperature") {
      so.temperature = static_cast<float>(parse_double(value(), "--temperature"));
    } else if (a == "--top-k") {
      so.top_k = static_cast<bitlin::index_t>(parse_int(value(), "--top-k"));
    } else if (a == "--top-p") {
      so.top_p = static_cast<float>(parse_double(value(), "--top-p"));
    } else if (a == "--seed") {
      so.seed = static_cast<std::uint64_t>(parse_int(value(), "--seed"));
    } else if (a == "--threads") {
      threads = parse_int(value(), "--threads");
    } else if (a == "--isa") {
      isa_name = value();
    } else if (a == "--stop-id") {
      stop_id = parse_int(value(), "--stop-id");
    } else if (a == "--int8-head") {
      int8_head = true;
    } else if (a == "--allow-external-links") {
      external_links = true;
    } else if (a == "--logits-out") {
      logits_out = value();
    } else {
      throw cli_error("unknown option '" + a + "' (see --help)");
    }
  }
  if (model_dir.empty() == config_path.empty())
    throw cli_error("give either --model DIR or --config FILE with --weights FILES");
  if (!config_path.empty() && weights.empty()) throw cli_error("--config needs --weights");
  if (prompt_arg.empty()) throw cli_error("--prompt-ids is required");
  if (n_new < 0) throw cli_error("-n must be >= 0");
  if (threads < 1 || threads > 1024) throw cli_error("--threads must be in [1, 1024]");
  std::vector<std::int64_t> prompt;
  for (const auto& p : split(prompt_arg, ','))
    prompt.push_back(static_cast<std::int64_t>(parse_int(p, "--prompt-ids")));
  if (prompt.empty()) throw cli_error("--prompt-ids is empty");
  so.validate();
  if (!isa_name.empty()) bitlin::set_active_isa(bitlin::parse_isa(isa_name));

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  bitlin::model::load_options lo;
  lo.target = bitlin::active_isa();
  lo.int8_head = int8_head;
  lo.follow_external_links = external_links;
  const bitlin::model::bitnet_model model =
      model_dir.empty() ? bitlin::model::load_bitnet(config_path, split(weights, ','), lo)
                        : bitlin::model::load_bitnet(model_dir, lo);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  const auto& c = model.config();
  // Checked before any work, naming the option: the model would refuse them later anyway.
  for (std::size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= c.vocab_size)
      throw cli_error("--prompt-ids: id " + std::to_string(prompt[i]) + " at position " +
                      std::to_string(i) + " is outside the vocabulary [0, " +
                      std::to_string(c.vocab_size) + ")");
  if (stop_id < -1 || stop_id >= c.vocab_size)
    throw cli_error("--stop-id: id " + std::to_string(stop_id) + " is outside the vocabulary [0, " +
                    std::to_string(c.vocab_size) + ")");
  if (c.max_position_embeddings > 0 &&
      (static_cast<long long>(prompt.size()) > c.max_position_embeddings ||
       n_new > c.max_position_embeddings - static_cast<long long>(prompt.size())))
    throw cli_error("--prompt-ids and -n: " + std::to_string(prompt.size()) + " prompt + " +
                    std::to_string(n_new) + " new tokens exceed the model's " +
                    std::to_string(c.max_position_embeddings) +
                    " positions (config max_position_embeddings)");
  std::printf("model: %ld layers, hidden %ld, vocab %ld, linear_class %s, kernels %s%s\n",
              static_cast<long>(c.num_hidden_layers), static_cast<long>(c.hidden_size),
              static_cast<long>(c.vocab_size), c.linear_class.c_str(), bitlin::isa_name(lo.target),
              int8_head ? ", int8 head" : "");

  bitlin::thread_pool pool(static_cast<int>(threads));
  bitlin::model::sampler s(so);
  bitlin::model::generation_stats st;
  bitlin::matrix_f prompt_logits;
  std::printf("tokens:");
  for (auto id : prompt) std::printf(" %lld", static_cast<long long>(id));
  std::printf(" |");
  std::fflush(stdout);
  bitlin::model::generate(
      model, prompt, static_cast<bitlin::index_t>(n_new), s, pool, &st, stop_id,
      [](std::int64_t id) {
        std::printf(" %lld", static_cast<long long>(id));
        std::fflush(stdout);
      },
      logits_out.empty() ? nullptr : &prompt_logits);
  std::printf("\n");

  if (!logits_out.empty()) {
    bitlin::io::safetensors_writer w;
    w.add_matrix<float>("logits", prompt_logits);
    w.write(logits_out);
    std::printf("logits: [%ld, %ld] written to %s\n", static_cast<long>(prompt_logits.rows()),
                static_cast<long>(prompt_logits.cols()), logits_out.c_str());
  }
  std::printf("load time:        %.3f s\n", load_s);
  std::printf("prefill:          %ld tokens, %.1f tokens/s\n", static_cast<long>(st.prompt_tokens),
              st.prefill_tokens_per_second());
  std::printf("decode:           %ld tokens, %.1f tokens/s\n",
              static_cast<long>(st.generated_tokens), st.decode_tokens_per_second());
  std::printf("resident model:   %zu bytes (process RSS %zu bytes)\n", model.resident_bytes(),
              process_rss_bytes());
  std::printf("threads:          %lld\n", threads);
  return 0;
}

}  // namespace

// Without arguments (as the README's demo runs every example): both tiny BitNet models shipped in
// tests/data, when this build knows where they are.
int demo(const char* argv0) {
#ifdef BITLIN_BITNET_DEMO_DATA
  const std::string dir = BITLIN_BITNET_DEMO_DATA;
  int rc = 0;
  for (const char* tag : {"tiny", "tiny_auto"}) {
    const std::string cfg = dir + "/" + tag + "_config.json",
                      w = dir + "/" + tag + "_model.safetensors";
    if (!std::ifstream(cfg).good() || !std::ifstream(w).good()) continue;
    std::printf("== bitnet_cli --config %s --weights %s --prompt-ids 1,2,3,4,5,6 -n 8\n",
                cfg.c_str(), w.c_str());
    std::string a[] = {argv0,          "--config",    cfg,  "--weights", w,
                       "--prompt-ids", "1,2,3,4,5,6", "-n", "8"};
    char* args[9];
    for (int i = 0; i < 9; ++i) args[i] = a[i].data();
    rc |= run(9, args);
  }
  return rc;
#else
  (void)argv0;
  std::cout << usage_text;
  return 0;
#endif
}

int main(int argc, char** argv) {
  try {
    if (argc == 1) return demo(argv[0]);
    return run(argc, argv);
  } catch (const cli_error& e) {
    std::fprintf(stderr, "bitnet_cli: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet_cli: error: %s\n", e.what());
    return 1;
  }
}
