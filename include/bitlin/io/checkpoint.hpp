// A checkpoint as one name -> tensor map over one or more safetensors files: a single file, files
// named freely, or a Hugging Face model directory whose model.safetensors.index.json maps tensor
// names to shard files. The index comes from the same stranger as the weights, so it may name only
// plain files directly inside the model directory: no absolute paths, no "..", no separators, no
// control characters (a NUL would cut the name short at the system call), no symbolic link that
// resolves outside the directory (unless the caller opts in, as a Hugging Face hub cache snapshot
// needs), and no file twice under two names. The index and the shard count are capped so that a
// hostile index cannot make the reader allocate or open without bound.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/io/json_text.hpp"
#include "bitlin/io/safetensors.hpp"

namespace bitlin::io {

struct checkpoint_options {
  // May a weight file in a model directory be a symbolic link resolving outside it? The Hugging
  // Face hub cache links snapshots/<revision>/*.safetensors to ../../blobs/<hash>; a downloaded
  // archive has no reason to, and following its links could read any file the user can.
  bool follow_external_links = false;
  load_mode mode = load_mode::map;
};

// An index file longer than this is refused (the one of a 400B-parameter model is ~1.5 MB).
inline constexpr std::size_t max_index_bytes = std::size_t{64} << 20;
// More shards than this are refused; each one is a mapping, and processes have ~65k of them.
inline constexpr std::size_t max_shards = 4096;

// model.safetensors.index.json, validated: which file holds each tensor.
struct shard_index {
  std::vector<std::string> shards;                // distinct file names, in first-use order
  std::map<std::string, std::string> weight_map;  // tensor name -> file name
};

namespace detail {

// Why `file` cannot name a file directly inside the model directory, or empty when it can.
inline std::string bad_shard_name(const std::string& file) {
  if (file.empty()) return "an empty file name";
  if (file == "." || file == "..") return "a directory";
  for (const char ch : file) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '/' || ch == '\\') return "a path, not a file name in the model directory";
    if (u < 0x20 || u == 0x7f) return "a file name with a control character";
  }
  return {};
}

// The name of `path` in messages: the first 200 characters, control characters escaped.
inline std::string printable(const std::string& s) {
  std::string out;
  for (const char ch : s.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += ch;
    }
  }
  return s.size() > 200 ? out + "..." : out;
}

}  // namespace detail

inline shard_index shard_index_from_json(const nlohmann::json& j, const std::string& what) {
  BITLIN_REQUIRE(j.is_object(), format_error, what, ": the document is not a JSON object");
  const auto wm = j.find("weight_map");
  BITLIN_REQUIRE(wm != j.end() && wm->is_object(), format_error, what,
                 ": field \"weight_map\" is missing or not an object");
  shard_index idx;
  std::set<std::string> seen;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    BITLIN_REQUIRE(it->is_string(), format_error, what, ": field \"weight_map.",
                   detail::printable(it.key()), "\" must be a file name (string)");
    const std::string file = it->get<std::string>();
    const std::string why = detail::bad_shard_name(file);
    BITLIN_REQUIRE(why.empty(), format_error, what, ": field \"weight_map.",
                   detail::printable(it.key()), "\" names \"", detail::printable(file), "\", ",
                   why);
    if (seen.insert(file).second) {
      BITLIN_REQUIRE(idx.shards.size() < max_shards, format_error, what, ": names more than ",
                     max_shards, " shard files");
      idx.shards.push_back(file);
    }
    idx.weight_map[it.key()] = file;
  }
  BITLIN_REQUIRE(!idx.shards.empty(), format_error, what, ": field \"weight_map\" is empty");
  return idx;
}

inline shard_index parse_shard_index(const std::string& text, const std::string& what) {
  return shard_index_from_json(parse_json_bounded(text, what), what);
}

// `dir`/`name` for a file the checkpoint may read: it must exist, be a regular file after links
// are followed and, unless opt.follow_external_links, resolve to a file directly inside `dir`.
// Returns the resolved path.
inline std::string resolve_model_file(const std::string& dir, const std::string& name,
                                      const checkpoint_options& opt = {}) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(dir) / name;
  std::error_code ec;
  const fs::path real = fs::canonical(p, ec);
  BITLIN_REQUIRE(!ec, format_error, "model file ", detail::printable(p.string()),
                 " cannot be resolved: ", ec.message());
  BITLIN_REQUIRE(fs::is_regular_file(real, ec), format_error, "model file ",
                 detail::printable(p.string()), " is not a regular file");
  if (!opt.follow_external_links) {
    const fs::path real_dir = fs::canonical(dir, ec);
    BITLIN_REQUIRE(!ec, format_error, "model directory ", detail::printable(dir),
                   " cannot be resolved: ", ec.message());
    BITLIN_REQUIRE(real.parent_path() == real_dir, format_error, "model file ",
                   detail::printable(p.string()), " is a symbolic link to ",
                   detail::printable(real.string()),
                   ", outside the model directory (allow it with "
                   "checkpoint_options::follow_external_links, e.g. for a Hugging Face hub cache)");
  }
  return real.string();
}

