// GGUF v3 reading and writing: the file format of llama.cpp and bitnet.cpp, in which most ternary
// models people already have are distributed (llama.cpp's TQ1_0 / TQ2_0, bitnet.cpp's I2_S). A
// file is a little-endian header (magic "GGUF", version, tensor and key counts), typed key/value
// metadata (scalars, strings, arrays, arrays of arrays), one info record per tensor (name, dims
// with ne[0] the fastest-varying, type, offset), padding to `general.alignment` (default 32) and
// the tensor data.
//
// A GGUF file is untrusted input, validated like safetensors_file before any pointer is handed
// out: every count, length and offset is checked against the bytes that remain, dims whose product
// overflows, unknown types, misaligned, overlapping or out-of-range tensor data and truncation are
// a format_error naming the file, the field and the offset. Caps on what a header can make the
// reader allocate (beyond what it checks against the file size):
//   - numeric and bool arrays are kept as their raw bytes (at most the file's size);
//   - a string costs at least 8 bytes of file and one std::string (<= 4x the file's size);
//   - arrays of arrays nest at most max_array_depth deep, with at most max_nested_arrays of them
//     in the whole header (each an object of ~150 bytes: a 10 MB bound);
//   - keys and tensor names are at most max_name_bytes long, tensors have at most 4 dims.
// Files are memory-mapped (or read) exactly as safetensors files are (detail::file_bytes).
//
// Ternary tensor types and how they map to bitlin's int8 trits + scale (value = trit * scale,
// i.e. the multiplying convention):
//   - TQ2_0 (34 + 1 = id 35): per 256 weights of a row, qs[64] then an f16 d. Byte 32*h + m of qs
//     holds elements 128*h + 32*n + m (n = 0..3) in bits 2n..2n+1 as trit + 1; code 3 is invalid.
//   - TQ1_0 (id 34): per 256 weights, qs[48], qh[4], f16 d. qs[0..31] hold elements m + 32*n
//     (n = 0..4), qs[32..47] elements 160 + m + 16*n, qh[j] elements 240 + j + 4*n (n = 0..3), each
//     byte the base-3 number of its digits (first element most significant; qh's shifted up one
//     digit) scaled to 0..255 as ceil(q * 256 / 243); digit n of byte b is ((b * 3^n mod 256) * 3)
//     >> 8. Every byte decodes (as llama.cpp decodes it); 13 byte values are not canonical
//     encodings and re-encode differently.
//   - I2_S (bitnet.cpp, id 36, its x86 layout with 128-weight blocks): the tensor as one flat
//     row-major sequence; byte 32*b + j holds elements 128*b + j + 32*g (g = 0..3) in bits
//     7-6, 5-4, 3-2, 1-0 as trit + 1 (code 3 invalid); after numel/4 bytes one fp32 scale for the
//     whole tensor, then padding: numel/4 + 32 bytes in all.
// Both TQ types need rows whose length is a multiple of 256 (ggml's block size); their f16 d holds
// the checkpoint's fp32 scale rounded to nearest even binary16 (relative error <= 2^-11; a scale
// outside binary16's normal range is refused rather than flushed). That rounding is the only
// loss: the trits round-trip exactly. I2_S keeps the fp32 scale exactly. Blocks whose trits are
// all zero carry no scale information (llama.cpp writes d = 0 for them) and are ignored when the
// per-tensor scale is recovered.
#pragma once

#include <bitlin/core/error.hpp>
#include <bitlin/core/types.hpp>
#include <bitlin/core/half.hpp>
#include <bitlin/io/safetensors.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bitlin::io {

// Metadata value types (gguf_type in ggml's gguf.h).
enum class gguf_type : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

inline const char* gguf_type_name(gguf_type t) {
  switch (t) {
    case gguf_type::u8:
      return "UINT8";
    case gguf_type::i8:
      return "INT8";
    case gguf_type::u16:
      return "UINT16";
    case gguf_type::i16:
      return "INT16";
    case gguf_type::u32:
      return "UINT32";
    case gguf_type::i32:
      return "INT32";
    case gguf_type::f32:
      return "FLOAT32";
    case gguf_type::boolean:
      return "BOOL";
    case gguf_type::string:
      return "STRING";
    case gguf_type::array:
      return "ARRAY";
    case gguf_type::u64:
      return "UINT64";
    case gguf_type::i64:
      return "INT64";
    case gguf_type::f64:
      return "FLOAT64";
  }
  return "?";
}

// Bytes of one scalar of a fixed-size type; 0 for string and array.
inline std::size_t gguf_scalar_size(gguf_type t) {
  switch (t) {
    case gguf_type::u8:
    case gguf_type::i8:
    case gguf_type::boolean:
      return 1;
    case gguf_type::u16:
    case gguf_type::i16:
      return 2;
    case gguf_type::u32:
    case gguf_type::i32:
    case gguf_type::f32:
      return 4;
    case gguf_type::u64:
    case gguf_type::i64:
    case gguf_type::f64:
      return 8;
    case gguf_type::string:
    case gguf_type::array:
      return 0;
  }
  return 0;
}

// Tensor types (ggml_type). Only those whose size bitlin knows are accepted; the ones it converts
// are F32, F16, BF16, TQ1_0, TQ2_0 and I2_S.
enum class ggml_type : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  i2_s = 36,
};

struct ggml_type_traits {
  const char* name;
  std::uint64_t block;  // elements per block along ne[0]
  std::uint64_t bytes;  // bytes per block
};

// The traits of a type id, or false for one bitlin does not know.
inline bool ggml_traits(std::uint32_t id, ggml_type_traits& out) {
  switch (static_cast<ggml_type>(id)) {
    case ggml_type::f32:
      out = {"F32", 1, 4};
      return true;
    case ggml_type::f16:
      out = {"F16", 1, 2};
      return true;
    case ggml_type::q4_0:
      out = {"Q4_0", 32, 18};
      return true;
    case ggml_type::q4_1:
      out = {"Q4_1", 32, 20};
      return true;
    case ggml_type::q5_0:
      out = {"Q5_0", 32, 22};
      return true;
    case ggml_type::q5_1:
      out = {"Q5_1", 32, 24};
      return true;
    case ggml_type::q8_0:
      out = {"Q8_0", 32, 34};
      return true;
    case ggml_type::i8:
      out = {"I8", 1, 1};
      return true;
    case ggml_type::i16:
      out = {"I16", 1, 2};
      return true;
    case ggml_type::i32:
      out = {"I32", 1, 4};
      return true;
    case ggml_type::i64:
      out = {"I64", 1, 8};
      return true;
    case ggml_type::f64:
      out = {"F64", 1, 8};
      return true;
    case ggml_type::bf16:
      out = {"BF16", 1, 2};
      return true;
    case ggml_type::tq1_0:
      out = {"TQ1_0", 256, 54};
      return true;
    case ggml_type::tq2_0:
      out = {"TQ2_0", 256, 66};
      return true;
    case ggml_type::i2_s:
      out = {"I2_S", 128, 32};  // plus 32 bytes per tensor (scale and padding)
      return true;
  }
  return false;
}

