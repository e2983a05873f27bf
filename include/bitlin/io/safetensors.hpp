// safetensors reading and writing: the checkpoint format of every BitNet model bitlin loads and of
// the golden fixtures its tests check against. The format is an 8-byte little-endian header length
// N, N bytes of JSON describing each tensor (dtype, shape, byte range relative to the data section)
// plus optional string metadata, then the raw little-endian data.
//
// A checkpoint is untrusted input, so the reader validates the whole header against the file
// before handing out a single pointer: lengths, offsets, sizes, overlaps and dtypes are checked,
// and every violation is a bitlin::format_error naming the file, the tensor and the problem. After
// open() succeeds, any access within a tensor's reported extent is in bounds.
//
// Files are memory-mapped read-only on POSIX (read into memory with load_mode::read, elsewhere, or
// if mapping fails), so opening a multi-gigabyte checkpoint costs nothing until tensors are read.
// Tensor data need not be aligned in the file, so typed access copies out with memcpy. Big-endian
// hosts are not supported.
#pragma once

#include <bitlin/core/error.hpp>
#include <bitlin/core/types.hpp>
#include <bitlin/io/atomic_file.hpp>
#include <bitlin/core/half.hpp>
#include <bitlin/io/json_text.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#define BITLIN_IO_HAVE_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace bitlin::io {

enum class dtype { f32, f16, bf16, i8, u8, i32, i64 };

// How open() gets at the bytes. map: lazily, sharing the page cache (the default; a file truncated
// by another process while mapped raises SIGBUS on access). read: copied into memory up front,
// immune to later changes of the file. Where mmap is unavailable or fails, map behaves as read.
enum class load_mode { map, read };

inline std::size_t dtype_size(dtype t) {
  switch (t) {
    case dtype::f32:
      return 4;
    case dtype::f16:
      return 2;
    case dtype::bf16:
      return 2;
    case dtype::i8:
      return 1;
    case dtype::u8:
      return 1;
    case dtype::i32:
      return 4;
    case dtype::i64:
      return 8;
  }
  throw value_error(
      ::bitlin::detail::concat("invalid bitlin::io::dtype value ", static_cast<int>(t)));
}

// The spelling safetensors uses in its header.
inline const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32:
      return "F32";
    case dtype::f16:
      return "F16";
    case dtype::bf16:
      return "BF16";
    case dtype::i8:
      return "I8";
    case dtype::u8:
      return "U8";
    case dtype::i32:
      return "I32";
    case dtype::i64:
      return "I64";
  }
  throw value_error(
      ::bitlin::detail::concat("invalid bitlin::io::dtype value ", static_cast<int>(t)));
}

inline dtype parse_dtype(const std::string& s) {
  for (dtype t :
       {dtype::f32, dtype::f16, dtype::bf16, dtype::i8, dtype::u8, dtype::i32, dtype::i64})
    if (s == dtype_name(t)) return t;
  throw format_error(::bitlin::detail::concat("unsupported safetensors dtype '", s,
                                              "' (supported: F32, F16, BF16, I8, U8, I32, I64)"));
}

// The dtype a C++ element type is stored as; only these types have typed access.
template <class T>
struct dtype_of;
template <>
struct dtype_of<float> : std::integral_constant<dtype, dtype::f32> {};
template <>
struct dtype_of<std::int8_t> : std::integral_constant<dtype, dtype::i8> {};
template <>
struct dtype_of<std::uint8_t> : std::integral_constant<dtype, dtype::u8> {};
template <>
struct dtype_of<std::int32_t> : std::integral_constant<dtype, dtype::i32> {};
template <>
struct dtype_of<std::int64_t> : std::integral_constant<dtype, dtype::i64> {};

struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;   // empty: a scalar (one element)
  std::uint64_t begin = 0, end = 0;  // byte range relative to the data section

  // Validated when the header is read: never negative, never overflows.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
  std::uint64_t nbytes() const { return end - begin; }
};

