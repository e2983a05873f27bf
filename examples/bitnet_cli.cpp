// bitnet_cli: run a BitNet b1.58 or b1 model (a Hugging Face directory or a GGUF file) on bitlin's
// kernels. Text in and text out through the model's tokenizer (tokenizer.json beside the weights,
// or the vocabulary a GGUF embeds), streamed as it is generated; an interactive chat with the
// BitNet-2B-4T template ("Role: content<|eot_id|>", generation prompt "Assistant: ") that keeps
// the KV cache across turns; or token ids in and out. Greedy by default, with temperature / top-k
// / top-p sampling under a fixed seed, and an optional dump of the prompt's logits as
// safetensors. Prints load time, prefill and decode speed and the resident model size.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/gguf.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/model/sampling.hpp"
#ifdef BITLIN_CLI_MPI
#include "bitlin/distributed/mpi.hpp"
#include "bitlin/distributed/sharded_bitnet.hpp"
#endif
#ifdef BITLIN_HAVE_TOKENIZER
#include <filesystem>
#include <memory>

#include "bitlin/text/tokenizer.hpp"
#endif

#include "cli_args.hpp"

namespace {

using bitlin_examples::cli_error;
using bitlin_examples::parse_double;
using bitlin_examples::parse_int;
using bitlin_examples::split;

const char* const usage_text =
    "usage: bitnet_cli (--model DIR|FILE.gguf | --config FILE --weights FILE[,FILE...])\n"
    "                  (--prompt TEXT | --chat | --prompt-ids IDS) [options]\n"
    "\n"
    "Runs a BitNet b1.58 or b1 model (Hugging Face layout: config.json + model.safetensors, or "
    "shards with\n"
    "model.safetensors.index.json; packed or float master weights; or a GGUF file with TQ1_0, "
    "TQ2_0\n"
    "or I2_S weights) on text or token ids.\n"
    "\n"
    "  --model PATH         Hugging Face model directory or GGUF file\n"
    "  --prompt TEXT        prompt text, tokenized with the model's tokenizer (BOS added as the\n"
    "                       model's config says); the continuation is printed as it is generated\n"
    "  --chat               interactive chat on standard input (one line per user turn; ends at\n"
    "                       end of input); the KV cache is kept across turns\n"
    "  --system TEXT        system message for --chat\n"
    "  --tokenizer FILE     tokenizer.json (default: the model directory's, or the GGUF's own)\n"
    "  --no-bos             do not start the text with the BOS token\n"
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
    "  --layout i2|base3    kernel layout of the ternary projections: 2-bit i2 tile (default) or\n"
    "                       1.6-bit base3 tile (20 % less weight traffic; identical logits)\n"
    "  --allow-external-links  let model files be symbolic links out of DIR (a Hugging Face\n"
    "                       hub cache snapshot)\n"
    "  --logits-out FILE    write the prompt's logits (F32 [prompt length, vocab], tensor "
    "'logits')\n"
    "  --tp P               tensor parallelism over P MPI processes (run under mpirun -np P);\n"
    "                       P must divide the attention and KV head counts; rank 0 prints\n"
    "  --tp-scales S        activation scales of the row-parallel inputs: token (default; the\n"
    "                       unsharded model's results) or shard (per (token, shard) groups)\n"
    "  --help               this text\n";

// Resident set size of this process, from /proc (0 where unavailable).
std::size_t process_rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return resident * 4096;
}

#ifdef BITLIN_HAVE_TOKENIZER
// The tokenizer named by --tokenizer, else tokenizer.json in the model directory, else the
// vocabulary of the GGUF file.
std::unique_ptr<bitlin::text::bpe_tokenizer> load_tokenizer(const std::string& path,
                                                            const std::string& model) {
  namespace fs = std::filesystem;
  using bitlin::text::bpe_tokenizer;
  if (!path.empty()) return std::make_unique<bpe_tokenizer>(bpe_tokenizer::from_file(path));
  if (!model.empty() && fs::is_directory(model) && fs::exists(fs::path(model) / "tokenizer.json"))
    return std::make_unique<bpe_tokenizer>(
        bpe_tokenizer::from_file((fs::path(model) / "tokenizer.json").string()));
  if (!model.empty() && bitlin::model::is_gguf_path(model)) {
    const std::string json =
        bitlin::model::tokenizer_json_from_gguf(bitlin::io::gguf_file::open(model));
    if (!json.empty()) return std::make_unique<bpe_tokenizer>(bpe_tokenizer::from_json_text(json));
  }
  throw cli_error("no tokenizer: give --tokenizer FILE (the model has no tokenizer.json)");
}

