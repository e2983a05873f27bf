// bitnet_convert: float master BitNet b1.58 checkpoint -> packed checkpoint in the same Hugging
// Face layout (uint8 [ceil(out/4), in] + weight_scale per projection, config.json updated), with a
// progress bar; Hugging Face directory -> GGUF (TQ1_0, TQ2_0 or I2_S, for llama.cpp / bitnet.cpp)
// and GGUF -> Hugging Face directory, the tokenizer carried along. No Python involved.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include "bitlin/model/converter.hpp"
#include "bitlin/model/gguf.hpp"

namespace {

const char* const usage_text =
    "usage: bitnet_convert --model DIR --out DIR [--linear-class bitlinear|autobitlinear] "
    "[--quiet]\n"
    "       bitnet_convert --model DIR --out FILE.gguf [--format tq2_0|tq1_0|i2_s] "
    "[--tokenizer FILE]\n"
    "       bitnet_convert --model FILE.gguf --out DIR\n"
    "\n"
    "DIR -> DIR: quantizes every float *_proj.weight (F32/BF16/F16) of a Hugging Face BitNet\n"
    "checkpoint by absmean and writes it packed, with config.json's quantization_config updated.\n"
    "Other tensors are copied unchanged.\n"
    "DIR -> GGUF: the model as GGUF (architecture bitnet-b1.58; projections in the chosen ternary\n"
    "type, default i2_s; TQ types need rows that are multiples of 256), tokenizer.json and the\n"
    "chat template carried along. GGUF -> DIR: back to the Hugging Face layout (with tokenizer).\n";

int run(int argc, char** argv) {
  std::string in, out, format, tokenizer;
  bitlin::model::convert_options opt;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a == "--model") {
      in = value();
    } else if (a == "--out") {
      out = value();
    } else if (a == "--format") {
      format = value();
    } else if (a == "--tokenizer") {
      tokenizer = value();
    } else if (a == "--linear-class") {
      opt.linear_class = value();
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      throw std::invalid_argument("unknown option '" + a + "' (see --help)");
    }
  }
  if (in.empty() || out.empty()) throw std::invalid_argument("--model and --out are required");
  const bool to_gguf = !format.empty() || (out.size() > 5 && out.substr(out.size() - 5) == ".gguf");
  if (bitlin::model::is_gguf_path(in)) {
    if (to_gguf) throw std::invalid_argument("GGUF -> GGUF is not a conversion this tool does");
    bitlin::model::convert_from_gguf(in, out);
    std::printf("converted GGUF %s to the Hugging Face directory %s\n", in.c_str(), out.c_str());
    return 0;
  }
  if (to_gguf) {
    bitlin::model::gguf_export_options go;
    go.tokenizer_json_path = tokenizer;
    if (format.empty() || format == "i2_s") {
      go.format = bitlin::io::ggml_type::i2_s;
    } else if (format == "tq2_0") {
      go.format = bitlin::io::ggml_type::tq2_0;
    } else if (format == "tq1_0") {
      go.format = bitlin::io::ggml_type::tq1_0;
    } else {
      throw std::invalid_argument("--format must be tq2_0, tq1_0 or i2_s, got '" + format + "'");
    }
    bitlin::model::convert_to_gguf(in, out, go);
    const auto f = bitlin::io::gguf_file::open(out);
    std::printf("converted %s to %s: %zu tensors, %zu metadata keys, projections %s%s\n",
                in.c_str(), out.c_str(), f.tensors().size(), f.metadata().size(),
                bitlin::io::ggml_type_name(go.format),
                f.has("tokenizer.ggml.tokens") ? ", tokenizer included" : "");
    return 0;
  }
  if (!quiet) {
    opt.progress = [](std::size_t done, std::size_t total, const std::string& name) {
      const int width = 30;
      const int filled = total ? static_cast<int>(width * done / total) : width;
      std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-60.60s", filled, "##############################",
                   width - filled, "", done, total, name.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  const auto rep = bitlin::model::convert_checkpoint(in, out, opt);
  std::printf(
      "converted %zu tensors: %zu projections quantized and packed, %zu copied; %llu bytes "
      "of tensor data written to %s\n",
      rep.tensors, rep.quantized, rep.copied, static_cast<unsigned long long>(rep.bytes_out),
      out.c_str());
  return 0;
}

}  // namespace

// Without arguments (as the README's demo runs every example): converts the tiny BitNet model
// shipped in tests/data to the multiplying scale convention, in a temporary directory.
int demo(const char* argv0) {
#ifdef BITLIN_BITNET_DEMO_DATA
  namespace fs = std::filesystem;
  const fs::path data(BITLIN_BITNET_DEMO_DATA);
  if (!fs::exists(data / "tiny_config.json")) return std::cout << usage_text, 0;
  const std::string tag = std::to_string(std::random_device{}());  // concurrent runs stay apart
  const fs::path src = fs::temp_directory_path() / ("bitnet_convert_demo_src_" + tag);
  const fs::path dst = fs::temp_directory_path() / ("bitnet_convert_demo_out_" + tag);
  fs::create_directories(src);
  fs::copy_file(data / "tiny_config.json", src / "config.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(data / "tiny_model.safetensors", src / "model.safetensors",
                fs::copy_options::overwrite_existing);
  std::printf("== bitnet_convert --model %s --out %s --linear-class autobitlinear\n",
              src.string().c_str(), dst.string().c_str());
  std::string a[] = {argv0,        "--model",        src.string(),   "--out",
                     dst.string(), "--linear-class", "autobitlinear"};
  char* args[7];
  for (int i = 0; i < 7; ++i) args[i] = a[i].data();
  const int rc = run(7, args);
  fs::remove_all(src);
  fs::remove_all(dst);
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
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bitnet_convert: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet_convert: error: %s\n", e.what());
    return 1;
  }
}