namespace detail {

inline void require_little_endian() {
  const std::uint32_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  BITLIN_REQUIRE(first == 1, error, "bitlin::io: big-endian hosts are not supported");
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Element count of a shape, or an empty string on success / the reason it is not one.
inline std::string checked_numel(const std::vector<std::int64_t>& shape, std::uint64_t& numel) {
  numel = 1;
  for (std::int64_t d : shape)
    if (d < 0)
      return "negative dimension " + std::to_string(d) + " in shape " + shape_string(shape);
  if (std::find(shape.begin(), shape.end(), std::int64_t{0}) != shape.end()) {
    numel = 0;
    return {};
  }
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (std::int64_t d : shape) {
    const auto ud = static_cast<std::uint64_t>(d);
    if (numel > limit / ud) return "element count of shape " + shape_string(shape) + " overflows";
    numel *= ud;
  }
  if (numel > std::numeric_limits<std::size_t>::max())
    return "element count of shape " + shape_string(shape) + " does not fit in size_t";
  return {};
}

// The bytes of a file: a read-only private mapping when possible, otherwise an owned buffer.
class file_bytes {
 public:
  file_bytes() = default;
  explicit file_bytes(std::vector<std::uint8_t> v) : vec_(std::move(v)) {}
  file_bytes(const file_bytes&) = delete;
  file_bytes& operator=(const file_bytes&) = delete;
  file_bytes(file_bytes&& o) noexcept
      : vec_(std::move(o.vec_)),
        map_(std::exchange(o.map_, nullptr)),
        map_size_(std::exchange(o.map_size_, 0)) {}
  file_bytes& operator=(file_bytes&& o) noexcept {
    if (this != &o) {
      release();
      vec_ = std::move(o.vec_);
      map_ = std::exchange(o.map_, nullptr);
      map_size_ = std::exchange(o.map_size_, 0);
    }
    return *this;
  }
  ~file_bytes() { release(); }

  const std::uint8_t* data() const { return map_ ? map_ : vec_.data(); }
  std::size_t size() const { return map_ ? map_size_ : vec_.size(); }

  // About to copy [offset, offset + len): ask the kernel to map it ahead rather than fault it in
  // page by page (copying 256 MB from a fresh mapping: 36 -> 25 ms on the project's VM).
  void will_need(std::size_t offset, std::size_t len) const noexcept {
#ifdef BITLIN_IO_HAVE_MMAP
    if (!map_ || len < (std::size_t{1} << 16)) return;
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const std::size_t start = offset - offset % static_cast<std::size_t>(page);
    (void)::posix_madvise(const_cast<std::uint8_t*>(map_) + start, offset + len - start,
                          POSIX_MADV_WILLNEED);
#else
    (void)offset;
    (void)len;
#endif
  }

  static file_bytes load(const std::string& path, load_mode mode,
                         const char* kind = "safetensors") {
#ifdef BITLIN_IO_HAVE_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw error(::bitlin::detail::concat("cannot open ", kind, " file '", path,
                                           "': ", std::strerror(errno)));
    struct fd_closer {
      int fd;
      ~fd_closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      throw error(::bitlin::detail::concat("cannot stat ", kind, " file '", path,
                                           "': ", std::strerror(errno)));
    if (!S_ISREG(st.st_mode))
      throw error(::bitlin::detail::concat(kind, " file '", path, "' is not a regular file"));
    if (static_cast<std::uint64_t>(st.st_size) > std::numeric_limits<std::size_t>::max())
      throw error(::bitlin::detail::concat(kind, " file '", path, "' is too large to address"));
    const auto size = static_cast<std::size_t>(st.st_size);
    file_bytes out;
    if (size == 0) return out;
    void* p =
        mode == load_mode::map ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (p != MAP_FAILED) {
      out.map_ = static_cast<const std::uint8_t*>(p);
      out.map_size_ = size;
      return out;
    }
    // Mapping can fail on special file systems; reading is slower but equivalent.
    out.vec_.resize(size);
    std::size_t got = 0;
    while (got < size) {
      const ::ssize_t r = ::read(fd, out.vec_.data() + got, size - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0)
        throw error(::bitlin::detail::concat("cannot read ", kind, " file '", path,
                                             "': ", std::strerror(errno)));
      if (r == 0) break;  // shrank while we read: the header check reports it as truncated
      got += static_cast<std::size_t>(r);
    }
    out.vec_.resize(got);
    return out;
#else
    (void)mode;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw error(::bitlin::detail::concat("cannot open ", kind, " file '", path, "'"));
    const std::streamoff size = in.tellg();
    if (size < 0)
      throw error(
          ::bitlin::detail::concat("cannot determine the size of ", kind, " file '", path, "'"));
    std::vector<std::uint8_t> v(static_cast<std::size_t>(size));
    in.seekg(0);
    if (!v.empty() && !in.read(reinterpret_cast<char*>(v.data()), size))
      throw error(::bitlin::detail::concat("cannot read ", kind, " file '", path, "'"));
    return file_bytes(std::move(v));
#endif
  }

 private:
  void release() noexcept {
#ifdef BITLIN_IO_HAVE_MMAP
    if (map_) ::munmap(const_cast<std::uint8_t*>(map_), map_size_);
#endif
    map_ = nullptr;
    map_size_ = 0;
  }

  std::vector<std::uint8_t> vec_;
  const std::uint8_t* map_ = nullptr;
  std::size_t map_size_ = 0;
};

}  // namespace detail

