#pragma once
// Hugging Face `config.json` of the decoders we support (LlamaForCausalLM, MistralForCausalLM,
// Gemma2ForCausalLM, Gemma3ForCausalLM), in the layouts of transformers 4 and 5. Everything that would change the math and that we do not implement is refused by
// name, never ignored.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/error.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace bg2vec::io {

// The gated MLP's activation: SwiGLU (Llama, Mistral) or GeGLU with gelu's tanh approximation (Gemma-2, -3).
enum class Activation { Silu, GeluTanh };

struct ModelConfig {
  std::string architecture;            // "MistralForCausalLM", "LlamaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM"
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  double rope_theta = 10000.0;         // the rotary base (of the full-attention layers where they differ)
  std::optional<double> rope_local_theta;   // Gemma-3: the sliding layers' base; nullopt = rope_theta
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  int max_position_embeddings = 0;
  std::optional<int> sliding_window;   // keys further back than this are not seen (causal only)
  std::vector<bool> sliding_layers;    // which layers are sliding layers (from layer_types; empty: all of them)
  int bos_token_id = 1, eos_token_id = 2, pad_token_id = 0;
  // Gemma only (the defaults are Llama/Mistral's, so a config built field by field is a Mistral):
  double query_pre_attn_scalar = 0;    // attention scores are scaled by its -1/2 power (0: head_dim's)
  std::optional<double> attn_logit_softcapping, final_logit_softcapping;   // cap * tanh(x / cap)
  nlohmann::json raw;                  // the file as read: saved back with only our changes applied

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }

  // The architecture's traits, each one branch of the decoder (nn/decoder.hpp).
  bool is_gemma2() const { return architecture == "Gemma2ForCausalLM"; }
  bool is_gemma3() const { return architecture == "Gemma3ForCausalLM"; }
  bool is_gemma() const { return is_gemma2() || is_gemma3(); }     // the traits Gemma-2 and -3 share
  // Gemma multiplies the embedding output by sqrt(hidden_size).
  float embedding_scale() const { return is_gemma() ? float(std::sqrt(double(hidden_size))) : 1.0f; }
  // Gemma's RMSNorm computes x r (1 + w): its weights are stored as offsets from 1.
  float norm_weight_offset() const { return is_gemma() ? 1.0f : 0.0f; }
  // Gemma also normalises the attention and MLP outputs before each residual add.
  bool post_norms() const { return is_gemma(); }
  // Gemma-3 normalises each head of q and k (RMSNorm over head_dim, weights q_norm / k_norm) before RoPE.
  bool qk_norms() const { return is_gemma3(); }
  Activation activation() const { return is_gemma() ? Activation::GeluTanh : Activation::Silu; }
  float attention_scale() const { return float(1.0 / std::sqrt(query_pre_attn_scalar > 0 ? query_pre_attn_scalar : head_dim)); }
  // Whether layer l is a sliding layer (layer_types "sliding_attention"; without layer types, every layer).
  bool sliding_layer(int layer) const { return sliding_layers.empty() || sliding_layers[size_t(layer)]; }
  std::optional<int> window_of_layer(int layer) const {
    if (!sliding_layer(layer)) return std::nullopt;
    return sliding_window;
  }
  // The rotary base of layer l: Gemma-3's sliding layers have their own (rope_local_theta).
  double rope_theta_of_layer(int layer) const {
    return rope_local_theta && sliding_layer(layer) ? *rope_local_theta : rope_theta;
  }
};

// What a declared shape may be, checked before anything is sized by it: a config.json or a GGUF header of a
// few hundred bytes can declare any numbers, and the per-layer structures, the parameter layout and the
// memory estimate would follow them (2^30 layers: seconds of work and gigabytes before the first tensor
// is missed). The largest released decoders have about 130 layers and under 2^39 parameters.
inline constexpr int kMaxLayers = 4096;
inline constexpr double kMaxParameters = 4398046511104.0;   // 2^42