inline const char* ggml_type_name(ggml_type t) {
  ggml_type_traits tr{};
  return ggml_traits(static_cast<std::uint32_t>(t), tr) ? tr.name : "?";
}

// One metadata value. Scalars use one of u/i/f/b/s; arrays keep numeric elements as raw
// little-endian bytes (`raw`, `count` elements of `elem`), strings in `strings`, nested arrays in
// `arrays`.
struct gguf_value {
  gguf_type type = gguf_type::u8;
  std::uint64_t u = 0;
  std::int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string s;
  gguf_type elem = gguf_type::u8;
  std::uint64_t count = 0;
  std::vector<std::uint8_t> raw;
  std::vector<std::string> strings;
  std::vector<gguf_value> arrays;

  static gguf_value of_u32(std::uint32_t v) {
    gguf_value x;
    x.type = gguf_type::u32;
    x.u = v;
    return x;
  }
  static gguf_value of_u64(std::uint64_t v) {
    gguf_value x;
    x.type = gguf_type::u64;
    x.u = v;
    return x;
  }
  static gguf_value of_i32(std::int32_t v) {
    gguf_value x;
    x.type = gguf_type::i32;
    x.i = v;
    return x;
  }
  static gguf_value of_f32(float v) {
    gguf_value x;
    x.type = gguf_type::f32;
    x.f = static_cast<double>(v);
    return x;
  }
  static gguf_value of_f64(double v) {
    gguf_value x;
    x.type = gguf_type::f64;
    x.f = v;
    return x;
  }
  static gguf_value of_bool(bool v) {
    gguf_value x;
    x.type = gguf_type::boolean;
    x.b = v;
    return x;
  }
  static gguf_value of_string(std::string v) {
    gguf_value x;
    x.type = gguf_type::string;
    x.s = std::move(v);
    return x;
  }
  static gguf_value of_strings(std::vector<std::string> v) {
    gguf_value x;
    x.type = gguf_type::array;
    x.elem = gguf_type::string;
    x.count = v.size();
    x.strings = std::move(v);
    return x;
  }
  template <class T>
  static gguf_value of_numbers(gguf_type elem, const std::vector<T>& v) {
    BITLIN_REQUIRE(gguf_scalar_size(elem) == sizeof(T), value_error, "gguf_value: element type ",
                   gguf_type_name(elem), " does not match a ", sizeof(T), "-byte C++ element");
    gguf_value x;
    x.type = gguf_type::array;
    x.elem = elem;
    x.count = v.size();
    x.raw.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(x.raw.data(), v.data(), x.raw.size());
    return x;
  }
  static gguf_value of_arrays(gguf_type inner_elem_unused, std::vector<gguf_value> v) {
    (void)inner_elem_unused;
    gguf_value x;
    x.type = gguf_type::array;
    x.elem = gguf_type::array;
    x.count = v.size();
    x.arrays = std::move(v);
    return x;
  }

  // Element k of a numeric array as T (range-checked by the caller's choice of T).
  template <class T>
  T element(std::uint64_t k) const {
    T v;
    std::memcpy(&v, raw.data() + k * sizeof(T), sizeof(T));
    return v;
  }

  bool operator==(const gguf_value& o) const {
    if (type != o.type) return false;
    switch (type) {
      case gguf_type::u8:
      case gguf_type::u16:
      case gguf_type::u32:
      case gguf_type::u64:
        return u == o.u;
      case gguf_type::i8:
      case gguf_type::i16:
      case gguf_type::i32:
      case gguf_type::i64:
        return i == o.i;
      case gguf_type::f32:
      case gguf_type::f64:
        return f == o.f || (std::isnan(f) && std::isnan(o.f));
      case gguf_type::boolean:
        return b == o.b;
      case gguf_type::string:
        return s == o.s;
      case gguf_type::array:
        return elem == o.elem && count == o.count && raw == o.raw && strings == o.strings &&
               arrays == o.arrays;
    }
    return false;
  }
  bool operator!=(const gguf_value& o) const { return !(*this == o); }
};

struct gguf_tensor_info {
  std::string name;
  ggml_type type = ggml_type::f32;
  std::vector<std::uint64_t> ne;  // ne[0] varies fastest (row length of a matrix)
  std::uint64_t offset = 0;       // relative to the data section
  std::uint64_t nbytes = 0;
  std::uint64_t numel = 0;

  // A 2-D tensor as [rows, cols] = [ne1, ne0]; 1-D as [1, ne0].
  index_t rows() const { return ne.size() >= 2 ? static_cast<index_t>(ne[1]) : 1; }
  index_t cols() const { return ne.empty() ? 1 : static_cast<index_t>(ne[0]); }
};

namespace detail {

// Bytes of `numel` elements of a type with traits `tr` and first dim ne0, or an error string.
inline std::string ggml_nbytes(ggml_type type, const ggml_type_traits& tr, std::uint64_t ne0,
                               std::uint64_t numel, std::uint64_t& out) {
  if (type == ggml_type::i2_s) {
    if (numel % 128 != 0)
      return ::bitlin::detail::concat("I2_S needs an element count divisible by 128, got ", numel);
    out = numel / 4 + 32;
    return {};
  }
  if (ne0 % tr.block != 0)
    return ::bitlin::detail::concat(tr.name, " needs ne[0] divisible by its block size ", tr.block,
                                    ", got ", ne0);
  const std::uint64_t blocks = numel / tr.block;
  if (blocks > std::numeric_limits<std::uint64_t>::max() / tr.bytes) return "byte size overflows";
  out = blocks * tr.bytes;
  return {};
}

inline std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

}  // namespace detail

