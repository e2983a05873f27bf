// The BitNet model configuration (b1.58, and the binary b1 variant), read from a Hugging Face
// `config.json`. Parsing and
// validation live here, apart from the model, so that every unsupported setting (an activation we
// do not implement, a RoPE scaling type, inconsistent head counts) is refused once, up front, with
// an error that names the JSON field, instead of producing silently wrong logits later.
#pragma once

#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bitlin/core/error.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/io/json_text.hpp"
#include "bitlin/quant/scales.hpp"

namespace bitlin::model {

struct bitnet_config {
  index_t vocab_size = 0;
  index_t hidden_size = 0;
  index_t intermediate_size = 0;
  index_t num_hidden_layers = 0;
  index_t num_attention_heads = 0;
  index_t num_key_value_heads = 0;
  index_t head_dim = 0;  // hidden_size / num_attention_heads unless the config says otherwise
  index_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-5f;
  double rope_theta = 500000.0;  // BitNetConfig's default when the file names none
  bool tie_word_embeddings = true;
  std::string hidden_act = "relu2";
  // From quantization_config.linear_class: "bitlinear" divides by weight_scale, "autobitlinear"
  // multiplies. A config without quantization_config describes float master weights; they are
  // quantized at load with the divide convention (scale = 1/mean|W|).
  std::string linear_class = "bitlinear";
  bool has_quantization_config = false;
  // BitNet b1 (binary weights): quantization_config.weight_bits = 1. The projections hold +-1
  // weights, sign(W - alpha) with the scale beta = mean|W| per tensor or per group of rows
  // (weight_group_rows, used when float masters are quantized at load), stored packed at 1 bit
  // (binary_b1, U8 [out, ceil(in / 8)]). Absent (or 1.58) = b1.58 ternary, as before.
  int weight_bits = 0;            // 0 = ternary (b1.58), 1 = binary (b1)
  index_t weight_group_rows = 0;  // 0 = one scale per projection
  // quantization_config.activation_norm = "layer_norm": the b1 paper's affine-free LayerNorm on
  // every BitLinear input before its 8-bit absmax quantization (default for weight_bits 1;
  // "none" for models trained without it, such as bitnet_train's).
  bool activation_layer_norm = false;
  float activation_norm_eps = 1e-5f;
  // The document this was parsed from, kept so a converter can write it back with only the
  // quantization fields changed.
  nlohmann::json raw = nlohmann::json::object();

  scale_convention convention() const {
    return linear_class == "autobitlinear" ? scale_convention::multiply : scale_convention::divide;
  }
  bool binary() const { return weight_bits == 1; }
  // What the CLI prints: "BitNet b1.58" or "BitNet b1".
  const char* model_kind() const { return binary() ? "BitNet b1" : "BitNet b1.58"; }
  index_t q_size() const { return num_attention_heads * head_dim; }
  index_t kv_size() const { return num_key_value_heads * head_dim; }

  // Throws value_error naming the field when the combination is not one this model implements.
  // Every size field, and the q and kv widths, must stay below this: then the products and sums
  // the model forms from two of them cannot overflow index_t, and no configuration can make a
  // size computation wrap around (the tensors a checkpoint must then hold bound memory).
  static constexpr index_t max_dimension = (index_t{1} << 31) - 1;