inline void check_shape_limits(const ModelConfig& c, const std::filesystem::path& file) {
  if (c.num_layers > kMaxLayers)
    fail(file, "the model declares " + std::to_string(c.num_layers) + " layers, more than the " + std::to_string(kMaxLayers) +
                   " bg2vec accepts");
  const double q = double(c.num_heads) * c.head_dim, kv = double(c.num_kv_heads) * c.head_dim;
  if (q > double(1 << 30))
    fail(file, "the model declares " + std::to_string(c.num_heads) + " heads of " + std::to_string(c.head_dim) +
                   " dimensions, more than 2^30 in all");
  const double H = c.hidden_size, F = c.intermediate_size;
  const double parameters = double(c.num_layers) * (H * (2 * q + 2 * kv) + 3 * H * F) + 2 * double(c.vocab_size) * H;
  if (parameters > kMaxParameters) {
    char count[32];
    std::snprintf(count, sizeof count, "%.3g", parameters);
    fail(file, std::string("the model's shapes declare about ") + count + " parameters, more than the 2^42 bg2vec accepts");
  }
}

namespace detail {

inline const nlohmann::json& field(const nlohmann::json& j, const std::filesystem::path& file, const char* name) {
  if (!j.contains(name) || j[name].is_null()) fail(file, std::string("missing required field \"") + name + "\"");
  return j[name];
}

inline int positive_int(const nlohmann::json& j, const std::filesystem::path& file, const char* name) {
  const auto& v = field(j, file, name);
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 30))
    fail(file, std::string("field \"") + name + "\" must be a positive integer, got " + v.dump());
  return v.get<int>();
}

inline std::optional<double> optional_positive(const nlohmann::json& j, const std::filesystem::path& file, const char* name) {
  if (!j.contains(name) || j[name].is_null()) return std::nullopt;
  if (!j[name].is_number() || !(j[name].get<double>() > 0))
    fail(file, std::string("field \"") + name + "\" must be null or a positive number, got " + j[name].dump());
  return j[name].get<double>();
}

// A flag that is absent or null (the fallback), true or false; anything else is an error naming it.
inline bool optional_bool(const nlohmann::json& j, const std::filesystem::path& file, const char* name, bool fallback) {
  if (!j.contains(name) || j[name].is_null()) return fallback;
  if (!j[name].is_boolean()) fail(file, std::string(name) + " must be true or false, got " + j[name].dump());
  return j[name].get<bool>();
}

inline int token_id(const nlohmann::json& j, const char* name, int fallback) {
  if (!j.contains(name) || !j[name].is_number_integer()) return fallback;   // null or a list: keep the default
  return j[name].get<int>();
}

// The fields of Gemma-2 and -3. The activation is read from hidden_activation (what transformers uses),
// else hidden_act; only the tanh-approximated gelu is implemented.
inline void parse_gemma(const nlohmann::json& j, const std::filesystem::path& file, ModelConfig& c) {
  const char* act_field = j.contains("hidden_activation") && !j["hidden_activation"].is_null() ? "hidden_activation" : "hidden_act";
  const std::string act = !j.contains(act_field) || j[act_field].is_null() ? "gelu_pytorch_tanh"
                          : j[act_field].is_string()                      ? j[act_field].get<std::string>()
                                                                          : j[act_field].dump();
  if (act != "gelu_pytorch_tanh")
    fail(file, std::string(act_field) + " \"" + act + "\" is not supported for " + c.architecture + " (only gelu_pytorch_tanh)");
  const auto scalar = optional_positive(j, file, "query_pre_attn_scalar");
  if (!scalar) fail(file, "missing required field \"query_pre_attn_scalar\" (Gemma scales attention scores by it)");
  c.query_pre_attn_scalar = *scalar;
  // Absent soft-caps take the config class's defaults, as transformers does (Gemma2Config: 50 and 30;
  // Gemma3TextConfig: none); null turns them off.
  const bool caps = c.is_gemma2();
  c.attn_logit_softcapping = j.contains("attn_logit_softcapping") ? optional_positive(j, file, "attn_logit_softcapping")
                             : caps ? std::optional<double>(50.0) : std::nullopt;
  c.final_logit_softcapping = j.contains("final_logit_softcapping") ? optional_positive(j, file, "final_logit_softcapping")
                              : caps ? std::optional<double>(30.0) : std::nullopt;
  if (j.contains("use_bidirectional_attention") && j["use_bidirectional_attention"] == true)
    fail(file, "use_bidirectional_attention = true is not supported (choose the attention policy when encoding instead)");
}