// Text generation on one KV cache: --prompt runs one turn, --chat one per input line.
struct text_session {
  text_session(const bitlin::model::bitnet_model& m, const bitlin::text::bpe_tokenizer& t,
               bitlin::model::sampler& smp, const bitlin::executor& e, bool add_bos, long long n,
               long long stop)
      : model(m), tok(t), s(smp), ex(e), bos(add_bos), n_new(n), stop_id(stop) {}

  const bitlin::model::bitnet_model& model;
  const bitlin::text::bpe_tokenizer& tok;
  bitlin::model::sampler& s;
  const bitlin::executor& ex;
  bool bos;
  long long n_new, stop_id;
  bitlin::model::kv_cache cache = model.new_cache();
  bitlin::matrix_f logits;
  bitlin::model::generation_stats st;

  std::int64_t config_id(const char* key, const char* token) const {
    const auto& raw = model.config().raw;
    if (raw.contains(key) && raw[key].is_number_integer()) return raw[key].get<std::int64_t>();
    return tok.token_id(token);
  }
  std::vector<std::int64_t> stops() const {
    std::vector<std::int64_t> v;
    for (std::int64_t id : {config_id("eos_token_id", "<|end_of_text|>"),
                            static_cast<std::int64_t>(tok.token_id("<|eot_id|>")),
                            static_cast<std::int64_t>(stop_id)})
      if (id >= 0) v.push_back(id);
    return v;
  }
  // Feeds ids into the cache (their logits become the next token's distribution).
  void feed(const std::vector<std::int64_t>& ids) {
    if (ids.empty()) return;
    const auto cap = static_cast<std::size_t>(model.config().max_position_embeddings);
    if (static_cast<std::size_t>(cache.size()) + ids.size() > cap)
      throw cli_error("the conversation no longer fits the model's context of " +
                      std::to_string(cap) + " tokens");
    const auto t0 = std::chrono::steady_clock::now();
    logits = model.forward(ids.data(), static_cast<bitlin::index_t>(ids.size()), cache,
                           bitlin::model::logits_for::last, ex);
    st.prefill_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.prompt_tokens += static_cast<bitlin::index_t>(ids.size());
  }
  std::vector<std::int64_t> encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    for (auto id : tok.encode(text)) ids.push_back(id);
    return ids;
  }
  // Samples up to n_new tokens, printing their text as they come; returns the stop token that
  // ended the turn, or -1.
  std::int64_t respond() {
    const auto stop = stops();
    const auto vocab = static_cast<std::int64_t>(tok.vocab_size());
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t ended = -1;
    for (long long i = 0; i < n_new; ++i) {
      const auto next = static_cast<std::int64_t>(s.sample(logits.data(), logits.cols()));
      ++st.generated_tokens;
      if (std::find(stop.begin(), stop.end(), next) != stop.end()) {
        ended = next;
        break;
      }
      if (next < vocab) {
        std::string piece;
        tok.append_decoded(static_cast<std::int32_t>(next), piece);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      if (i + 1 < n_new) {
        const auto cap = model.config().max_position_embeddings;
        if (cache.size() + 1 > cap) break;
        logits = model.forward(&next, 1, cache, bitlin::model::logits_for::last, ex);
      }
    }
    st.decode_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return ended;
  }
  void report() const {
    std::printf("prefill:          %ld tokens, %.1f tokens/s\n",
                static_cast<long>(st.prompt_tokens), st.prefill_tokens_per_second());
    std::printf("decode:           %ld tokens, %.1f tokens/s\n",
                static_cast<long>(st.generated_tokens), st.decode_tokens_per_second());
  }

  int complete(const std::string& text) {
    std::vector<std::int64_t> ids;
    const auto b = config_id("bos_token_id", "<|begin_of_text|>");
    if (bos && b >= 0) ids.push_back(b);
    for (auto id : encode(text)) ids.push_back(id);
    if (ids.empty()) throw cli_error("--prompt is empty");
    std::printf("prompt: %zu tokens\n", ids.size());
    std::fwrite(text.data(), 1, text.size(), stdout);
    feed(ids);
    respond();
    std::printf("\n");
    report();
    return 0;
  }

  // BitNet-2B-4T's template: [BOS] "System: ...<|eot_id|>" then per turn "User: ...<|eot_id|>"
  // "Assistant: " and the reply, closed by <|eot_id|> (generated, or added when -n ran out).
  int chat(const std::string& system) {
    const std::int64_t eot = tok.token_id("<|eot_id|>");
    std::vector<std::int64_t> head;
    const auto b = config_id("bos_token_id", "<|begin_of_text|>");
    if (bos && b >= 0) head.push_back(b);
    if (!system.empty())
      for (auto id : encode("System: " + system + "<|eot_id|>")) head.push_back(id);
    std::string line;
    bool first = true;
    std::printf("> ");
    std::fflush(stdout);
    while (std::getline(std::cin, line)) {
      std::vector<std::int64_t> ids = first ? head : std::vector<std::int64_t>{};
      first = false;
      for (auto id : encode("User: " + line + "<|eot_id|>Assistant: ")) ids.push_back(id);
      feed(ids);
      const std::int64_t ended = respond();
      // The turn's end marker belongs in the cache, as the template puts it there.
      if (ended >= 0)
        feed({ended});
      else if (eot >= 0)
        feed({eot});
      std::printf("\n> ");
      std::fflush(stdout);
    }
    std::printf("\n");
    report();
    return 0;
  }
};
#endif