  void validate() const {
    auto positive = [](index_t v, const char* field) {
      BITLIN_REQUIRE(v > 0, value_error, "config.json: field \"", field,
                     "\" must be a positive integer, got ", v);
      BITLIN_REQUIRE(v <= max_dimension, value_error, "config.json: field \"", field, "\" is ", v,
                     ", above the supported ", max_dimension);
    };
    positive(vocab_size, "vocab_size");
    positive(hidden_size, "hidden_size");
    positive(intermediate_size, "intermediate_size");
    positive(num_hidden_layers, "num_hidden_layers");
    positive(num_attention_heads, "num_attention_heads");
    positive(num_key_value_heads, "num_key_value_heads");
    positive(head_dim, "head_dim");
    BITLIN_REQUIRE(num_attention_heads <= max_dimension / head_dim, value_error,
                   "config.json: fields \"num_attention_heads\" x \"head_dim\" (",
                   num_attention_heads, " x ", head_dim, ") exceed the supported ", max_dimension);
    // 0 = no limit, for configurations built in code; a config.json must give a positive value.
    BITLIN_REQUIRE(max_position_embeddings >= 0 && max_position_embeddings <= max_dimension,
                   value_error, "config.json: field \"max_position_embeddings\" is ",
                   max_position_embeddings, ", expected a positive integer up to ", max_dimension);
    BITLIN_REQUIRE(num_attention_heads % num_key_value_heads == 0, value_error,
                   "config.json: field \"num_attention_heads\" (", num_attention_heads,
                   ") must be a multiple of \"num_key_value_heads\" (", num_key_value_heads, ")");
    BITLIN_REQUIRE(head_dim % 2 == 0, value_error,
                   "config.json: field \"head_dim\" must be even for ", "rotary embeddings, got ",
                   head_dim);
    BITLIN_REQUIRE(hidden_act == "relu2", value_error, "config.json: field \"hidden_act\" is \"",
                   hidden_act, "\"; only \"relu2\" (BitNet's squared ReLU) is supported");
    BITLIN_REQUIRE(std::isfinite(rms_norm_eps) && rms_norm_eps >= 0.0f, value_error,
                   "config.json: field \"rms_norm_eps\" must be a finite non-negative number");
    BITLIN_REQUIRE(std::isfinite(rope_theta) && rope_theta > 0.0, value_error,
                   "config.json: field \"rope_theta\" must be a positive number, got ", rope_theta);
    BITLIN_REQUIRE(linear_class == "bitlinear" || linear_class == "autobitlinear", value_error,
                   "config.json: field \"quantization_config.linear_class\" is \"", linear_class,
                   "\"; expected \"bitlinear\" or \"autobitlinear\"");
    BITLIN_REQUIRE(weight_bits == 0 || weight_bits == 1, value_error,
                   "config.json: field \"quantization_config.weight_bits\" is ", weight_bits,
                   "; expected 1 (BitNet b1) or absent (b1.58)");
    BITLIN_REQUIRE(weight_group_rows >= 0 && weight_group_rows <= max_dimension, value_error,
                   "config.json: field \"quantization_config.weight_group_rows\" is ",
                   weight_group_rows, ", expected a non-negative integer");
    BITLIN_REQUIRE(weight_group_rows == 0 || binary(), value_error,
                   "config.json: field \"quantization_config.weight_group_rows\" applies to "
                   "weight_bits 1 only");
    BITLIN_REQUIRE(std::isfinite(activation_norm_eps) && activation_norm_eps >= 0.0f, value_error,
                   "config.json: field \"quantization_config.activation_norm_eps\" must be a "
                   "finite non-negative number");
  }

