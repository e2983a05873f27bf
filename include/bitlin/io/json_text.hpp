// Small JSON documents that come with a checkpoint (config.json, model.safetensors.index.json) are
// untrusted input like the weights. They are read with a size cap, so a huge or endless file (a
// FIFO, /dev/zero behind a symlink) cannot make the reader allocate without bound, and parsed with
// a nesting cap, because nlohmann::json copies, compares and prints values recursively: a document
// nested a million levels deep would exhaust the stack the first time it is copied. Parsing is
// linear in the text (see bounded_json_builder for why nlohmann's callback parser is not).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"

namespace bitlin::io {

// Nesting deeper than this is refused; real configs nest three or four levels.
inline constexpr int max_json_depth = 64;

// The whole file as text; format_error when it cannot be opened or is longer than max_bytes.
inline std::string read_text_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  BITLIN_REQUIRE(in.good(), format_error, "cannot open ", path, ": ", std::strerror(errno));
  std::string text;
  char buf[1 << 14];
  while (in) {
    in.read(buf, sizeof buf);
    const auto got = static_cast<std::size_t>(in.gcount());
    BITLIN_REQUIRE(text.size() + got <= max_bytes, format_error, path, ": larger than ", max_bytes,
                   " bytes; not a file of this kind");
    text.append(buf, got);
  }
  BITLIN_REQUIRE(in.eof(), format_error, "cannot read ", path);
  return text;
}

namespace detail {

// Builds a nlohmann::json document from SAX events with an explicit stack. nlohmann's own
// callback parser (the only way to stop deep nesting early with its DOM parser) rescans all
// earlier members of an object each time a member object ends, which is quadratic: a 3 MB
// safetensors header of 260k tensors took minutes. This builder is linear, stops at max_depth
// before allocating deeper, refuses duplicate keys (which the DOM parser would silently collapse
// to the last), and lets the caller bound what it accepts as it arrives:
//   on_key(depth, key)            each object key; depth 1 = keys of the root object
//   on_element(depth, count)      each value inside an array at `depth` (count so far, from 1)
// Hooks throw to refuse. Containers have depth 1 (root), 2, ...; scalars count no depth.
class bounded_json_builder {
 public:
  using json = nlohmann::json;
  std::function<void(int, const std::string&)> on_key;
  std::function<void(int, std::size_t)> on_element;

  bounded_json_builder(std::string what, int max_depth)
      : what_(std::move(what)), max_depth_(max_depth) {}

  json take() { return std::move(root_); }

  bool null() { return add(json(nullptr)); }
  bool boolean(bool v) { return add(json(v)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return add(json(v)); }
  bool string(json::string_t& v) { return add(json(std::move(v))); }
  bool binary(json::binary_t& v) { return add(json(json::binary_t(std::move(v)))); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    const int depth = static_cast<int>(stack_.size());
    if (on_key) on_key(depth, k);
    if (stack_.back().value->contains(k))
      throw format_error(::bitlin::detail::concat(what_, ": key \"", k.substr(0, 100),
                                                  "\" appears twice in one object"));
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    std::string why = e.what();  // quotes the offending token, which may be huge
    if (why.size() > 200) why = why.substr(0, 197) + "...";
    throw format_error(::bitlin::detail::concat(what_, ": not valid JSON: ", why));
  }

 private:
  struct level {
    json* value;
    std::size_t elements = 0;
  };

  // Places v in the innermost container (or as the root); returns where it now lives.
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    level& top = stack_.back();
    if (top.value->is_array()) {
      ++top.elements;
      if (on_element) on_element(static_cast<int>(stack_.size()), top.elements);
      top.value->push_back(std::move(v));
      return &top.value->back();
    }
    json& slot = (*top.value)[key_];
    slot = std::move(v);
    return &slot;
  }
  bool add(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json&& v) {
    if (static_cast<int>(stack_.size()) >= max_depth_)
      throw format_error(
          ::bitlin::detail::concat(what_, ": JSON nests deeper than ", max_depth_, " levels"));
    // Pointers on the stack stay valid: a container only grows while it is the innermost one.
    stack_.push_back({place(std::move(v))});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::string what_;
  int max_depth_;
  json root_;
  std::vector<level> stack_;
  std::string key_;
};

}  // namespace detail

// `text` parsed as JSON; `what` names the document in errors. Linear in the text, nesting capped
// at max_depth, duplicate keys refused; parse errors quote at most a short excerpt, because
// nlohmann's message repeats the offending token, which may be megabytes long.
inline nlohmann::json parse_json_bounded(std::string_view text, const std::string& what,
                                         int max_depth = max_json_depth) {
  detail::bounded_json_builder b(what, max_depth);
  nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &b);
  return b.take();
}

inline nlohmann::json read_json_file(const std::string& path, std::size_t max_bytes) {
  return parse_json_bounded(read_text_file(path, max_bytes), path);
}

}  // namespace bitlin::io