// One or more safetensors files seen as a single name -> tensor map.
class checkpoint {
 public:
  // The given files; a tensor name may appear in only one of them, and a file only once.
  static checkpoint open_files(const std::vector<std::string>& paths,
                               const checkpoint_options& opt = {}) {
    namespace fs = std::filesystem;
    BITLIN_REQUIRE(!paths.empty(), value_error, "checkpoint: no weight files given");
    BITLIN_REQUIRE(paths.size() <= max_shards, value_error, "checkpoint: ", paths.size(),
                   " weight files, more than the ", max_shards, " allowed");
    checkpoint c;
    std::map<std::string, std::string> real_paths;  // resolved -> as given
    for (const auto& p : paths) {
      std::error_code ec;
      const fs::path real = fs::weakly_canonical(p, ec);
      if (!ec) {
        const auto [it, inserted] = real_paths.emplace(real.string(), p);
        BITLIN_REQUIRE(inserted, format_error, "checkpoint: ", detail::printable(it->second),
                       " and ", detail::printable(p), " are the same file");
      }
      c.add(safetensors_file::open(p, opt.mode));
    }
    return c;
  }

  // Files already open (e.g. made in memory by safetensors_file::from_bytes, as the GGUF loader
  // does); a tensor name may appear in only one of them.
  static checkpoint from_files(std::vector<safetensors_file> files) {
    BITLIN_REQUIRE(!files.empty(), value_error, "checkpoint: no weight files given");
    BITLIN_REQUIRE(files.size() <= max_shards, value_error, "checkpoint: ", files.size(),
                   " weight files, more than the ", max_shards, " allowed");
    checkpoint c;
    for (auto& f : files) c.add(std::move(f));
    return c;
  }

  // A Hugging Face model directory: model.safetensors, or the shards named by
  // model.safetensors.index.json ("weight_map": {tensor: file}).
  static checkpoint open_dir(const std::string& dir, const checkpoint_options& opt = {}) {
    namespace fs = std::filesystem;
    const fs::path d(dir);
    std::error_code ec;
    if (fs::exists(fs::symlink_status(d / "model.safetensors.index.json", ec)))
      return open_index((d / "model.safetensors.index.json").string(), opt);
    BITLIN_REQUIRE(fs::exists(fs::symlink_status(d / "model.safetensors", ec)), format_error,
                   "model directory ", detail::printable(dir),
                   " has neither model.safetensors nor model.safetensors.index.json");
    return open_files({resolve_model_file(dir, "model.safetensors", opt)}, opt);
  }

  static checkpoint open_index(const std::string& index_path, const checkpoint_options& opt = {}) {
    namespace fs = std::filesystem;
    const shard_index idx =
        parse_shard_index(read_text_file(index_path, max_index_bytes), index_path);
    std::string dir = fs::path(index_path).parent_path().string();
    if (dir.empty()) dir = ".";
    std::vector<std::string> paths;
    std::map<std::string, std::string> named;  // resolved path -> shard name
    for (const auto& s : idx.shards) {
      std::string real;
      try {
        real = resolve_model_file(dir, s, opt);
      } catch (const format_error& e) {
        throw format_error(::bitlin::detail::concat(index_path, ": shard \"", detail::printable(s),
                                                    "\": ", e.what()));
      }
      const auto [it, inserted] = named.emplace(real, s);
      BITLIN_REQUIRE(inserted, format_error, index_path, ": shards \"",
                     detail::printable(it->second), "\" and \"", detail::printable(s),
                     "\" are the same file");
      paths.push_back(real);
    }
    checkpoint c = open_files(paths, opt);
    for (const auto& [name, file] : idx.weight_map) {
      const auto it = c.where_.find(name);
      BITLIN_REQUIRE(it != c.where_.end(), format_error, index_path, ": tensor '",
                     detail::printable(name), "' is listed in \"weight_map\" but missing from ",
                     detail::printable(file));
      const std::string& held_in = idx.shards[it->second];
      BITLIN_REQUIRE(held_in == file, format_error, index_path, ": tensor '",
                     detail::printable(name), "' is listed in ", detail::printable(file),
                     " but stored in ", detail::printable(held_in));
    }
    return c;
  }

  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const std::vector<std::string>& names() const { return order_; }
  std::size_t file_count() const { return files_.size(); }
  const safetensors_file& file(const std::string& name) const {
    const auto it = where_.find(name);
    BITLIN_REQUIRE(it != where_.end(), format_error, "checkpoint: missing tensor '", name, "'");
    return *files_[it->second];
  }
  const tensor_info& info(const std::string& name) const { return file(name).info(name); }

 private:
  void add(safetensors_file f) {
    files_.push_back(std::make_unique<safetensors_file>(std::move(f)));
    const std::size_t idx = files_.size() - 1;
    for (const auto& name : files_.back()->names()) {
      const auto [it, inserted] = where_.emplace(name, idx);
      BITLIN_REQUIRE(inserted, format_error, "checkpoint: tensor '", name, "' is in both ",
                     files_[it->second]->path(), " and ", files_.back()->path());
      order_.push_back(name);
    }
  }

  std::vector<std::unique_ptr<safetensors_file>> files_;
  std::map<std::string, std::size_t> where_;
  std::vector<std::string> order_;
};

}  // namespace bitlin::io
