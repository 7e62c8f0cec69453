#pragma once
// A GGUF model's tensors under their Hugging Face names, dequantized to float32 with llama.cpp's
// conventions undone, so that a model read from GGUF is the model it was converted from:
//  - names: llama.cpp's (`blk.0.attn_q.weight`) back to transformers' (`model.layers.0.self_attn.q_proj.weight`);
//  - `llama` q and k: the converter interleaved each head's two rotary halves (row h*d + 2i + s holds
//    HF row h*d + s*d/2 + i, s in {0, 1}); HF's rotate-half layout is restored;
//  - Gemma's norm weights: stored as 1 + w, read back as w.
// Shapes are row-major ([out, in] for projections), GGUF's dimensions reversed.
#include <bg2vec/gguf/model_config.hpp>

#include <map>

namespace bg2vec::gguf {

namespace detail {

struct NameRule {
  std::string_view gguf, hf;
};

inline constexpr NameRule kModelNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

inline constexpr NameRule kProjectionNames[] = {
    {"attn_q.weight", "self_attn.q_proj.weight"},   {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},   {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},    {"attn_norm.weight", "input_layernorm.weight"},
};

inline constexpr NameRule kLlamaNormNames[] = {{"ffn_norm.weight", "post_attention_layernorm.weight"}};

inline constexpr NameRule kGemmaNormNames[] = {
    {"post_attention_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
};

inline constexpr NameRule kGemma3QkNormNames[] = {
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
};

// The HF name of a GGUF tensor of this architecture; empty when it has none.
inline std::string hf_name(const Architecture& a, std::string_view name, int layers) {
  for (const auto& r : kModelNames)
    if (r.gguf == name) return std::string(r.hf);
  if (!name.starts_with("blk.")) return {};
  const auto dot = name.find('.', 4);
  if (dot == std::string_view::npos) return {};
  int layer = -1;
  const auto digits = name.substr(4, dot - 4);
  if (std::from_chars(digits.data(), digits.data() + digits.size(), layer).ptr != digits.data() + digits.size() ||
      layer < 0 || layer >= layers || std::to_string(layer) != digits)
    return {};
  const auto suffix = name.substr(dot + 1);
  auto match = [&](std::span<const NameRule> rules) -> std::string {
    for (const auto& r : rules)
      if (r.gguf == suffix) return "model.layers." + std::to_string(layer) + "." + std::string(r.hf);
    return {};
  };
  std::string hf = match(kProjectionNames);
  if (hf.empty()) hf = match(a.gguf_name == "llama" ? std::span<const NameRule>(kLlamaNormNames) : kGemmaNormNames);
  if (hf.empty() && a.hf_architecture == "Gemma3ForCausalLM") hf = match(kGemma3QkNormNames);
  return hf;
}

}  // namespace detail

class ModelTensors {
 public:
  ModelTensors(const GgufFile& file, const io::ModelConfig& config) : file_(file), config_(config), arch_(architecture_of(file)) {
    for (const auto& t : file.tensors()) {
      if (t.name == "rope_freqs.weight")
        fail(file.path(), "tensor 'rope_freqs.weight' (rotary frequency factors, i.e. rope scaling) is not supported");
      std::string hf = detail::hf_name(arch_, t.name, config.num_layers);
      if (hf.empty()) fail(file.path(), "unexpected tensor '" + t.name + "' (not part of the " + std::string(arch_.gguf_name) + " architecture)");
      by_hf_name_.emplace(std::move(hf), &t);
    }
  }

  const std::filesystem::path& path() const { return file_.path(); }
  const std::filesystem::path& path_of(const std::string&) const { return file_.path(); }
  bool contains(const std::string& hf_name) const { return by_hf_name_.count(hf_name) != 0; }
  const TensorInfo& source(const std::string& hf_name) const {
    const auto it = by_hf_name_.find(hf_name);
    if (it == by_hf_name_.end()) fail(path(), "no tensor holds '" + hf_name + "'");
    return *it->second;
  }
  Shape shape(const std::string& hf_name) const { return source(hf_name).shape(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, info] : by_hf_name_) out.push_back(name);
    return out;
  }
  // For messages: the GGUF name, with the HF name it stands for.
  std::string describe(const std::string& hf_name) const {
    return contains(hf_name) ? "'" + source(hf_name).name + "' (" + hf_name + ")" : "'" + hf_name + "'";
  }

  void read_float32(const std::string& hf_name, std::span<float> out) const {
    const TensorInfo& t = source(hf_name);
    file_.read_float32(t, out);
    if (arch_.norms_plus_one && hf_name.ends_with("norm.weight"))
      for (float& w : out) w -= 1.0f;
    if (arch_.permuted_qk && (hf_name.ends_with("q_proj.weight") || hf_name.ends_with("k_proj.weight")))
      unpermute_rows(out, t, hf_name.ends_with("q_proj.weight") ? config_.num_heads : config_.num_kv_heads);
  }

 private:
  // Undoes the converter's per-head interleaving of the two rotary halves (see the top of this file).
  void unpermute_rows(std::span<float> w, const TensorInfo& t, int heads) const {
    const Shape shape = t.shape();
    const int64_t rows = shape.at(0), cols = shape.size() > 1 ? shape[1] : 1;
    if (heads <= 0 || rows % (2 * heads)) fail(path(), "tensor '" + t.name + "' has " + std::to_string(rows) +
                                                           " rows, not a multiple of 2 x " + std::to_string(heads) + " heads");
    const int64_t d = rows / heads, half = d / 2;
    const std::vector<float> stored(w.begin(), w.end());
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < 2; ++s)
        for (int64_t i = 0; i < half; ++i)
          std::copy_n(stored.begin() + (h * d + 2 * i + s) * cols, cols, w.begin() + (h * d + s * half + i) * cols);
  }

  const GgufFile& file_;
  io::ModelConfig config_;
  Architecture arch_;
  std::map<std::string, const TensorInfo*> by_hf_name_;
};

}  // namespace bg2vec::gguf