class gguf_file {
 public:
  static constexpr std::uint32_t magic = 0x46554747u;  // "GGUF" read as little-endian u32
  static constexpr std::uint64_t max_name_bytes = std::uint64_t{1} << 16;
  static constexpr int max_array_depth = 4;
  static constexpr std::uint64_t max_nested_arrays = std::uint64_t{1} << 16;
  static constexpr std::uint32_t max_dims = 4;
  static constexpr std::uint32_t default_alignment = 32;

  static gguf_file open(const std::string& path, load_mode mode = load_mode::map) {
    detail::require_little_endian();
    return gguf_file(detail::file_bytes::load(path, mode, "GGUF"), path);
  }
  static gguf_file from_bytes(std::vector<std::uint8_t> bytes, std::string name = "<memory>") {
    detail::require_little_endian();
    return gguf_file(detail::file_bytes(std::move(bytes)), std::move(name));
  }

  gguf_file(gguf_file&&) = default;
  gguf_file& operator=(gguf_file&&) = default;
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;

  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::size_t data_offset() const { return data_start_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, gguf_value>>& metadata() const { return kv_; }
  const gguf_value* find(const std::string& key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }
  const gguf_value& get(const std::string& key) const {
    const gguf_value* v = find(key);
    if (!v) fail("missing metadata key '", key, "'");
    return *v;
  }
  std::string get_string(const std::string& key) const {
    const gguf_value& v = get(key);
    if (v.type != gguf_type::string)
      fail("metadata key '", key, "' is ", gguf_type_name(v.type), ", expected STRING");
    return v.s;
  }
  // Any integer type whose value is non-negative.
  std::uint64_t get_uint(const std::string& key) const {
    const gguf_value& v = get(key);
    switch (v.type) {
      case gguf_type::u8:
      case gguf_type::u16:
      case gguf_type::u32:
      case gguf_type::u64:
        return v.u;
      case gguf_type::i8:
      case gguf_type::i16:
      case gguf_type::i32:
      case gguf_type::i64:
        if (v.i < 0) fail("metadata key '", key, "' is ", v.i, ", expected a non-negative integer");
        return static_cast<std::uint64_t>(v.i);
      default:
        fail("metadata key '", key, "' is ", gguf_type_name(v.type), ", expected an integer");
    }
  }
  double get_float(const std::string& key) const {
    const gguf_value& v = get(key);
    if (v.type == gguf_type::f32 || v.type == gguf_type::f64) return v.f;
    fail("metadata key '", key, "' is ", gguf_type_name(v.type), ", expected FLOAT32/FLOAT64");
  }
  bool get_bool(const std::string& key) const {
    const gguf_value& v = get(key);
    if (v.type != gguf_type::boolean)
      fail("metadata key '", key, "' is ", gguf_type_name(v.type), ", expected BOOL");
    return v.b;
  }
  const std::vector<std::string>& get_strings(const std::string& key) const {
    const gguf_value& v = get(key);
    if (v.type != gguf_type::array || v.elem != gguf_type::string)
      fail("metadata key '", key, "' is not an array of strings");
    return v.strings;
  }
  // A numeric array as int64 (any integer element type).
  std::vector<std::int64_t> get_ints(const std::string& key) const {
    const gguf_value& v = get(key);
    if (v.type != gguf_type::array) fail("metadata key '", key, "' is not an array");
    std::vector<std::int64_t> out(static_cast<std::size_t>(v.count));
    for (std::uint64_t k = 0; k < v.count; ++k) {
      switch (v.elem) {
        case gguf_type::u8:
          out[k] = v.element<std::uint8_t>(k);
          break;
        case gguf_type::i8:
          out[k] = v.element<std::int8_t>(k);
          break;
        case gguf_type::u16:
          out[k] = v.element<std::uint16_t>(k);
          break;
        case gguf_type::i16:
          out[k] = v.element<std::int16_t>(k);
          break;
        case gguf_type::u32:
          out[k] = v.element<std::uint32_t>(k);
          break;
        case gguf_type::i32:
          out[k] = v.element<std::int32_t>(k);
          break;
        case gguf_type::i64:
          out[k] = v.element<std::int64_t>(k);
          break;
        case gguf_type::u64: {
          const auto x = v.element<std::uint64_t>(k);
          if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail("metadata key '", key, "' element ", k, " does not fit int64");
          out[k] = static_cast<std::int64_t>(x);
          break;
        }
        default:
          fail("metadata key '", key, "' is an array of ", gguf_type_name(v.elem),
               ", expected integers");
      }
    }
    return out;
  }

  // Tensors in file (info record) order.
  const std::vector<gguf_tensor_info>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const { return tensor_index_.count(name) != 0; }
  const gguf_tensor_info& info(const std::string& name) const {
    const auto it = tensor_index_.find(name);
    if (it == tensor_index_.end()) fail("tensor '", name, "' not found");
    return tensors_[it->second];
  }
  // The tensor's bytes (valid while this object lives); aligned only as far as the file is.
  const std::uint8_t* raw(const std::string& name) const {
    const gguf_tensor_info& ti = info(name);
    return bytes_.data() + data_start_ + static_cast<std::size_t>(ti.offset);
  }

  // F32, F16 and BF16 tensors as float (the 16-bit ones widened exactly).
  std::vector<float> read_f32(const std::string& name) const {
    const gguf_tensor_info& ti = info(name);
    const std::uint8_t* src = raw(name);
    const auto n = static_cast<std::size_t>(ti.numel);
    std::vector<float> out(n);
    if (ti.type == ggml_type::f32) {
      if (n) std::memcpy(out.data(), src, n * 4);
    } else if (ti.type == ggml_type::f16 || ti.type == ggml_type::bf16) {
      for (std::size_t k = 0; k < n; ++k) {
        std::uint16_t h;
        std::memcpy(&h, src + 2 * k, 2);
        out[k] = ti.type == ggml_type::f16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
    } else {
      fail("tensor '", name, "' has type ", ggml_type_name(ti.type),
           ", expected a float type (F32, F16 or BF16)");
    }
    return out;
  }

 private:
  gguf_file(detail::file_bytes bytes, std::string path)
      : path_(std::move(path)), bytes_(std::move(bytes)) {
    parse();
  }

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    throw format_error(
        ::bitlin::detail::concat("GGUF file ", path_, ": ", std::forward<Parts>(parts)...));
  }

  // A bounds-checked cursor over the header.
  struct cursor {
    const gguf_file* f;
    const std::uint8_t* p;
    std::size_t size, pos = 0;

    std::size_t left() const { return size - pos; }
    void need(std::uint64_t n, const std::string& what) const {
      if (n > left())
        f->fail("truncated: ", what, " at offset ", pos, " needs ", n, " bytes, ", left(), " left");
    }
    template <class T>
    T scalar(const std::string& what) {
      need(sizeof(T), what);
      T v;
      std::memcpy(&v, p + pos, sizeof(T));
      pos += sizeof(T);
      return v;
    }
    std::string str(const std::string& what, std::uint64_t max_len) {
      const auto n = scalar<std::uint64_t>(what + " length");
      if (n > max_len)
        f->fail(what, " at offset ", pos - 8, " has length ", n, " (over ", max_len, ")");
      need(n, what);
      std::string s(reinterpret_cast<const char*>(p + pos), static_cast<std::size_t>(n));
      pos += static_cast<std::size_t>(n);
      return s;
    }
  };

  gguf_value read_value(cursor& c, gguf_type t, const std::string& what, int depth) {
    gguf_value v;
    v.type = t;
    switch (t) {
      case gguf_type::u8:
        v.u = c.scalar<std::uint8_t>(what);
        break;
      case gguf_type::u16:
        v.u = c.scalar<std::uint16_t>(what);
        break;
      case gguf_type::u32:
        v.u = c.scalar<std::uint32_t>(what);
        break;
      case gguf_type::u64:
        v.u = c.scalar<std::uint64_t>(what);
        break;
      case gguf_type::i8:
        v.i = c.scalar<std::int8_t>(what);
        break;
      case gguf_type::i16:
        v.i = c.scalar<std::int16_t>(what);
        break;
      case gguf_type::i32:
        v.i = c.scalar<std::int32_t>(what);
        break;
      case gguf_type::i64:
        v.i = c.scalar<std::int64_t>(what);
        break;
      case gguf_type::f32:
        v.f = static_cast<double>(c.scalar<float>(what));
        break;
      case gguf_type::f64:
        v.f = c.scalar<double>(what);
        break;
      case gguf_type::boolean: {
        const auto b = c.scalar<std::uint8_t>(what);
        if (b > 1)
          fail(what, " at offset ", c.pos - 1, " is a BOOL holding ", int{b}, ", not 0 or 1");
        v.b = b == 1;
        break;
      }
      case gguf_type::string:
        v.s = c.str(what, std::numeric_limits<std::uint64_t>::max());
        break;
      case gguf_type::array: {
        if (depth >= max_array_depth)
          fail(what, " nests arrays deeper than ", max_array_depth, " levels");
        const auto et = c.scalar<std::uint32_t>(what + " element type");
        if (et > static_cast<std::uint32_t>(gguf_type::f64))
          fail(what, " has unknown array element type ", et);
        v.elem = static_cast<gguf_type>(et);
        v.count = c.scalar<std::uint64_t>(what + " element count");
        const std::size_t sz = gguf_scalar_size(v.elem);
        // The smallest encoding of one element: its fixed size, a string's 8-byte length, a
        // nested array's 12-byte type and count.
        const std::uint64_t min_elem = sz ? sz : (v.elem == gguf_type::string ? 8 : 12);
        if (v.count > c.left() / min_elem)
          fail(what, " claims ", v.count, " elements of ", gguf_type_name(v.elem), " but only ",
               c.left(), " bytes follow (truncated or corrupt)");
        if (sz) {
          const auto n = static_cast<std::size_t>(v.count * sz);
          v.raw.assign(c.p + c.pos, c.p + c.pos + n);
          if (v.elem == gguf_type::boolean)
            for (std::size_t k = 0; k < n; ++k)
              if (v.raw[k] > 1)
                fail(what, " element ", k, " is a BOOL holding ", int{v.raw[k]}, ", not 0 or 1");
          c.pos += n;
        } else if (v.elem == gguf_type::string) {
          v.strings.reserve(static_cast<std::size_t>(v.count));
          for (std::uint64_t k = 0; k < v.count; ++k)
            v.strings.push_back(c.str(::bitlin::detail::concat(what, "[", k, "]"),
                                      std::numeric_limits<std::uint64_t>::max()));
        } else {
          nested_ += v.count;
          if (nested_ > max_nested_arrays)
            fail(what, ": more than ", max_nested_arrays, " nested arrays in the header");
          v.arrays.reserve(static_cast<std::size_t>(v.count));
          for (std::uint64_t k = 0; k < v.count; ++k)
            v.arrays.push_back(read_value(c, gguf_type::array,
                                          ::bitlin::detail::concat(what, "[", k, "]"), depth + 1));
        }
        break;
      }
    }
    return v;
  }

  void parse() {
    cursor c{this, bytes_.data(), bytes_.size()};
    const auto m = c.scalar<std::uint32_t>("magic");
    if (m != magic) fail("bad magic (not a GGUF file)");
    version_ = c.scalar<std::uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
      if ((version_ & 0xffffu) == 0 && version_ != 0)
        fail("version field ", version_, " looks byte-swapped: big-endian GGUF is not supported");
      fail("unsupported GGUF version ", version_, " (supported: 2, 3)");
    }
    const auto n_tensors = c.scalar<std::uint64_t>("tensor count");
    const auto n_kv = c.scalar<std::uint64_t>("metadata key/value count");
    // Smallest records: a key/value is 8 (key length) + 4 (type) + 1 (a UINT8) bytes; a tensor
    // info 8 (name length) + 4 (dims) + 4 (type) + 8 (offset).
    if (n_kv > c.left() / 13)
      fail("metadata key/value count ", n_kv, " cannot fit in the ", c.left(),
           " bytes that follow (corrupt)");
    if (n_tensors > c.left() / 24)
      fail("tensor count ", n_tensors, " cannot fit in the ", c.left(),
           " bytes that follow (corrupt)");

    kv_.reserve(static_cast<std::size_t>(n_kv));
    for (std::uint64_t k = 0; k < n_kv; ++k) {
      const std::string where = ::bitlin::detail::concat("metadata key ", k);
      std::string key = c.str(where, max_name_bytes);
      const std::string what = "value of metadata key '" + key + "'";
      const auto t = c.scalar<std::uint32_t>(what + " type");
      if (t > static_cast<std::uint32_t>(gguf_type::f64))
        fail("metadata key '", key, "' has unknown value type ", t);
      gguf_value v = read_value(c, static_cast<gguf_type>(t), what, 0);
      if (kv_index_.count(key)) fail("metadata key '", key, "' appears twice");
      kv_index_.emplace(key, kv_.size());
      kv_.emplace_back(std::move(key), std::move(v));
    }

    alignment_ = default_alignment;
    if (const gguf_value* a = find("general.alignment")) {
      if (a->type != gguf_type::u32)
        fail("general.alignment is ", gguf_type_name(a->type), ", expected UINT32");
      if (a->u == 0 || (a->u & (a->u - 1)) != 0)
        fail("general.alignment is ", a->u, ", expected a power of two");
      alignment_ = a->u;
    }

    tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t k = 0; k < n_tensors; ++k) {
      gguf_tensor_info ti;
      ti.name = c.str(::bitlin::detail::concat("name of tensor ", k), max_name_bytes);
      const std::string what = "tensor '" + ti.name + "'";
      const auto nd = c.scalar<std::uint32_t>(what + " dimension count");
      if (nd == 0 || nd > max_dims)
        fail(what, " has ", nd, " dimensions (expected 1 to ", max_dims, ")");
      ti.numel = 1;
      bool zero = false;
      for (std::uint32_t d = 0; d < nd; ++d) {
        const auto n = c.scalar<std::uint64_t>(what + " dimension");
        ti.ne.push_back(n);
        if (n == 0) zero = true;
      }
      constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      for (std::uint64_t n : ti.ne) {
        if (n > limit) fail(what, " has dimension ", n, ", which overflows int64");
        if (!zero && ti.numel > limit / n) fail(what, ": element count of its dims overflows");
        ti.numel = zero ? 0 : ti.numel * n;
      }
      const auto type = c.scalar<std::uint32_t>(what + " type");
      ggml_type_traits tr{};
      if (!ggml_traits(type, tr)) fail(what, " has unknown or unsupported tensor type ", type);
      ti.type = static_cast<ggml_type>(type);
      if (std::string why = detail::ggml_nbytes(ti.type, tr, ti.ne[0], ti.numel, ti.nbytes);
          !why.empty())
        fail(what, ": ", why);
      ti.offset = c.scalar<std::uint64_t>(what + " offset");
      if (ti.offset % alignment_ != 0)
        fail(what, " has offset ", ti.offset, ", not a multiple of the alignment ", alignment_);
      if (tensor_index_.count(ti.name)) fail("tensor name '", ti.name, "' appears twice");
      tensor_index_.emplace(ti.name, tensors_.size());
      tensors_.push_back(std::move(ti));
    }