// layer_types (transformers 5, and later transformers 4) says which layers are sliding layers. Without
// it: Gemma-2 slides on even layers (transformers 4's rule); Gemma-3 on every layer but each
// sliding_window_pattern-th (layer i slides unless (i + 1) % N == 0; N defaults to 6, also read from
// `_sliding_window_pattern`); every other architecture on all layers.
inline void parse_layer_types(const nlohmann::json& j, const std::filesystem::path& file, ModelConfig& c) {
  if (j.contains("layer_types") && !j["layer_types"].is_null()) {
    const auto& types = j["layer_types"];
    if (!types.is_array() || types.size() != size_t(c.num_layers))
      fail(file, "layer_types must list one type per layer (" + std::to_string(c.num_layers) + ")");
    for (const auto& t : types) {
      const std::string type = t.is_string() ? t.get<std::string>() : t.dump();
      if (type != "sliding_attention" && type != "full_attention")
        fail(file, "layer_types entry \"" + type + "\" is not supported (only sliding_attention and full_attention)");
      c.sliding_layers.push_back(type == "sliding_attention");
    }
  } else if (c.is_gemma2()) {
    for (int l = 0; l < c.num_layers; ++l) c.sliding_layers.push_back(l % 2 == 0);
  } else if (c.is_gemma3()) {
    int pattern = 6;
    for (const char* name : {"sliding_window_pattern", "_sliding_window_pattern"})
      if (j.contains(name) && !j[name].is_null()) {
        pattern = positive_int(j, file, name);
        break;
      }
    for (int l = 0; l < c.num_layers; ++l) c.sliding_layers.push_back((l + 1) % pattern != 0);
  }
}

inline double positive_number(const nlohmann::json& v, const std::filesystem::path& file, const std::string& name) {
  if (!v.is_number() || !(v.get<double>() > 0)) fail(file, name + " must be a positive number, got " + v.dump());
  return v.get<double>();
}

// One rotary entry of rope_parameters ({rope_type, rope_theta}): only the default (unscaled) rotation is
// implemented. Returns its rope_theta, if it gives one.
inline std::optional<double> rope_entry(const nlohmann::json& rp, const std::filesystem::path& file, const std::string& where) {
  if (!rp.is_object()) fail(file, where + " must be an object, got " + rp.dump());
  if (rp.contains("rope_type") && !rp["rope_type"].is_null()) {
    const std::string type = rp["rope_type"].is_string() ? rp["rope_type"].get<std::string>() : rp["rope_type"].dump();
    if (type != "default") fail(file, where + ".rope_type \"" + type + "\" is not supported (only \"default\")");
  }
  if (!rp.contains("rope_theta") || rp["rope_theta"].is_null()) return std::nullopt;
  return positive_number(rp["rope_theta"], file, where + ".rope_theta");
}

// Rotary embeddings. transformers 4: rope_theta (+ rope_scaling) at top level, and for Gemma-3
// rope_local_base_freq, the sliding layers' base. transformers 5: rope_parameters {rope_type, rope_theta}
// or, for Gemma-3, rope_parameters keyed by layer type ({"full_attention": {...}, "sliding_attention":
// {...}}), which takes precedence over the top-level fields. Absent bases are the config class's
// defaults: 1e4 (Llama, Mistral, Gemma-2); Gemma-3 1e6 on full layers and 1e4 on sliding ones.
inline void parse_rope(const nlohmann::json& j, const std::filesystem::path& file, ModelConfig& c) {
  const bool gemma3 = c.is_gemma3();
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    fail(file, "rope_scaling " + j["rope_scaling"].dump() + " is not supported (only unscaled rotary embeddings)");
  c.rope_theta = gemma3 ? 1e6 : 1e4;
  c.rope_local_theta = gemma3 ? std::optional<double>(1e4) : std::nullopt;
  if (j.contains("rope_theta") && !j["rope_theta"].is_null()) c.rope_theta = positive_number(j["rope_theta"], file, "rope_theta");
  if (gemma3 && j.contains("rope_local_base_freq") && !j["rope_local_base_freq"].is_null())
    c.rope_local_theta = positive_number(j["rope_local_base_freq"], file, "rope_local_base_freq");
  if (!j.contains("rope_parameters") || j["rope_parameters"].is_null()) return;
  const auto& rp = j["rope_parameters"];
  if (!rp.is_object()) fail(file, "rope_parameters must be an object, got " + rp.dump());
  if (!rp.contains("full_attention") && !rp.contains("sliding_attention")) {
    if (const auto theta = rope_entry(rp, file, "rope_parameters")) c.rope_theta = *theta;
    return;
  }
  if (!gemma3) fail(file, "rope_parameters keyed by layer type are not supported for " + c.architecture + " (only for Gemma3ForCausalLM)");
  for (const auto& [type, entry] : rp.items()) {
    if (type != "full_attention" && type != "sliding_attention")
      fail(file, "rope_parameters entry \"" + type + "\" is not supported (only full_attention and sliding_attention)");
    const auto theta = rope_entry(entry, file, "rope_parameters." + type);
    if (theta && type == "full_attention") c.rope_theta = *theta;
    if (theta && type == "sliding_attention") c.rope_local_theta = *theta;
  }
}

}  // namespace detail