class safetensors_file {
 public:
  // A header larger than this is taken as a corrupt length field rather than allocated and parsed.
  static constexpr std::uint64_t max_header_bytes = std::uint64_t{100} << 20;
  // More tensors in one file, or more dimensions in one shape, are refused while the header is
  // parsed (before the parser has built them). The largest public checkpoints hold a few thousand
  // tensors per file and PyTorch allows 64 dimensions. With these caps, open() allocates the file
  // size (load_mode::read; nothing with map) plus at most ~24 bytes per header byte while parsing.
  static constexpr std::size_t max_tensors = std::size_t{1} << 18;
  static constexpr std::size_t max_rank = 64;

  static safetensors_file open(const std::string& path, load_mode mode = load_mode::map) {
    detail::require_little_endian();
    return safetensors_file(detail::file_bytes::load(path, mode), path);
  }
  static safetensors_file from_bytes(std::vector<std::uint8_t> bytes,
                                     std::string name = "<memory>") {
    detail::require_little_endian();
    return safetensors_file(detail::file_bytes(std::move(bytes)), std::move(name));
  }

  safetensors_file(safetensors_file&&) = default;
  safetensors_file& operator=(safetensors_file&&) = default;
  safetensors_file(const safetensors_file&) = delete;
  safetensors_file& operator=(const safetensors_file&) = delete;

  const std::string& path() const { return path_; }
  std::size_t file_size() const { return bytes_.size(); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }

  const tensor_info& info(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end())
      throw format_error(::bitlin::detail::concat("tensor '", name, "' not found in ", path_));
    return it->second;
  }

  // Tensor names in the order their data appears in the file.
  std::vector<std::string> names() const { return order_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor's bytes, unaligned and little-endian, valid while this object lives.
  const std::uint8_t* raw(const std::string& name) const { return data_of(info(name)); }

  template <class T>
  std::vector<T> read(const std::string& name) const {
    const tensor_info& ti = info(name);
    require_dtype(ti, dtype_of<T>::value);
    std::vector<T> out(static_cast<std::size_t>(ti.numel()));
    if (!out.empty()) std::memcpy(out.data(), fetch(ti), out.size() * sizeof(T));
    return out;
  }

  // Into a caller's buffer of exactly numel() elements (e.g. a model's preallocated weights).
  template <class T>
  void read(const std::string& name, T* dst, std::size_t count) const {
    const tensor_info& ti = info(name);
    require_dtype(ti, dtype_of<T>::value);
    require_count(ti, count);
    if (count) std::memcpy(dst, fetch(ti), count * sizeof(T));
  }

  // F32, F16 and BF16 tensors as float (the 16-bit ones widened exactly).
  std::vector<float> read_f32(const std::string& name) const {
    const tensor_info& ti = info(name);
    std::vector<float> out(static_cast<std::size_t>(ti.numel()));
    copy_f32(ti, out.data());
    return out;
  }

  void read_f32(const std::string& name, float* dst, std::size_t count) const {
    const tensor_info& ti = info(name);
    require_count(ti, count);
    copy_f32(ti, dst);
  }

  // A 2-D tensor as a row-major matrix; a 1-D tensor of n elements as 1 x n.
  matrix_f read_matrix_f32(const std::string& name) const {
    const tensor_info& ti = info(name);
    const auto [rows, cols] = matrix_dims(ti);
    matrix_f m(rows, cols);
    copy_f32(ti, m.data());
    return m;
  }

  template <class T>
  row_matrix<T> read_matrix(const std::string& name) const {
    const tensor_info& ti = info(name);
    require_dtype(ti, dtype_of<T>::value);
    const auto [rows, cols] = matrix_dims(ti);
    row_matrix<T> m(rows, cols);
    if (m.size() != 0) std::memcpy(m.data(), fetch(ti), static_cast<std::size_t>(ti.nbytes()));
    return m;
  }

 private:
  safetensors_file(detail::file_bytes bytes, std::string path)
      : path_(std::move(path)), bytes_(std::move(bytes)) {
    parse();
  }

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    throw format_error(
        ::bitlin::detail::concat("safetensors file ", path_, ": ", std::forward<Parts>(parts)...));
  }

  const std::uint8_t* data_of(const tensor_info& ti) const {
    return bytes_.data() + data_start_ + static_cast<std::size_t>(ti.begin);
  }

  const std::uint8_t* fetch(const tensor_info& ti) const {
    bytes_.will_need(data_start_ + static_cast<std::size_t>(ti.begin),
                     static_cast<std::size_t>(ti.nbytes()));
    return data_of(ti);
  }

  void require_count(const tensor_info& ti, std::size_t count) const {
    if (count != static_cast<std::size_t>(ti.numel()))
      throw shape_error(::bitlin::detail::concat("tensor '", ti.name, "' in ", path_, " has ",
                                                 ti.numel(), " elements, but the buffer holds ",
                                                 count));
  }

  void require_dtype(const tensor_info& ti, dtype want) const {
    if (ti.type != want)
      throw format_error(::bitlin::detail::concat("tensor '", ti.name, "' in ", path_,
                                                  " has dtype ", dtype_name(ti.type), ", expected ",
                                                  dtype_name(want)));
  }

  void copy_f32(const tensor_info& ti, float* dst) const {
    const auto n = static_cast<std::size_t>(ti.numel());
    const bool half = ti.type == dtype::f16, brain = ti.type == dtype::bf16;
    if (ti.type != dtype::f32 && !half && !brain)
      throw format_error(::bitlin::detail::concat("tensor '", ti.name, "' in ", path_,
                                                  " has dtype ", dtype_name(ti.type),
                                                  ", expected a float dtype (F32, F16 or BF16)"));
    const std::uint8_t* src = fetch(ti);
    if (!half && !brain) {
      if (n) std::memcpy(dst, src, n * sizeof(float));
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = half ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }

  std::pair<index_t, index_t> matrix_dims(const tensor_info& ti) const {
    constexpr auto max_index = static_cast<std::uint64_t>(std::numeric_limits<index_t>::max());
    for (std::int64_t d : ti.shape)
      if (static_cast<std::uint64_t>(d) > max_index)
        throw format_error(::bitlin::detail::concat("tensor '", ti.name, "' in ", path_,
                                                    " is too large for a matrix"));
    if (ti.shape.size() == 2)
      return {static_cast<index_t>(ti.shape[0]), static_cast<index_t>(ti.shape[1])};
    if (ti.shape.size() == 1) return {1, static_cast<index_t>(ti.shape[0])};
    throw format_error(::bitlin::detail::concat("tensor '", ti.name, "' in ", path_, " has shape ",
                                                detail::shape_string(ti.shape),
                                                ", expected a 1-D or 2-D tensor for a matrix"));
  }

  // A JSON value for an error message: bounded in length, and never a recursive dump of nested
  // structures (a hostile header can nest deeply enough to exhaust the stack).
  static std::string describe(const nlohmann::json& v) {
    bool flat = v.is_primitive();
    if (v.is_array()) {
      flat = v.size() <= 8;
      for (const auto& x : v) flat = flat && x.is_primitive();
    }
    if (!flat) return v.type_name();
    std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (s.size() > 64) s = s.substr(0, 61) + "...";
    return s;
  }

  // A non-negative JSON integer, or false.
  static bool get_u64(const nlohmann::json& v, std::uint64_t& out) {
    if (v.is_number_unsigned()) {
      out = v.get<std::uint64_t>();
      return true;
    }
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
      out = static_cast<std::uint64_t>(v.get<std::int64_t>());
      return true;
    }
    return false;
  }

  void parse() {
    const std::uint8_t* p = bytes_.data();
    const std::size_t size = bytes_.size();
    if (size < 8)
      fail("file is ", size, " bytes, too short for the 8-byte header length (truncated?)");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
    if (n > max_header_bytes)
      fail("header length ", n, " is absurd (over ", max_header_bytes,
           " bytes); corrupt or not a safetensors file");
    if (n > size - 8)
      fail("header length ", n, " exceeds the ", size - 8,
           " bytes that follow the length field (truncated file?)");
    data_start_ = 8 + static_cast<std::size_t>(n);
    const std::uint64_t data_size = size - data_start_;

    // A valid header nests three levels (header, entry, shape); the builder stops deeper nesting,
    // too many tensors and too long shapes before it allocates them. A repeated tensor name means
    // two writers disagreed, so it is an error rather than last-one-wins.
    std::set<std::string> seen;
    ::bitlin::io::detail::bounded_json_builder builder(
        ::bitlin::detail::concat("safetensors file ", path_, ": header"), 3);
    builder.on_key = [&](int depth, const std::string& key) {
      if (depth != 1) return;
      if (!seen.insert(key).second) fail("tensor name '", key, "' appears twice in the header");
      if (seen.size() > max_tensors + (seen.count("__metadata__") ? 1 : 0))
        fail("header describes more than ", max_tensors, " tensors");
    };
    builder.on_element = [&](int depth, std::size_t count) {
      if (depth == 3 && count > max_rank)
        fail("header has an array of more than ", max_rank, " elements in a tensor entry (at most ",
             max_rank, " dimensions are supported)");
    };
    const auto* text = reinterpret_cast<const char*>(p + 8);
    nlohmann::json::sax_parse(text, text + n, &builder);
    nlohmann::json header = builder.take();
    if (!header.is_object()) fail("header is not a JSON object");

    std::vector<const tensor_info*> by_offset;
    for (const auto& item : header.items()) {
      if (item.key() == "__metadata__") {
        parse_metadata(item.value());
        continue;
      }
      tensor_info ti = parse_entry(item.key(), item.value(), data_size);
      const std::string name = ti.name;
      by_offset.push_back(&tensors_.emplace(name, std::move(ti)).first->second);
    }

    std::sort(by_offset.begin(), by_offset.end(), [](const tensor_info* a, const tensor_info* b) {
      return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
    });
    const tensor_info* reach = nullptr;  // the non-empty tensor extending furthest so far
    for (const tensor_info* t : by_offset) {
      order_.push_back(t->name);
      if (t->begin == t->end) continue;  // an empty range overlaps nothing
      if (reach && t->begin < reach->end)
        fail("byte ranges of tensors '", reach->name, "' [", reach->begin, ", ", reach->end,
             ") and '", t->name, "' [", t->begin, ", ", t->end, ") overlap");
      if (!reach || t->end > reach->end) reach = t;
    }
  }

  void parse_metadata(const nlohmann::json& md) {
    if (!md.is_object()) fail("__metadata__ is not a JSON object");
    for (const auto& kv : md.items()) {
      if (!kv.value().is_string())
        fail("__metadata__ value for key '", kv.key(), "' is not a string");
      metadata_[kv.key()] = kv.value().get<std::string>();
    }
  }

  tensor_info parse_entry(const std::string& name, const nlohmann::json& e,
                          std::uint64_t data_size) const {
    if (!e.is_object()) fail("entry for tensor '", name, "' is not a JSON object");
    tensor_info ti;
    ti.name = name;

    const auto dt = e.find("dtype");
    if (dt == e.end() || !dt->is_string())
      fail("tensor '", name, "' has a missing or non-string \"dtype\"");
    try {
      ti.type = parse_dtype(dt->get<std::string>());
    } catch (const format_error& err) {
      fail("tensor '", name, "': ", err.what());
    }

    const auto sh = e.find("shape");
    if (sh == e.end() || !sh->is_array())
      fail("tensor '", name, "' has a missing or non-array \"shape\"");
    for (const auto& d : *sh) {
      if (d.is_number_integer() && !d.is_number_unsigned() && d.get<std::int64_t>() < 0)
        fail("tensor '", name, "' has negative dimension ", d.get<std::int64_t>(), " in its shape");
      std::uint64_t ud = 0;
      if (!get_u64(d, ud)) fail("tensor '", name, "' has a non-integer dimension ", describe(d));
      if (ud > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail("tensor '", name, "' has dimension ", ud, ", which overflows int64");
      ti.shape.push_back(static_cast<std::int64_t>(ud));
    }
    std::uint64_t numel = 0;
    if (std::string why = detail::checked_numel(ti.shape, numel); !why.empty())
      fail("tensor '", name, "': ", why);
    const std::uint64_t elem = dtype_size(ti.type);
    if (numel > std::numeric_limits<std::uint64_t>::max() / elem)
      fail("tensor '", name, "': byte size of shape ", detail::shape_string(ti.shape),
           " overflows");
    const std::uint64_t nbytes = numel * elem;

    const auto off = e.find("data_offsets");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !get_u64((*off)[0], ti.begin) ||
        !get_u64((*off)[1], ti.end))
      fail("tensor '", name, "' needs \"data_offsets\" as two non-negative integers, got ",
           off == e.end() ? std::string("nothing") : describe(*off));
    if (ti.begin > ti.end)
      fail("tensor '", name, "' has data_offsets [", ti.begin, ", ", ti.end, "] with begin > end");
    if (ti.end > data_size)
      fail("tensor '", name, "' has data_offsets [", ti.begin, ", ", ti.end,
           "] beyond the end of the ", data_size, "-byte data section (truncated file?)");
    if (ti.end - ti.begin != nbytes)
      fail("tensor '", name, "' has data_offsets spanning ", ti.end - ti.begin,
           " bytes, but size of ", dtype_name(ti.type), " ", detail::shape_string(ti.shape), " is ",
           nbytes, " bytes");
    return ti;
  }

  std::string path_;
  detail::file_bytes bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, tensor_info> tensors_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