    const std::uint64_t start = detail::align_up(c.pos, alignment_);
    const std::uint64_t size = bytes_.size();
    if (!tensors_.empty() && start > size)
      fail("the data section would start at ", start, ", past the end of the ", size,
           "-byte file (truncated)");
    data_start_ = static_cast<std::size_t>(std::min(start, size));
    const std::uint64_t data_size = size - data_start_;
    std::vector<const gguf_tensor_info*> by_offset;
    for (const auto& ti : tensors_) {
      if (ti.offset > data_size || ti.nbytes > data_size - ti.offset)
        fail("tensor '", ti.name, "' data [", ti.offset, ", +", ti.nbytes,
             ") extends past the end of the ", data_size, "-byte data section (truncated file?)");
      by_offset.push_back(&ti);
    }
    std::sort(
        by_offset.begin(), by_offset.end(),
        [](const gguf_tensor_info* a, const gguf_tensor_info* b) { return a->offset < b->offset; });
    for (std::size_t k = 1; k < by_offset.size(); ++k) {
      const auto* a = by_offset[k - 1];
      const auto* b = by_offset[k];
      if (a->nbytes && b->nbytes && b->offset < a->offset + a->nbytes)
        fail("data of tensors '", a->name, "' and '", b->name, "' overlap");
    }
  }

  std::string path_;
  detail::file_bytes bytes_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = default_alignment;
  std::size_t data_start_ = 0;
  std::uint64_t nested_ = 0;
  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::map<std::string, std::size_t> kv_index_;
  std::vector<gguf_tensor_info> tensors_;
  std::map<std::string, std::size_t> tensor_index_;
};