inline ModelConfig parse_config(const nlohmann::json& j, const std::filesystem::path& file) {
  using namespace detail;
  if (!j.is_object()) fail(file, "not a JSON object");
  ModelConfig c;
  c.raw = j;
  const auto& archs = field(j, file, "architectures");
  if (!archs.is_array() || archs.size() != 1 || !archs[0].is_string())
    fail(file, "\"architectures\" must list exactly one architecture");
  c.architecture = archs[0].get<std::string>();
  if (c.architecture != "MistralForCausalLM" && c.architecture != "LlamaForCausalLM" && !c.is_gemma())
    fail(file, "unsupported architecture " + c.architecture +
                   " (supported: MistralForCausalLM, LlamaForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM)");

  c.vocab_size = positive_int(j, file, "vocab_size");
  c.hidden_size = positive_int(j, file, "hidden_size");
  c.intermediate_size = positive_int(j, file, "intermediate_size");
  c.num_layers = positive_int(j, file, "num_hidden_layers");
  c.num_heads = positive_int(j, file, "num_attention_heads");
  c.num_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                       ? positive_int(j, file, "num_key_value_heads") : c.num_heads;
  if (c.num_heads % c.num_kv_heads != 0)
    fail(file, "num_attention_heads (" + std::to_string(c.num_heads) + ") is not a multiple of num_key_value_heads (" +
                   std::to_string(c.num_kv_heads) + ")");
  if (j.contains("head_dim") && !j["head_dim"].is_null()) c.head_dim = positive_int(j, file, "head_dim");
  else {
    if (c.hidden_size % c.num_heads) fail(file, "hidden_size is not a multiple of num_attention_heads and head_dim is not given");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2) fail(file, "head_dim must be even for rotary embeddings, got " + std::to_string(c.head_dim));
  check_shape_limits(c, file);
  const auto& eps = field(j, file, "rms_norm_eps");
  if (!eps.is_number() || eps.get<double>() <= 0) fail(file, "rms_norm_eps must be a positive number");
  c.rms_norm_eps = eps.get<double>();
  c.max_position_embeddings = j.contains("max_position_embeddings") ? positive_int(j, file, "max_position_embeddings") : 0;
  // Absent means the architecture's default: transformers omits a value equal to PretrainedConfig's
  // (tied), so real Gemma configs leave it out, while Mistral/Llama configs say false.
  c.tie_word_embeddings = optional_bool(j, file, "tie_word_embeddings", c.is_gemma());
  parse_rope(j, file, c);

  for (const char* flag : {"attention_bias", "mlp_bias"})
    if (optional_bool(j, file, flag, false)) fail(file, std::string(flag) + " = true is not supported (bias-free layers only)");
  if (c.is_gemma()) parse_gemma(j, file, c);
  else {
    if (j.contains("hidden_act") && !j["hidden_act"].is_null() && !j["hidden_act"].is_string())
      fail(file, "hidden_act must be a string, got " + j["hidden_act"].dump());
    const std::string act = j.contains("hidden_act") && j["hidden_act"].is_string() ? j["hidden_act"].get<std::string>() : "silu";
    if (act != "silu") fail(file, "hidden_act \"" + act + "\" is not supported (only silu)");
  }
  if (j.contains("sliding_window") && !j["sliding_window"].is_null()) {
    if (!j["sliding_window"].is_number_integer() || j["sliding_window"].get<int64_t>() <= 0 ||
        j["sliding_window"].get<int64_t>() > (int64_t(1) << 30))
      fail(file, "sliding_window must be null or a positive integer");
    c.sliding_window = j["sliding_window"].get<int>();
  } else if (c.is_gemma3() && !j.contains("sliding_window")) {
    c.sliding_window = 4096;   // Gemma3TextConfig's default (null: no window)
  }
  parse_layer_types(j, file, c);
  c.bos_token_id = token_id(j, "bos_token_id", 1);
  c.eos_token_id = token_id(j, "eos_token_id", 2);
  c.pad_token_id = token_id(j, "pad_token_id", 0);
  return c;
}