class safetensors_writer {
 public:
  // Copies the data. bytes must equal dtype_size(type) times the shape's element count (1 for a
  // scalar shape {}).
  void add(const std::string& name, dtype type, std::vector<std::int64_t> shape, const void* data,
           std::size_t bytes) {
    BITLIN_REQUIRE(name != "__metadata__", value_error,
                   "safetensors_writer: '__metadata__' is reserved and cannot name a tensor");
    BITLIN_REQUIRE(names_.count(name) == 0, value_error, "safetensors_writer: tensor '", name,
                   "' added twice");
    std::uint64_t numel = 0;
    if (std::string why = detail::checked_numel(shape, numel); !why.empty())
      throw shape_error(::bitlin::detail::concat("safetensors_writer: tensor '", name, "': ", why));
    const std::size_t elem = dtype_size(type);
    BITLIN_REQUIRE(numel <= std::numeric_limits<std::size_t>::max() / elem, shape_error,
                   "safetensors_writer: tensor '", name, "' is too large");
    const std::size_t want = static_cast<std::size_t>(numel) * elem;
    BITLIN_REQUIRE(bytes == want, shape_error, "safetensors_writer: tensor '", name, "' has ",
                   bytes, " bytes, but ", dtype_name(type), " ", detail::shape_string(shape),
                   " needs ", want);
    BITLIN_REQUIRE(data != nullptr || bytes == 0, value_error, "safetensors_writer: tensor '", name,
                   "' has null data");
    entry en{name, type, std::move(shape), {}};
    if (bytes) {
      const auto* b = static_cast<const std::uint8_t*>(data);
      en.bytes.assign(b, b + bytes);
    }
    entries_.push_back(std::move(en));
    names_.insert(name);
  }

  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
    std::uint64_t numel = 0;
    if (std::string why = detail::checked_numel(shape, numel); !why.empty())
      throw shape_error(::bitlin::detail::concat("safetensors_writer: tensor '", name, "': ", why));
    BITLIN_REQUIRE(numel <= std::numeric_limits<std::size_t>::max() / sizeof(float), shape_error,
                   "safetensors_writer: tensor '", name, "' is too large");
    add(name, dtype::f32, std::move(shape), data, static_cast<std::size_t>(numel) * sizeof(float));
  }

  // A row-major matrix as a 2-D tensor [rows, cols]; the dtype follows T.
  template <class T>
  void add_matrix(const std::string& name, const Eigen::Ref<const row_matrix<T>>& m) {
    const auto rows = static_cast<std::size_t>(m.rows()), cols = static_cast<std::size_t>(m.cols());
    std::vector<std::uint8_t> buf(rows * cols * sizeof(T));
    for (std::size_t r = 0; r < rows && cols; ++r)  // rows of a Ref may be strided
      std::memcpy(buf.data() + r * cols * sizeof(T),
                  m.data() + static_cast<index_t>(r) * m.outerStride(), cols * sizeof(T));
    add(name, dtype_of<T>::value,
        {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}, buf.data(), buf.size());
  }

  void set_metadata(std::map<std::string, std::string> md) { metadata_ = std::move(md); }

  std::vector<std::uint8_t> to_bytes() const {
    const std::string head = header();
    std::size_t total = head.size();
    for (const entry& en : entries_) total += en.bytes.size();
    std::vector<std::uint8_t> out;
    out.reserve(total);
    out.insert(out.end(), head.begin(), head.end());
    for (const entry& en : entries_) out.insert(out.end(), en.bytes.begin(), en.bytes.end());
    return out;
  }

  // The file's bytes into `out`, which the caller commits (with other files, e.g. a converter's).
  void write_to(atomic_file& out) const {
    out.write(header());
    for (const entry& en : entries_)
      if (!en.bytes.empty()) out.write(en.bytes.data(), en.bytes.size());
  }

  // Writes the file all or nothing (see io/atomic_file.hpp): an error leaves `path` as it was.
  void write(const std::string& path) const {
    atomic_file out(path);
    write_to(out);
    out.commit();
  }

 private:
  struct entry {
    std::string name;
    dtype type;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;
  };

  // Length field plus JSON, padded with spaces so that the data section starts 8-byte aligned.
  std::string header() const {
    detail::require_little_endian();
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!metadata_.empty()) j["__metadata__"] = metadata_;
    std::uint64_t offset = 0;
    for (const entry& en : entries_) {
      const std::uint64_t next = offset + en.bytes.size();
      j[en.name] = {
          {"dtype", dtype_name(en.type)}, {"shape", en.shape}, {"data_offsets", {offset, next}}};
      offset = next;
    }
    std::string text;
    try {
      text = j.dump();
    } catch (const nlohmann::json::exception& e) {
      throw value_error(
          ::bitlin::detail::concat("safetensors_writer: cannot encode header: ", e.what()));
    }
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');
    std::string out(8, '\0');
    const auto n = static_cast<std::uint64_t>(text.size());
    for (int i = 0; i < 8; ++i)
      out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + text;
  }

  std::vector<entry> entries_;
  std::set<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace bitlin::io