class gguf_writer {
 public:
  // Later sets of a key replace its value in place (keeping its position).
  void set(const std::string& key, gguf_value v) {
    BITLIN_REQUIRE(!key.empty() && key.size() <= gguf_file::max_name_bytes, value_error,
                   "gguf_writer: metadata key of length ", key.size(), " is not allowed");
    if (key == "general.alignment") {
      BITLIN_REQUIRE(v.type == gguf_type::u32 && v.u != 0 && (v.u & (v.u - 1)) == 0, value_error,
                     "gguf_writer: general.alignment must be a UINT32 power of two");
      alignment_ = v.u;
    }
    for (auto& kv : kv_)
      if (kv.first == key) {
        kv.second = std::move(v);
        return;
      }
    kv_.emplace_back(key, std::move(v));
  }
  void set_string(const std::string& k, std::string v) {
    set(k, gguf_value::of_string(std::move(v)));
  }
  void set_u32(const std::string& k, std::uint32_t v) { set(k, gguf_value::of_u32(v)); }
  void set_f32(const std::string& k, float v) { set(k, gguf_value::of_f32(v)); }
  void set_bool(const std::string& k, bool v) { set(k, gguf_value::of_bool(v)); }

  // `ne` in GGUF order (ne[0] fastest); bytes must match the type's size for those dims.
  void add_tensor(const std::string& name, ggml_type type, std::vector<std::uint64_t> ne,
                  std::vector<std::uint8_t> bytes) {
    BITLIN_REQUIRE(!name.empty() && name.size() <= gguf_file::max_name_bytes, value_error,
                   "gguf_writer: tensor name of length ", name.size(), " is not allowed");
    BITLIN_REQUIRE(names_.insert(name).second, value_error, "gguf_writer: tensor '", name,
                   "' added twice");
    BITLIN_REQUIRE(!ne.empty() && ne.size() <= gguf_file::max_dims, shape_error,
                   "gguf_writer: tensor '", name, "' has ", ne.size(), " dims (1 to 4 allowed)");
    ggml_type_traits tr{};
    BITLIN_REQUIRE(ggml_traits(static_cast<std::uint32_t>(type), tr), value_error,
                   "gguf_writer: tensor '", name, "' has an unknown type");
    std::uint64_t numel = 1;
    for (auto n : ne) {
      BITLIN_REQUIRE(n == 0 || numel <= (std::uint64_t{1} << 62) / n, shape_error,
                     "gguf_writer: tensor '", name, "' is too large");
      numel *= n;
    }
    std::uint64_t want = 0;
    if (std::string why = detail::ggml_nbytes(type, tr, ne[0], numel, want); !why.empty())
      throw shape_error(::bitlin::detail::concat("gguf_writer: tensor '", name, "': ", why));
    BITLIN_REQUIRE(bytes.size() == want, shape_error, "gguf_writer: tensor '", name, "' has ",
                   bytes.size(), " bytes, its type and dims need ", want);
    tensors_.push_back({name, type, std::move(ne), std::move(bytes)});
  }