  static bitnet_config from_json(const nlohmann::json& j) {
    BITLIN_REQUIRE(j.is_object(), format_error, "config.json: the document is not a JSON object");
    bitnet_config c;
    c.raw = j;
    auto get_int = [&](const char* field, bool required, index_t fallback) -> index_t {
      const auto it = j.find(field);
      if (it == j.end() || it->is_null()) {
        BITLIN_REQUIRE(!required, format_error, "config.json: missing field \"", field, "\"");
        return fallback;
      }
      BITLIN_REQUIRE(it->is_number_integer(), format_error, "config.json: field \"", field,
                     "\" must be an integer");
      return static_cast<index_t>(it->get<std::int64_t>());
    };
    auto get_num = [&](const nlohmann::json& obj, const char* field, const std::string& path,
                       double fallback) -> double {
      const auto it = obj.find(field);
      if (it == obj.end() || it->is_null()) return fallback;
      BITLIN_REQUIRE(it->is_number(), format_error, "config.json: field \"", path,
                     "\" must be a number");
      return it->get<double>();
    };
    auto get_str = [&](const nlohmann::json& obj, const char* field, const std::string& path,
                       const std::string& fallback) -> std::string {
      const auto it = obj.find(field);
      if (it == obj.end() || it->is_null()) return fallback;
      BITLIN_REQUIRE(it->is_string(), format_error, "config.json: field \"", path,
                     "\" must be a string");
      return it->get<std::string>();
    };

    if (const auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) {
      BITLIN_REQUIRE(*mt == "bitnet", value_error, "config.json: field \"model_type\" is \"",
                     mt->get<std::string>(), "\"; only \"bitnet\" is supported");
    }
    c.vocab_size = get_int("vocab_size", true, 0);
    c.hidden_size = get_int("hidden_size", true, 0);
    c.intermediate_size = get_int("intermediate_size", true, 0);
    c.num_hidden_layers = get_int("num_hidden_layers", true, 0);
    c.num_attention_heads = get_int("num_attention_heads", true, 0);
    c.num_key_value_heads = get_int("num_key_value_heads", false, c.num_attention_heads);
    c.max_position_embeddings = get_int("max_position_embeddings", false, 2048);
    BITLIN_REQUIRE(
        c.max_position_embeddings > 0, value_error,
        "config.json: field \"max_position_embeddings\" must be a positive integer, got ",
        c.max_position_embeddings);
    c.head_dim = get_int("head_dim", false,
                         c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0);
    BITLIN_REQUIRE(c.num_attention_heads <= 0 || j.contains("head_dim") ||
                       c.head_dim * c.num_attention_heads == c.hidden_size,
                   value_error, "config.json: field \"hidden_size\" (", c.hidden_size,
                   ") is not a multiple of \"num_attention_heads\" (", c.num_attention_heads, ")");
    c.rms_norm_eps = static_cast<float>(get_num(j, "rms_norm_eps", "rms_norm_eps", 1e-5));
    c.hidden_act = get_str(j, "hidden_act", "hidden_act", "relu2");
    if (const auto t = j.find("tie_word_embeddings"); t != j.end() && !t->is_null()) {
      BITLIN_REQUIRE(t->is_boolean(), format_error,
                     "config.json: field \"tie_word_embeddings\" must be a boolean");
      c.tie_word_embeddings = t->get<bool>();
    }

    // RoPE: transformers 5 nests it in "rope_parameters"; older files use top-level "rope_theta"
    // and "rope_scaling". Only the default (unscaled) rotary embedding is implemented.
    c.rope_theta = get_num(j, "rope_theta", "rope_theta", c.rope_theta);
    auto check_rope_type = [&](const nlohmann::json& obj, const std::string& where) {
      for (const char* key : {"rope_type", "type"}) {
        const std::string t = get_str(obj, key, where + "." + key, "default");
        BITLIN_REQUIRE(t == "default", value_error, "config.json: field \"", where, ".", key,
                       "\" is \"", t, "\"; only the \"default\" rotary embedding is supported");
      }
    };
    if (const auto rp = j.find("rope_parameters"); rp != j.end() && !rp->is_null()) {
      BITLIN_REQUIRE(rp->is_object(), format_error,
                     "config.json: field \"rope_parameters\" must be an object");
      c.rope_theta = get_num(*rp, "rope_theta", "rope_parameters.rope_theta", c.rope_theta);
      check_rope_type(*rp, "rope_parameters");
    }
    if (const auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
      BITLIN_REQUIRE(rs->is_object(), format_error,
                     "config.json: field \"rope_scaling\" must be an object or null");
      check_rope_type(*rs, "rope_scaling");
    }
    if (const auto pr = j.find("partial_rotary_factor"); pr != j.end() && !pr->is_null()) {
      BITLIN_REQUIRE(pr->is_number() && pr->get<double>() == 1.0, value_error,
                     "config.json: field \"partial_rotary_factor\" must be 1 (partial rotary ",
                     "embeddings are not supported)");
    }
    if (const auto ab = j.find("attention_bias"); ab != j.end() && ab->is_boolean()) {
      BITLIN_REQUIRE(!ab->get<bool>(), value_error,
                     "config.json: field \"attention_bias\" is true; BitNet has no biases");
    }

    if (const auto qc = j.find("quantization_config"); qc != j.end() && !qc->is_null()) {
      BITLIN_REQUIRE(qc->is_object(), format_error,
                     "config.json: field \"quantization_config\" must be an object");
      c.has_quantization_config = true;
      const std::string method =
          get_str(*qc, "quant_method", "quantization_config.quant_method", "bitnet");
      BITLIN_REQUIRE(method == "bitnet", value_error,
                     "config.json: field \"quantization_config.quant_method\" is \"", method,
                     "\"; only \"bitnet\" is supported");
      c.linear_class =
          get_str(*qc, "linear_class", "quantization_config.linear_class", "bitlinear");
      const std::string mode =
          get_str(*qc, "quantization_mode", "quantization_config.quantization_mode", "offline");
      BITLIN_REQUIRE(mode == "offline" || mode == "online", value_error,
                     "config.json: field \"quantization_config.quantization_mode\" is \"", mode,
                     "\"; expected \"offline\" or \"online\"");
      if (const auto wb = qc->find("weight_bits"); wb != qc->end() && !wb->is_null()) {
        BITLIN_REQUIRE(wb->is_number(), format_error,
                       "config.json: field \"quantization_config.weight_bits\" must be a number");
        const double bits = wb->get<double>();
        BITLIN_REQUIRE(bits == 1.0 || bits == 1.58, value_error,
                       "config.json: field \"quantization_config.weight_bits\" is ", bits,
                       "; expected 1 (BitNet b1) or 1.58 (b1.58)");
        c.weight_bits = bits == 1.0 ? 1 : 0;
      }
      if (const auto g = qc->find("weight_group_rows"); g != qc->end() && !g->is_null()) {
        BITLIN_REQUIRE(g->is_number_integer(), format_error,
                       "config.json: field \"quantization_config.weight_group_rows\" must be an "
                       "integer");
        c.weight_group_rows = static_cast<index_t>(g->get<std::int64_t>());
      }
      const std::string norm =
          get_str(*qc, "activation_norm", "quantization_config.activation_norm",
                  c.binary() ? "layer_norm" : "none");
      BITLIN_REQUIRE(norm == "layer_norm" || norm == "none", value_error,
                     "config.json: field \"quantization_config.activation_norm\" is \"", norm,
                     "\"; expected \"layer_norm\" or \"none\"");
      c.activation_layer_norm = norm == "layer_norm";
      c.activation_norm_eps = static_cast<float>(
          get_num(*qc, "activation_norm_eps", "quantization_config.activation_norm_eps", 1e-5));
    }
    c.validate();
    return c;
  }