// The path each op runs on: one active ISA governs all of them (--isa, BITLIN_ISA).
void print_kernel_paths(const bitlin::model::bitnet_model& model, bitlin::isa target,
                        bitlin::model::ternary_layout layout) {
  const bitlin::isa dense_path = model.uses_int8_head()
                                     ? bitlin::int8_linear_kernel_path(target)
                                     : bitlin::dense_kernel_path(model.head().storage(), target);
  // A b1 model's projections run on the 1-bit layout, a b1.58 model's on the 2-bit one or, with
  // --layout base3, on the 1.6-bit one (named like its benchmark rows: avx2_base3).
  const bool binary = model.config().binary();
  const bool base3 = !binary && layout == bitlin::model::ternary_layout::base3;
  const bitlin::isa path = binary  ? bitlin::gemm_kernel_path<bitlin::b1_tile>(target)
                           : base3 ? bitlin::gemm_kernel_path<bitlin::base3_tile>(target)
                                   : bitlin::gemm_kernel_path<bitlin::i2_tile>(target);
  std::printf("kernels: %s=%s%s dense=%s attention=%s act_quant=%s\n",
              binary ? "binary" : "ternary", bitlin::isa_name(path), base3 ? "_base3" : "",
              bitlin::isa_name(dense_path),
              bitlin::isa_name(bitlin::attention_kernel_path(target, model.config().head_dim)),
              bitlin::isa_name(bitlin::act_quant_kernel_path(target)));
}

struct run_options {
  std::string config_path, weights, model_dir, logits_out;
  std::vector<std::int64_t> prompt;
  bitlin::model::sampling_options so;
  long long n_new, threads, stop_id;
  bool int8_head;
  bitlin::isa target;
  bool shard_scales;
  std::string prompt_text, system_text, tokenizer_path;
  bool chat, have_text, no_bos;
  bool external_links;
  bitlin::model::ternary_layout layout;
};

// Checked before any work, naming the option: the model would refuse them later anyway.
void check_against_model(const run_options& o, const bitlin::model::bitnet_config& c) {
  for (std::size_t i = 0; i < o.prompt.size(); ++i)
    if (o.prompt[i] < 0 || o.prompt[i] >= c.vocab_size)
      throw cli_error("--prompt-ids: id " + std::to_string(o.prompt[i]) + " at position " +
                      std::to_string(i) + " is outside the vocabulary [0, " +
                      std::to_string(c.vocab_size) + ")");
  if (o.stop_id < -1 || o.stop_id >= c.vocab_size)
    throw cli_error("--stop-id: id " + std::to_string(o.stop_id) +
                    " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  if (c.max_position_embeddings > 0 &&
      (static_cast<long long>(o.prompt.size()) > c.max_position_embeddings ||
       o.n_new > c.max_position_embeddings - static_cast<long long>(o.prompt.size())))
    throw cli_error("--prompt-ids and -n: " + std::to_string(o.prompt.size()) + " prompt + " +
                    std::to_string(o.n_new) + " new tokens exceed the model's " +
                    std::to_string(c.max_position_embeddings) +
                    " positions (config max_position_embeddings)");
}

// The model type first: BitNet b1.58 (ternary) or BitNet b1 (binary weights, with its BitLinear
// LayerNorm when the config has one).
void print_model_line(const run_options& o, const bitlin::model::bitnet_config& c) {
  std::printf("model: %s%s, %ld layers, hidden %ld, vocab %ld, linear_class %s, kernels %s%s\n",
              c.model_kind(), c.activation_layer_norm ? " (LayerNorm before activations)" : "",
              static_cast<long>(c.num_hidden_layers), static_cast<long>(c.hidden_size),
              static_cast<long>(c.vocab_size), c.linear_class.c_str(), bitlin::isa_name(o.target),
              o.int8_head ? ", int8 head" : "");
}