  std::vector<std::uint8_t> to_bytes() const {
    std::vector<std::uint8_t> out;
    put<std::uint32_t>(out, gguf_file::magic);
    put<std::uint32_t>(out, 3);
    put<std::uint64_t>(out, tensors_.size());
    put<std::uint64_t>(out, kv_.size());
    for (const auto& kv : kv_) {
      put_str(out, kv.first);
      put<std::uint32_t>(out, static_cast<std::uint32_t>(kv.second.type));
      put_value(out, kv.second);
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors_) {
      put_str(out, t.name);
      put<std::uint32_t>(out, static_cast<std::uint32_t>(t.ne.size()));
      for (auto n : t.ne) put<std::uint64_t>(out, n);
      put<std::uint32_t>(out, static_cast<std::uint32_t>(t.type));
      put<std::uint64_t>(out, offset);
      offset = detail::align_up(offset + t.bytes.size(), alignment_);
    }
    out.resize(static_cast<std::size_t>(detail::align_up(out.size(), alignment_)), 0);
    for (const auto& t : tensors_) {
      out.insert(out.end(), t.bytes.begin(), t.bytes.end());
      out.resize(static_cast<std::size_t>(detail::align_up(out.size(), alignment_)), 0);
    }
    return out;
  }

  // Writes path + ".tmp" and renames it over path.
  void write(const std::string& path) const {
    const std::vector<std::uint8_t> b = to_bytes();
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out)
        throw error(::bitlin::detail::concat("cannot write GGUF file ", path, ": cannot create ",
                                             tmp, ": ", std::strerror(errno)));
      out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      out.flush();
      if (!out) {
        std::remove(tmp.c_str());
        throw error(::bitlin::detail::concat("cannot write GGUF file ", path, ": writing failed"));
      }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      throw error(::bitlin::detail::concat("cannot write GGUF file ", path, ": rename failed"));
    }
  }

 private:
  struct entry {
    std::string name;
    ggml_type type;
    std::vector<std::uint64_t> ne;
    std::vector<std::uint8_t> bytes;
  };

  template <class T>
  static void put(std::vector<std::uint8_t>& out, T v) {
    std::uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }
  static void put_str(std::vector<std::uint8_t>& out, const std::string& s) {
    put<std::uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  static void put_value(std::vector<std::uint8_t>& out, const gguf_value& v) {
    switch (v.type) {
      case gguf_type::u8:
        put(out, static_cast<std::uint8_t>(v.u));
        break;
      case gguf_type::u16:
        put(out, static_cast<std::uint16_t>(v.u));
        break;
      case gguf_type::u32:
        put(out, static_cast<std::uint32_t>(v.u));
        break;
      case gguf_type::u64:
        put(out, v.u);
        break;
      case gguf_type::i8:
        put(out, static_cast<std::int8_t>(v.i));
        break;
      case gguf_type::i16:
        put(out, static_cast<std::int16_t>(v.i));
        break;
      case gguf_type::i32:
        put(out, static_cast<std::int32_t>(v.i));
        break;
      case gguf_type::i64:
        put(out, v.i);
        break;
      case gguf_type::f32:
        put(out, static_cast<float>(v.f));
        break;
      case gguf_type::f64:
        put(out, v.f);
        break;
      case gguf_type::boolean:
        put<std::uint8_t>(out, v.b ? 1 : 0);
        break;
      case gguf_type::string:
        put_str(out, v.s);
        break;
      case gguf_type::array: {
        put<std::uint32_t>(out, static_cast<std::uint32_t>(v.elem));
        if (v.elem == gguf_type::string) {
          put<std::uint64_t>(out, v.strings.size());
          for (const auto& s : v.strings) put_str(out, s);
        } else if (v.elem == gguf_type::array) {
          put<std::uint64_t>(out, v.arrays.size());
          for (const auto& a : v.arrays) {
            BITLIN_REQUIRE(a.type == gguf_type::array, value_error,
                           "gguf_writer: an array of arrays holds a non-array");
            put_value(out, a);
          }
        } else {
          const std::size_t sz = gguf_scalar_size(v.elem);
          BITLIN_REQUIRE(v.raw.size() == v.count * sz, value_error,
                         "gguf_writer: numeric array of ", v.count, " elements has ", v.raw.size(),
                         " bytes");
          put<std::uint64_t>(out, v.count);
          out.insert(out.end(), v.raw.begin(), v.raw.end());
        }
        break;
      }
    }
  }

  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::vector<entry> tensors_;
  std::set<std::string> names_;
  std::uint64_t alignment_ = gguf_file::default_alignment;
};

// ---- ternary tensor codecs ------------------------------------------------------------------

// A ternary GGUF tensor in bitlin's form: trits [rows, cols] and, per block (TQ: 256 weights of a
// row; I2_S: one for the tensor), the scale; `scale` is the common scale of the blocks holding a
// non-zero trit, `uniform` whether they all agree.
struct gguf_ternary {
  matrix_i8 trits;
  std::vector<float> block_scales;
  float scale = 0.0f;
  bool uniform = true;
};

