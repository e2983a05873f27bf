// Where the golden data lives: tests/data by default, or the directory named by BITLIN_FIXTURES,
// so the same checks can be pointed at freshly generated fixtures.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace bitlin_test {
inline std::string fixture_dir() {
  if (const char* env = std::getenv("BITLIN_FIXTURES"); env && *env) return env;
  return BITLIN_TEST_DATA_DIR;
}

// The model fixtures follow the documented naming (tests/data/FIXTURES.md): any tag works.
struct fixture_triple {
  std::string tag, config, model, ref;
};

// Every <tag>_config.json with its <tag>_model.safetensors and <tag>_ref.safetensors.
inline std::vector<fixture_triple> model_fixtures() {
  namespace fs = std::filesystem;
  std::vector<fixture_triple> out;
  const fs::path dir(fixture_dir());
  if (!fs::is_directory(dir)) return out;
  const std::string suffix = "_config.json";
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string tag = name.substr(0, name.size() - suffix.size());
    fixture_triple t{tag, e.path().string(), (dir / (tag + "_model.safetensors")).string(),
                     (dir / (tag + "_ref.safetensors")).string()};
    if (fs::exists(t.model) && fs::exists(t.ref)) out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
  return out;
}

}  // namespace bitlin_test
