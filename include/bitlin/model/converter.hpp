// Native float-master -> packed conversion of BitNet checkpoints, in the Hugging Face layout, so
// that nobody needs the Python conversion chain. Every `*_proj.weight` stored in F32/BF16/F16 is
// quantized by absmean (per tensor) and written as uint8 [ceil(out/4), in] plus `weight_scale`;
// everything else (embeddings, norms, a head, already packed projections) is copied byte for byte
// in its own dtype. The config gets a quantization_config describing the packed weights.
// BitNet b1 configs (weight_bits 1) binarize instead (sign(W - mean W), scale mean|W| per tensor
// or per weight_group_rows rows) and pack at 1 bit: U8 [out, ceil(in/8)] binary_b1 rows plus a
// weight_scale of one value per group.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/io/atomic_file.hpp"
#include "bitlin/io/safetensors.hpp"
#include "bitlin/model/config.hpp"
#include "bitlin/model/loader.hpp"
#include "bitlin/pack/binary_b1.hpp"
#include "bitlin/pack/hf_bitnet.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/quant/ternary.hpp"

namespace bitlin::model {

struct convert_options {
  // "bitlinear" (weight_scale = 1/mean|W|, divides) or "autobitlinear" (weight_scale = mean|W|,
  // multiplies); empty keeps the source config's linear_class ("bitlinear" if it has none).
  std::string linear_class;
  // Called after each tensor: (tensors done, tensors total, name of the tensor just written).
  std::function<void(std::size_t, std::size_t, const std::string&)> progress;
};

struct convert_report {
  std::size_t tensors = 0;    // tensors written (weight_scale tensors included)
  std::size_t quantized = 0;  // float projections quantized and packed
  std::size_t copied = 0;     // tensors copied unchanged
  std::uint64_t bytes_out = 0;
};

namespace detail {
inline bool is_projection_weight(const std::string& name) {
  static const char* const suffixes[] = {"q_proj.weight",   "k_proj.weight",    "v_proj.weight",
                                         "o_proj.weight",   "gate_proj.weight", "up_proj.weight",
                                         "down_proj.weight"};
  for (const char* s : suffixes) {
    const std::string suf = std::string(".") + s;
    if (name.size() > suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0)
      return true;
  }
  return false;
}
}  // namespace detail

// Converts the checkpoint (`config` + `ck`) into `out_dir`/config.json +
// `out_dir`/model.safetensors.
inline convert_report convert_checkpoint(const bitnet_config& config, const checkpoint& ck,
                                         const std::string& out_dir,
                                         const convert_options& opt = {}) {
  namespace fs = std::filesystem;
  const std::string cls = opt.linear_class.empty() ? config.linear_class : opt.linear_class;
  BITLIN_REQUIRE(
      cls == "bitlinear" || cls == "autobitlinear", value_error,
      "convert_checkpoint: linear_class must be \"bitlinear\" or \"autobitlinear\", got \"", cls,
      "\"");
  const bool multiply = cls == "autobitlinear";
  const bool source_multiplies = config.convention() == scale_convention::multiply;

  io::safetensors_writer w;
  convert_report rep;
  const auto& names = ck.names();
  std::size_t done = 0;
  for (const auto& name : names) {
    const auto& ti = ck.info(name);
    const auto& f = ck.file(name);
    const bool scale_of_packed = name.size() > 13 &&
                                 name.compare(name.size() - 13, 13, ".weight_scale") == 0 &&
                                 ck.contains(name.substr(0, name.size() - 6)) &&
                                 ck.info(name.substr(0, name.size() - 6)).type == io::dtype::u8;
    if (detail::is_projection_weight(name) && detail::is_float_dtype(ti.type) && config.binary()) {
      BITLIN_REQUIRE(ti.shape.size() == 2, shape_error, "convert_checkpoint: tensor '", name,
                     "' has shape ", io::detail::shape_string(ti.shape), ", expected [out, in]");
      const index_t g = config.weight_group_rows;
      BITLIN_REQUIRE(g == 0 || ti.shape[0] % g == 0, value_error, "convert_checkpoint: tensor '",
                     name, "' has ", ti.shape[0],
                     " rows, not a multiple of quantization_config.weight_group_rows = ", g);
      const binary_weights q =
          sign_binary(f.read_matrix_f32(name),
                      g == 0 ? scale_groups::per_tensor() : scale_groups::row_groups(g));
      const packed_matrix<binary_b1> packed = pack_matrix<binary_b1>(q.q);
      std::vector<float> stored = q.scales.values;
      for (float& v : stored) {
        BITLIN_REQUIRE(multiply || v != 0.0f, value_error, "convert_checkpoint: tensor '", name,
                       "' has a group with mean|W| = 0, which linear_class \"bitlinear\" (1 / "
                       "scale) cannot store; use \"autobitlinear\"");
        if (!multiply) v = 1.0f / v;
      }
      w.add(name, io::dtype::u8, {packed.rows, packed.row_bytes}, packed.data.data(),
            packed.data.size());
      w.add_f32(name.substr(0, name.size() - 6) + "weight_scale",
                {static_cast<std::int64_t>(stored.size())}, stored.data());
      rep.quantized += 1;
      rep.tensors += 2;
      rep.bytes_out += static_cast<std::uint64_t>(packed.data.size() + stored.size() * 4);
    } else if (detail::is_projection_weight(name) && detail::is_float_dtype(ti.type)) {
      BITLIN_REQUIRE(ti.shape.size() == 2, shape_error, "convert_checkpoint: tensor '", name,
                     "' has shape ", io::detail::shape_string(ti.shape), ", expected [out, in]");
      const ternary_weights q = absmean_ternary(f.read_matrix_f32(name));
      const matrix_u8 packed = pack_hf_bitnet(q.q);
      const float s = q.scales.values.front();
      const float stored = multiply ? 1.0f / s : s;
      w.add_matrix<std::uint8_t>(name, packed);
      w.add_f32(name.substr(0, name.size() - 6) + "weight_scale", {1}, &stored);
      rep.quantized += 1;
      rep.tensors += 2;
      rep.bytes_out += static_cast<std::uint64_t>(packed.size()) + sizeof(float);
    } else if (scale_of_packed && multiply != source_multiplies) {
      // A packed projection kept as is, its scale(s) switched to the other convention.
      std::vector<float> stored = f.read_f32(name);
      for (float& v : stored) {
        BITLIN_REQUIRE(v != 0.0f && std::isfinite(v), value_error, "convert_checkpoint: tensor '",
                       name, "' holds ", v, "; cannot change its scale convention");
        v = 1.0f / v;
      }
      w.add_f32(name, ti.shape, stored.data());
      rep.tensors += 1;
      rep.copied += 1;
      rep.bytes_out += stored.size() * sizeof(float);
    } else {
      w.add(name, ti.type, ti.shape, f.raw(name), static_cast<std::size_t>(ti.nbytes()));
      rep.tensors += 1;
      rep.copied += 1;
      rep.bytes_out += ti.nbytes();
    }
    ++done;
    if (opt.progress) opt.progress(done, names.size(), name);
  }
  w.set_metadata({{"format", "pt"}});

  fs::create_directories(out_dir);
  nlohmann::json cj = config.to_json();
  // Keep what to_json put there (BitNet b1's weight_bits, activation_norm); the packed weights
  // are offline, with this linear_class; masters' group size no longer applies.
  const bool keep = (config.binary() || config.activation_layer_norm) &&
                    cj.contains("quantization_config") && cj["quantization_config"].is_object();
  nlohmann::json qc = keep ? cj["quantization_config"] : nlohmann::json::object();
  qc["quant_method"] = "bitnet";
  qc["linear_class"] = cls;
  qc["quantization_mode"] = "offline";
  qc.erase("weight_group_rows");
  cj["quantization_config"] = qc;
  // Both files are written in full before either replaces anything, so an error (a full disk)
  // leaves the directory as it was; only a kill between the two renames can pair new weights
  // with the old config.
  io::atomic_file weights((fs::path(out_dir) / "model.safetensors").string());
  w.write_to(weights);
  io::atomic_file cfg((fs::path(out_dir) / "config.json").string());
  cfg.write(cj.dump(2) + "\n");
  weights.commit();
  cfg.commit();
  // A stale index would take precedence over the new single file when the directory is loaded.
  fs::remove(fs::path(out_dir) / "model.safetensors.index.json");
  return rep;
}

// Directory to directory. The output must not be the input (the source files are memory-mapped).
inline convert_report convert_checkpoint(const std::string& in_dir, const std::string& out_dir,
                                         const convert_options& opt = {}) {
  namespace fs = std::filesystem;
  BITLIN_REQUIRE(!(fs::exists(out_dir) && fs::equivalent(in_dir, out_dir)), value_error,
                 "convert_checkpoint: the output directory ", out_dir, " is the input directory");
  const auto c = bitnet_config::from_file((fs::path(in_dir) / "config.json").string());
  return convert_checkpoint(c, checkpoint::open_dir(in_dir), out_dir, opt);
}

}  // namespace bitlin::model