  // A config.json longer than this is refused (real ones are a few kilobytes).
  static constexpr std::size_t max_file_bytes = std::size_t{16} << 20;

  static bitnet_config from_file(const std::string& path) {
    return from_json(io::read_json_file(path, max_file_bytes));
  }

  // The config as a JSON document: the original fields (unknown ones preserved) with every field
  // this struct models overwritten by its current value.
  nlohmann::json to_json() const {
    nlohmann::json j = raw.is_object() ? raw : nlohmann::json::object();
    j["model_type"] = "bitnet";
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["intermediate_size"] = intermediate_size;
    j["num_hidden_layers"] = num_hidden_layers;
    j["num_attention_heads"] = num_attention_heads;
    j["num_key_value_heads"] = num_key_value_heads;
    if (j.contains("head_dim") || head_dim * num_attention_heads != hidden_size)
      j["head_dim"] = head_dim;
    j["max_position_embeddings"] = max_position_embeddings;
    // Keep the file's spelling of eps when it still reads back as the same float.
    if (!(j.contains("rms_norm_eps") && j["rms_norm_eps"].is_number() &&
          static_cast<float>(j["rms_norm_eps"].get<double>()) == rms_norm_eps))
      j["rms_norm_eps"] = rms_norm_eps;
    j["hidden_act"] = hidden_act;
    j["tie_word_embeddings"] = tie_word_embeddings;
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object())
      j["rope_parameters"]["rope_theta"] = rope_theta;
    else
      j["rope_theta"] = rope_theta;
    // The fields that decide what the projections mean travel with every rewritten config.
    if (binary() || activation_layer_norm) {
      nlohmann::json& qc = j["quantization_config"];
      if (!qc.is_object()) qc = {{"quant_method", "bitnet"}, {"linear_class", linear_class}};
      if (binary()) qc["weight_bits"] = 1;
      if (weight_group_rows > 0) qc["weight_group_rows"] = weight_group_rows;
      qc["activation_norm"] = activation_layer_norm ? "layer_norm" : "none";
      qc["activation_norm_eps"] = activation_norm_eps;
    }
    return j;
  }
};

}  // namespace bitlin::model