#ifdef BITLIN_CLI_MPI
using tp_comm = bitlin::distributed::communicator;
#else
struct tp_comm {};
#endif

std::size_t resident_bytes(const bitlin::model::bitnet_model& m) {
  return m.resident_bytes();
}
#ifdef BITLIN_CLI_MPI
std::size_t resident_bytes(const bitlin::distributed::sharded_bitnet_model& m) {
  return m.resident_bytes();
}
#endif

template <class Model, class AfterHeader = void (*)()>
bitlin::model::generation_stats report(
    const run_options& o, const Model& model, double load_s, bool root,
    AfterHeader after_header = [] {}) {
  const auto& c = model.config();
  check_against_model(o, c);
  print_model_line(o, c);
  after_header();

  bitlin::thread_pool pool(static_cast<int>(o.threads));
  bitlin::model::sampler s(o.so);
  bitlin::model::generation_stats st;
  bitlin::matrix_f prompt_logits;
  std::printf("tokens:");
  for (auto id : o.prompt) std::printf(" %lld", static_cast<long long>(id));
  std::printf(" |");
  std::fflush(stdout);
  bitlin::model::generate(
      model, o.prompt, static_cast<bitlin::index_t>(o.n_new), s, pool, &st, o.stop_id,
      [](std::int64_t id) {
        std::printf(" %lld", static_cast<long long>(id));
        std::fflush(stdout);
      },
      o.logits_out.empty() ? nullptr : &prompt_logits);
  std::printf("\n");

  if (!o.logits_out.empty() && root) {
    bitlin::io::safetensors_writer w;
    w.add_matrix<float>("logits", prompt_logits);
    w.write(o.logits_out);
    std::printf("logits: [%ld, %ld] written to %s\n", static_cast<long>(prompt_logits.rows()),
                static_cast<long>(prompt_logits.cols()), o.logits_out.c_str());
  }
  std::printf("load time:        %.3f s\n", load_s);
  std::printf("prefill:          %ld tokens, %.1f tokens/s\n", static_cast<long>(st.prompt_tokens),
              st.prefill_tokens_per_second());
  std::printf("decode:           %ld tokens, %.1f tokens/s\n",
              static_cast<long>(st.generated_tokens), st.decode_tokens_per_second());
  std::printf("resident model:   %zu bytes (process RSS %zu bytes)\n", resident_bytes(model),
              process_rss_bytes());
  std::printf("threads:          %lld\n", o.threads);
  return st;
}

// Loads the model (whole, or this rank's shard when comm is given), generates and reports.
int run_model(const run_options& o, const tp_comm* comm) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  bitlin::model::load_options lo;
  lo.target = o.target;
  lo.int8_head = o.int8_head;
  lo.follow_external_links = o.external_links;
  lo.layout = o.layout;
  const auto files = split(o.weights, ',');
#ifdef BITLIN_CLI_MPI
  if (comm) {
    const auto model =
        o.model_dir.empty()
            ? bitlin::distributed::load_bitnet_sharded(*comm, o.config_path, files, lo)
            : bitlin::distributed::load_bitnet_sharded(*comm, o.model_dir, lo);
    const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
    comm->reset_bytes_sent();
    const auto st = report(o, model, load_s, comm->rank() == 0);
    // Every token that went through the layers (the last generated one never does).
    const auto tokens = st.prompt_tokens + std::max<bitlin::index_t>(st.generated_tokens - 1, 0);
    std::printf(
        "tensor parallel:  %d ranks, %s activation scales; rank 0 sent %zu bytes, %.0f per token\n",
        comm->size(), o.shard_scales ? "per-shard" : "per-token", comm->bytes_sent(),
        tokens > 0 ? static_cast<double>(comm->bytes_sent()) / static_cast<double>(tokens) : 0.0);
    return 0;
  }
#else
  (void)comm;
#endif
  const bitlin::model::bitnet_model model =
      o.model_dir.empty() ? bitlin::model::load_bitnet(o.config_path, files, lo)
                          : bitlin::model::load_bitnet_auto(o.model_dir, lo);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  if (o.have_text || o.chat) {
#ifdef BITLIN_HAVE_TOKENIZER
    const auto tok = load_tokenizer(o.tokenizer_path, o.model_dir);
    bitlin::thread_pool pool(static_cast<int>(o.threads));
    bitlin::model::sampler s(o.so);
    const auto& c = model.config();
    print_model_line(o, c);
    std::printf("load time:        %.3f s\n", load_s);
    print_kernel_paths(model, o.target, o.layout);
    text_session ts(model, *tok, s, pool, !o.no_bos, o.n_new, o.stop_id);
    return o.chat ? ts.chat(o.system_text) : ts.complete(o.prompt_text);
#else
    throw cli_error("this build has no tokenizer (libpcre2-dev was missing); use --prompt-ids");
#endif
  }
  report(o, model, load_s, true, [&] { print_kernel_paths(model, o.target, o.layout); });
  return 0;
}