namespace detail {

inline void check_trits(const Eigen::Ref<const matrix_i8>& t, const char* fmt) {
  for (index_t r = 0; r < t.rows(); ++r)
    for (index_t c = 0; c < t.cols(); ++c)
      BITLIN_REQUIRE(t(r, c) >= -1 && t(r, c) <= 1, value_error, fmt, ": element (", r, ", ", c,
                     ") is ", int{t(r, c)}, ", not a trit");
}

inline std::uint16_t tq_scale_f16(float scale, const char* fmt) {
  BITLIN_REQUIRE(std::isfinite(scale) && scale >= 0.0f, value_error, fmt, ": scale ", scale,
                 " is not a finite non-negative number");
  const std::uint16_t h = f32_to_f16(scale);
  BITLIN_REQUIRE(scale == 0.0f || ((h & 0x7c00u) != 0 && (h & 0x7c00u) != 0x7c00u), value_error,
                 fmt, ": scale ", scale,
                 " is outside binary16's normal range, so its f16 block scale would lose it");
  return h;
}

inline void put_f16(std::uint8_t* p, std::uint16_t h) {
  std::memcpy(p, &h, 2);
}

// Per-tensor scale from block scales of blocks with a non-zero trit.
inline void settle_scale(gguf_ternary& g, const std::vector<bool>& nonzero) {
  bool first = true;
  for (std::size_t b = 0; b < g.block_scales.size(); ++b) {
    if (!nonzero[b]) continue;
    if (first) {
      g.scale = g.block_scales[b];
      first = false;
    } else if (g.block_scales[b] != g.scale) {
      g.uniform = false;
    }
  }
  if (first && !g.block_scales.empty()) g.scale = g.block_scales.front();
}

constexpr std::uint8_t pow3[5] = {1, 3, 9, 27, 81};

inline std::uint8_t tq1_pack(const int* digits, int n) {  // digits 0..2, first most significant
  unsigned q = 0;
  for (int k = 0; k < n; ++k) q = q * 3 + static_cast<unsigned>(digits[k]);
  for (int k = n; k < 5; ++k) q *= 3;
  return static_cast<std::uint8_t>((q * 256 + 242) / 243);
}
inline int tq1_digit(std::uint8_t byte, int n) {
  const auto q = static_cast<std::uint8_t>(byte * pow3[n]);
  return (static_cast<unsigned>(q) * 3) >> 8;
}

}  // namespace detail

// Block b of a row covers columns [256 b, 256 b + 256).
inline std::vector<std::uint8_t> encode_tq2_0(const Eigen::Ref<const matrix_i8>& t, float scale) {
  BITLIN_REQUIRE(t.cols() % 256 == 0, shape_error, "encode_tq2_0: row length ", t.cols(),
                 " is not a multiple of 256 (TQ2_0's block size)");
  detail::check_trits(t, "encode_tq2_0");
  const std::uint16_t d = detail::tq_scale_f16(scale, "encode_tq2_0");
  const index_t blocks = t.cols() / 256;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(t.rows() * blocks * 66), 0);
  std::uint8_t* o = out.data();
  for (index_t r = 0; r < t.rows(); ++r)
    for (index_t b = 0; b < blocks; ++b, o += 66) {
      for (int h = 0; h < 2; ++h)
        for (int m = 0; m < 32; ++m) {
          unsigned q = 0;
          for (int n = 0; n < 4; ++n)
            q |= static_cast<unsigned>(t(r, 256 * b + 128 * h + 32 * n + m) + 1) << (2 * n);
          o[32 * h + m] = static_cast<std::uint8_t>(q);
        }
      detail::put_f16(o + 64, d);
    }
  return out;
}

namespace detail {
// The frame both 256-weight codecs share: rows x (cols / 256) blocks of block_bytes each, the f16
// scale at byte scale_at of a block. digits(p, set) decodes one block's 256 weights, calling
// set(column in block, digit in {0, 1, 2}); the block's scale counts only if a digit is nonzero.
template <class Digits>
gguf_ternary decode_tq_blocks(const std::uint8_t* src, index_t rows, index_t cols,
                              const std::string& name, index_t block_bytes, index_t scale_at,
                              Digits&& digits) {
  BITLIN_REQUIRE(cols % 256 == 0, format_error, name, ": row length ", cols,
                 " is not a multiple of 256");
  const index_t blocks = cols / 256;
  gguf_ternary g;
  g.trits.resize(rows, cols);
  // An empty tensor may still claim billions of rows of nothing: do not loop over them.
  if (rows == 0 || cols == 0) return g;
  g.block_scales.resize(static_cast<std::size_t>(rows * blocks));
  std::vector<bool> nz(g.block_scales.size(), false);
  const std::uint8_t* p = src;
  for (index_t r = 0; r < rows; ++r)
    for (index_t b = 0; b < blocks; ++b, p += block_bytes) {
      bool any = false;
      digits(p, r, b, [&](index_t c, int digit) {
        g.trits(r, 256 * b + c) = static_cast<std::int8_t>(digit - 1);
        any = any || digit != 1;
      });
      std::uint16_t d;
      std::memcpy(&d, p + scale_at, 2);
      const auto k = static_cast<std::size_t>(r * blocks + b);
      g.block_scales[k] = f16_to_f32(d);
      nz[k] = any;
    }
  settle_scale(g, nz);
  return g;
}
}  // namespace detail

inline gguf_ternary decode_tq2_0(const std::uint8_t* src, index_t rows, index_t cols,
                                 const std::string& name = "TQ2_0 tensor") {
  return detail::decode_tq_blocks(
      src, rows, cols, name, 66, 64, [&](const std::uint8_t* p, index_t r, index_t b, auto&& set) {
        for (int h = 0; h < 2; ++h)
          for (int m = 0; m < 32; ++m)
            for (int n = 0; n < 4; ++n) {
              const int code = (p[32 * h + m] >> (2 * n)) & 3;
              BITLIN_REQUIRE(code != 3, format_error, name, ": row ", r, " block ", b,
                             " holds code 3, which is not a ternary value");
              set(128 * h + 32 * n + m, code);
            }
      });
}

