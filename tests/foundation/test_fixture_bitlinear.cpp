// Every *_cases.safetensors in the fixture directory is replayed through the reference path:
// quantized weights, quantized activations and the integer product must match bit for bit, the
// scales to 1e-6 relative (summation order may move the last bit) and y to 1e-5 of max|y|.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <bitlin/bitlin.hpp>
#include <bitlin/io/safetensors.hpp>

#include "catch.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;
using namespace bitlin;

namespace {

std::vector<fs::path> case_files() {
  std::vector<fs::path> files;
  const fs::path dir = bitlin_test::fixture_dir();
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = "_cases.safetensors";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::set<std::string> case_names(const io::safetensors_file& f) {
  std::set<std::string> out;
  for (const auto& n : f.names()) {
    const auto dot = n.find('.');
    if (dot != std::string::npos) out.insert(n.substr(0, dot));
  }
  return out;
}

void check_case(const io::safetensors_file& f, const std::string& c) {
  INFO("case " << c << " in " << f.path());
  const matrix_f W = f.read_matrix_f32(c + ".W");
  const matrix_f X = f.read_matrix_f32(c + ".X");
  const auto Wq = f.read_matrix<std::int8_t>(c + ".Wq");
  const auto Xq = f.read_matrix<std::int8_t>(c + ".Xq");
  const auto y_int = f.read_matrix<std::int32_t>(c + ".y_int");
  const matrix_f y = f.read_matrix_f32(c + ".y");
  const std::vector<float> w_scale = f.read_f32(c + ".w_scale");
  const std::vector<float> x_scale = f.read_f32(c + ".x_scale");
  REQUIRE(w_scale.size() == 1);
  REQUIRE(static_cast<index_t>(x_scale.size()) == X.rows());

  const ternary_weights tw = absmean_ternary(W);
  REQUIRE(tw.scales.values.size() == 1);
  CHECK(std::fabs(tw.scales.values[0] - w_scale[0]) <= 1e-6f * std::fabs(w_scale[0]));
  CHECK(tw.q == Wq);

  const quantized_activations xq = absmax_quantize(X);
  for (index_t t = 0; t < X.rows(); ++t)
    CHECK(
        std::fabs(xq.scales[static_cast<std::size_t>(t)] - x_scale[static_cast<std::size_t>(t)]) <=
        1e-6f * std::fabs(x_scale[static_cast<std::size_t>(t)]));
  CHECK(xq.q == Xq);

  CHECK(reference_gemm(xq.q, tw.q) == y_int);

  const auto layer = bit_linear<>::from_float(W);
  const matrix_f got = layer.forward(X);
  const float ymax = y.cwiseAbs().maxCoeff();
  const float err = (got - y).cwiseAbs().maxCoeff();
  INFO("max |y - y_ref| = " << err << ", max |y_ref| = " << ymax);
  CHECK(err <= 1e-5f * std::max(ymax, 1e-30f));
}

}  // namespace

TEST_CASE("every BitLinear golden case matches the reference path bit for bit", "[fixtures]") {
  const auto files = case_files();
  INFO("fixture directory: " << bitlin_test::fixture_dir());
  REQUIRE_FALSE(files.empty());  // a directory without case files is a failure, not a pass
  for (const auto& path : files) {
    const auto f = io::safetensors_file::open(path.string());
    const auto cases = case_names(f);
    REQUIRE_FALSE(cases.empty());
    for (const auto& c : cases) check_case(f, c);
  }
}