int run(int argc, char** argv) {
  std::string model_dir, config_path, weights, prompt_arg, logits_out, isa_name,
      tp_scales = "token", layout_name = "i2";
  long long n_new = 16, threads = 1, stop_id = -1, tp = 0;
  bool int8_head = false;
  std::string prompt_text, system_text, tokenizer_path;
  bool chat = false, have_text = false, no_bos = false, external_links = false;
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
    } else if (a == "--prompt") {
      prompt_text = value();
      have_text = true;
    } else if (a == "--chat") {
      chat = true;
    } else if (a == "--system") {
      system_text = value();
    } else if (a == "--tokenizer") {
      tokenizer_path = value();
    } else if (a == "--no-bos") {
      no_bos = true;
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
    } else if (a == "--layout") {
      layout_name = value();
    } else if (a == "--allow-external-links") {
      external_links = true;
    } else if (a == "--logits-out") {
      logits_out = value();
    } else if (a == "--tp") {
      tp = parse_int(value(), "--tp");
    } else if (a == "--tp-scales") {
      tp_scales = value();
    } else {
      throw cli_error("unknown option '" + a + "' (see --help)");
    }
  }
  if (model_dir.empty() == config_path.empty())
    throw cli_error("give either --model DIR or --config FILE with --weights FILES");
  if (!config_path.empty() && weights.empty()) throw cli_error("--config needs --weights");
  if (static_cast<int>(!prompt_arg.empty()) + static_cast<int>(have_text) +
          static_cast<int>(chat) !=
      1)
    throw cli_error("give exactly one of --prompt TEXT, --chat or --prompt-ids IDS");
  if (n_new < 0) throw cli_error("-n must be >= 0");
  if (threads < 1 || threads > 1024) throw cli_error("--threads must be in [1, 1024]");
  if (tp < 0 || tp > 4096) throw cli_error("--tp must be in [1, 4096]");
  if (layout_name != "i2" && layout_name != "base3")
    throw cli_error("--layout must be i2 or base3, not '" + layout_name + "'");
  if (layout_name != "i2" && tp != 0)
    throw cli_error("--layout base3 is not available with --tp (the shards run the i2 tile)");
  if (tp_scales != "token" && tp_scales != "shard")
    throw cli_error("--tp-scales must be token or shard, not '" + tp_scales + "'");
  std::vector<std::int64_t> prompt;
  for (const auto& p : split(prompt_arg, ','))
    prompt.push_back(static_cast<std::int64_t>(parse_int(p, "--prompt-ids")));
  if (!prompt_arg.empty() && prompt.empty()) throw cli_error("--prompt-ids is empty");
  if ((have_text || chat) && tp != 0) throw cli_error("--prompt and --chat run in one process");
  so.validate();
  if (!isa_name.empty()) bitlin::set_active_isa(bitlin::parse_isa(isa_name));

  run_options ro{config_path,
                 weights,
                 model_dir,
                 logits_out,
                 prompt,
                 so,
                 n_new,
                 threads,
                 stop_id,
                 int8_head,
                 bitlin::active_isa(),
                 tp_scales == "shard",
                 prompt_text,
                 system_text,
                 tokenizer_path,
                 chat,
                 have_text,
                 no_bos,
                 external_links,
                 bitlin::model::parse_ternary_layout(layout_name)};
  if (tp == 0) return run_model(ro, nullptr);
#ifdef BITLIN_CLI_MPI
  bitlin::distributed::mpi_environment env(nullptr, nullptr);
  const bitlin::distributed::mpi_communicator comm;
  if (comm.size() != tp)
    throw cli_error("--tp " + std::to_string(tp) + " but this job has " +
                    std::to_string(comm.size()) + " MPI processes (run it as mpirun -np " +
                    std::to_string(tp) + " ...)");
  // Rank 0 prints; the others keep their errors (stderr) only.
  if (comm.rank() != 0 && !std::freopen("/dev/null", "w", stdout))
    throw cli_error("cannot silence stdout on rank " + std::to_string(comm.rank()));
  return run_model(ro, &comm);
#else
  throw cli_error("--tp needs bitnet_cli built with MPI (install libopenmpi-dev and reconfigure)");
#endif
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
