// bitnet_convert: float master BitNet b1.58 checkpoint -> packed checkpoint in the same Hugging
// Face layout (uint8 [ceil(out/4), in] + weight_scale per projection, config.json updated), with a
// progress bar. No Python involved.
#include <cstdio>
#include <iostream>
#include <string>

#include "bitlin/model/converter.hpp"

namespace {

const char* const usage_text =
    "usage: bitnet_convert --model DIR --out DIR [--linear-class bitlinear|autobitlinear] "
    "[--quiet]\n"
    "\n"
    "Quantizes every float *_proj.weight (F32/BF16/F16) of a Hugging Face BitNet checkpoint by\n"
    "absmean and writes it packed, with config.json's quantization_config updated. Other tensors\n"
    "are copied unchanged.\n";

int run(int argc, char** argv) {
  std::string in, out;
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
    } else if (a == "--linear-class") {
      opt.linear_class = value();
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      throw std::invalid_argument("unknown option '" + a + "' (see --help)");
    }
  }
  if (in.empty() || out.empty()) throw std::invalid_argument("--model and --out are required");
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

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bitnet_convert: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitnet_convert: error: %s\n", e.what());
    return 1;
  }
}