inline ModelConfig load_config(const std::filesystem::path& model_dir) {
  const auto file = model_dir / "config.json";
  std::ifstream in(file);
  if (!in) fail(file, "cannot open (is " + model_dir.string() + " a Hugging Face model folder?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("not valid JSON: ") + e.what());
  }
  return parse_config(j, file);
}

// A config.json for a new model of this shape, in the layout that transformers 4 and 5 both read.
inline nlohmann::json to_json(const ModelConfig& c) {
  nlohmann::json j = c.raw.is_object() ? c.raw : nlohmann::json::object();
  j["architectures"] = {c.architecture};
  j["model_type"] = c.architecture == "LlamaForCausalLM" ? "llama"
                    : c.is_gemma2()                       ? "gemma2"
                    : c.is_gemma3()                       ? "gemma3_text"
                                                          : "mistral";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["rms_norm_eps"] = c.rms_norm_eps;
  if (c.is_gemma()) {
    j["hidden_activation"] = "gelu_pytorch_tanh";
    if (j.contains("hidden_act")) j["hidden_act"] = "gelu_pytorch_tanh";
    // An int where it is one: transformers 5's config classes validate the field's type (int) strictly.
    const double scalar = c.query_pre_attn_scalar;
    j["query_pre_attn_scalar"] = scalar == std::floor(scalar) && std::abs(scalar) < 1e9 ? nlohmann::json(int64_t(scalar)) : nlohmann::json(scalar);
    j["attn_logit_softcapping"] = c.attn_logit_softcapping ? nlohmann::json(*c.attn_logit_softcapping) : nlohmann::json(nullptr);
    j["final_logit_softcapping"] = c.final_logit_softcapping ? nlohmann::json(*c.final_logit_softcapping) : nlohmann::json(nullptr);
  } else {
    j["hidden_act"] = "silu";
  }
  if (!c.sliding_layers.empty() || c.is_gemma3()) {   // Gemma-3 without them would read back with its default pattern
    j["layer_types"] = nlohmann::json::array();
    for (int l = 0; l < c.num_layers; ++l) j["layer_types"].push_back(c.sliding_layer(l) ? "sliding_attention" : "full_attention");
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.max_position_embeddings > 0) j["max_position_embeddings"] = c.max_position_embeddings;   // 0: not given
  j["sliding_window"] = c.sliding_window ? nlohmann::json(*c.sliding_window) : nlohmann::json(nullptr);
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["pad_token_id"] = c.pad_token_id;
  j[j.contains("dtype") ? "dtype" : "torch_dtype"] = "float32";
  if (c.is_gemma3()) {
    // transformers 5's layout, keyed by layer type; transformers 4's fields kept in step where the file had them.
    const double local = c.rope_local_theta.value_or(c.rope_theta);
    j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_theta}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", local}}}};
    if (j.contains("rope_theta")) j["rope_theta"] = c.rope_theta;
    if (j.contains("rope_local_base_freq")) j["rope_local_base_freq"] = local;
  } else if (j.contains("rope_parameters")) {
    j["rope_parameters"]["rope_theta"] = c.rope_theta;
  } else {
    j["rope_theta"] = c.rope_theta;
  }
  return j;
}

inline void save_config(const ModelConfig& c, const std::filesystem::path& model_dir) {
  write_file_atomically(model_dir / "config.json", to_json(c).dump(2) + "\n");
}

}  // namespace bg2vec::io