inline std::vector<std::uint8_t> encode_tq1_0(const Eigen::Ref<const matrix_i8>& t, float scale) {
  BITLIN_REQUIRE(t.cols() % 256 == 0, shape_error, "encode_tq1_0: row length ", t.cols(),
                 " is not a multiple of 256 (TQ1_0's block size)");
  detail::check_trits(t, "encode_tq1_0");
  const std::uint16_t d = detail::tq_scale_f16(scale, "encode_tq1_0");
  const index_t blocks = t.cols() / 256;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(t.rows() * blocks * 54), 0);
  std::uint8_t* o = out.data();
  int dg[5];
  for (index_t r = 0; r < t.rows(); ++r)
    for (index_t b = 0; b < blocks; ++b, o += 54) {
      const index_t base = 256 * b;
      auto digit = [&](index_t c) { return t(r, base + c) + 1; };
      for (int m = 0; m < 32; ++m) {
        for (int n = 0; n < 5; ++n) dg[n] = digit(m + 32 * n);
        o[m] = detail::tq1_pack(dg, 5);
      }
      for (int m = 0; m < 16; ++m) {
        for (int n = 0; n < 5; ++n) dg[n] = digit(160 + m + 16 * n);
        o[32 + m] = detail::tq1_pack(dg, 5);
      }
      for (int j = 0; j < 4; ++j) {
        for (int n = 0; n < 4; ++n) dg[n] = digit(240 + j + 4 * n);
        o[48 + j] = detail::tq1_pack(dg, 4);
      }
      detail::put_f16(o + 52, d);
    }
  return out;
}

inline gguf_ternary decode_tq1_0(const std::uint8_t* src, index_t rows, index_t cols,
                                 const std::string& name = "TQ1_0 tensor") {
  return detail::decode_tq_blocks(src, rows, cols, name, 54, 52,
                                  [](const std::uint8_t* p, index_t, index_t, auto&& set) {
                                    for (int m = 0; m < 32; ++m)
                                      for (int n = 0; n < 5; ++n)
                                        set(m + 32 * n, detail::tq1_digit(p[m], n));
                                    for (int m = 0; m < 16; ++m)
                                      for (int n = 0; n < 5; ++n)
                                        set(160 + m + 16 * n, detail::tq1_digit(p[32 + m], n));
                                    for (int j = 0; j < 4; ++j)
                                      for (int n = 0; n < 4; ++n)
                                        set(240 + j + 4 * n, detail::tq1_digit(p[48 + j], n));
                                  });
}

inline std::vector<std::uint8_t> encode_i2_s(const Eigen::Ref<const matrix_i8>& t, float scale) {
  const auto n = static_cast<std::uint64_t>(t.rows()) * static_cast<std::uint64_t>(t.cols());
  BITLIN_REQUIRE(n % 128 == 0, shape_error, "encode_i2_s: element count ", n,
                 " is not a multiple of 128 (I2_S's block size)");
  detail::check_trits(t, "encode_i2_s");
  BITLIN_REQUIRE(std::isfinite(scale), value_error, "encode_i2_s: scale ", scale, " is not finite");
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n / 4 + 32), 0);
  const index_t cols = t.cols();
  for (std::uint64_t e = 0; e < n; ++e) {
    const auto r = static_cast<index_t>(e / static_cast<std::uint64_t>(cols));
    const auto c = static_cast<index_t>(e % static_cast<std::uint64_t>(cols));
    const std::uint64_t blk = e / 128, g = (e % 128) / 32, j = e % 32;
    out[static_cast<std::size_t>(blk * 32 + j)] |=
        static_cast<std::uint8_t>((t(r, c) + 1) << (6 - 2 * g));
  }
  std::memcpy(out.data() + n / 4, &scale, 4);
  return out;
}

inline gguf_ternary decode_i2_s(const std::uint8_t* src, index_t rows, index_t cols,
                                const std::string& name = "I2_S tensor") {
  const auto n = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  BITLIN_REQUIRE(n % 128 == 0, format_error, name, ": element count ", n,
                 " is not a multiple of 128");
  gguf_ternary g;
  g.trits.resize(rows, cols);
  for (std::uint64_t e = 0; e < n; ++e) {
    const std::uint64_t blk = e / 128, grp = (e % 128) / 32, j = e % 32;
    const int code = (src[blk * 32 + j] >> (6 - 2 * grp)) & 3;
    BITLIN_REQUIRE(code != 3, format_error, name, ": element ", e,
                   " holds code 3, which is not a ternary value");
    g.trits(static_cast<index_t>(e / static_cast<std::uint64_t>(cols)),
            static_cast<index_t>(e % static_cast<std::uint64_t>(cols))) =
        static_cast<std::int8_t>(code - 1);
  }
  float s;
  std::memcpy(&s, src + n / 4, 4);
  g.block_scales = {s};
  g.scale = s;
  return g;
}

// A TQ1_0 / TQ2_0 / I2_S tensor of `f` (1-D or 2-D) as trits and scales.
inline gguf_ternary read_ternary(const gguf_file& f, const std::string& name) {
  const gguf_tensor_info& ti = f.info(name);
  BITLIN_REQUIRE(ti.ne.size() <= 2, format_error, "GGUF file ", f.path(), ": tensor '", name,
                 "' has ", ti.ne.size(), " dims; a ternary matrix has 1 or 2");
  const std::string what = "GGUF file " + f.path() + ": tensor '" + name + "'";
  switch (ti.type) {
    case ggml_type::tq2_0:
      return decode_tq2_0(f.raw(name), ti.rows(), ti.cols(), what);
    case ggml_type::tq1_0:
      return decode_tq1_0(f.raw(name), ti.rows(), ti.cols(), what);
    case ggml_type::i2_s:
      return decode_i2_s(f.raw(name), ti.rows(), ti.cols(), what);
    default:
      throw format_error(::bitlin::detail::concat(what, " has type ", ggml_type_name(ti.type),
                                                  ", expected TQ1_0, TQ2_0 or I2_S"));
  }
}

// Encodes trits with one scale in a ternary GGUF type.
inline std::vector<std::uint8_t> encode_ternary(ggml_type type,
                                                const Eigen::Ref<const matrix_i8>& t, float scale) {
  switch (type) {
    case ggml_type::tq2_0:
      return encode_tq2_0(t, scale);
    case ggml_type::tq1_0:
      return encode_tq1_0(t, scale);
    case ggml_type::i2_s:
      return encode_i2_s(t, scale);
    default:
      throw value_error(::bitlin::detail::concat("encode_ternary: ", ggml_type_name(type),
                                                 " is not a ternary GGUF type"));
  }
}

}  // namespace bitlin::io
