#pragma once
// A model as a GGUF file that llama.cpp loads and embeds with: the inverse of model_config.hpp and
// model_tensors.hpp, with llama.cpp's conventions applied as its converter (convert_hf_to_gguf.py) applies them:
//  - names: transformers' (`model.layers.0.self_attn.q_proj.weight`) to llama.cpp's (`blk.0.attn_q.weight`);
//  - `llama` q and k: each head's two rotary halves interleaved (HF row h*d + s*d/2 + i is stored at row
//    h*d + 2i + s), for llama.cpp's interleaved rotary layout;
//  - Gemma's norm weights (q/k norms too) stored as 1 + w;
//  - 1-D tensors (the norms) always F32, as the converter keeps them; the matrices as asked (F32, F16, BF16,
//    Q8_0; a matrix whose rows are not a multiple of 32 values falls back from Q8_0 to F16, with a warning).
// And the metadata llama.cpp needs to embed as the encoder was trained and measured:
//  - `<arch>.attention.causal` false for a bidirectional encoder, `<arch>.pooling_type` (llama.cpp's
//    llama_pooling_type: 1 mean, 2 cls (the first token, BOS), 3 last);
//  - the architecture: `llama` for Llama/Mistral, `gemma2` for Gemma-2, and for Gemma-3 `gemma3` when causal,
//    `gemma-embedding` when bidirectional: llama.cpp's bidirectional Gemma-3 (EmbeddingGemma's), which runs
//    without a KV cache and with a symmetric sliding window;
//  - sliding windows: bg2vec's bidirectional attention ignores them (every token sees every token), so a
//    bidirectional export writes a window of twice the context length, which llama.cpp's masks (standard:
//    key further back than the window; symmetric: |distance| > window / 2) never apply within the context.
//    The layer pattern is kept: Gemma-3's sliding layers have their own rotary base (rope.freq_base_swa).
// Llama.cpp derives some things from the shape instead of reading them; a model they would contradict is
// refused by name (Gemma's attention scale, Gemma-2's soft-caps, Gemma-3's attention soft-cap).
#include <bg2vec/gguf/model_tensors.hpp>
#include <bg2vec/gguf/quantize.hpp>
#include <bg2vec/gguf/writer.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bg2vec::gguf {

// llama.cpp's llama_pooling_type (include/llama.h).
enum class PoolingType : uint32_t { None = 0, Mean = 1, Cls = 2, Last = 3 };

// bg2vec's pooling names to llama.cpp's; nullopt where llama.cpp has none (weighted-mean).
inline std::optional<PoolingType> pooling_type_of(const std::string& pooling) {
  if (pooling == "mean") return PoolingType::Mean;
  if (pooling == "bos") return PoolingType::Cls;
  if (pooling == "last") return PoolingType::Last;
  return std::nullopt;
}

// llama.cpp's general.file_type (llama_ftype) for a file whose matrices are `type`.
inline uint32_t file_type_of(GgmlType type) {
  switch (type) {
    case GgmlType::F16: return 1;    // LLAMA_FTYPE_MOSTLY_F16
    case GgmlType::Q8_0: return 7;   // LLAMA_FTYPE_MOSTLY_Q8_0
    case GgmlType::BF16: return 32;  // LLAMA_FTYPE_MOSTLY_BF16
    default: return 0;               // LLAMA_FTYPE_ALL_F32
  }
}

struct ExportSettings {
  GgmlType type = GgmlType::F32;              // of the matrices
  bool bidirectional = true;                  // attention.causal = !bidirectional
  PoolingType pooling = PoolingType::Mean;
  std::string name = "bg2vec encoder";        // general.name
  // bg2vec's own settings, kept under bg2vec.* so that `gguf import` can write them back as bg2vec.json.
  std::string attention_name = "bidirectional", pooling_name = "mean";
  int max_length = 512;
  bool skip_bos = false;
};

// The GGUF architecture a model is exported as.
inline std::string export_architecture(const io::ModelConfig& c, bool bidirectional) {
  if (c.is_gemma3()) return bidirectional ? "gemma-embedding" : "gemma3";
  if (c.is_gemma2()) return "gemma2";
  return "llama";
}

namespace detail {

// The GGUF name of an HF parameter name (the inverse of hf_name); empty when it has none.
inline std::string gguf_name(const io::ModelConfig& c, const std::string& name) {
  for (const auto& r : kModelNames)
    if (r.hf == name) return std::string(r.gguf);
  const std::string_view prefix = "model.layers.";
  if (!std::string_view(name).starts_with(prefix)) return {};
  const auto dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return {};
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  const std::string_view suffix = std::string_view(name).substr(dot + 1);
  auto match = [&](std::span<const NameRule> rules) -> std::string {
    for (const auto& r : rules)
      if (r.hf == suffix) return "blk." + layer + "." + std::string(r.gguf);
    return {};
  };
  std::string g = match(kProjectionNames);
  if (g.empty()) g = match(c.is_gemma() ? std::span<const NameRule>(kGemmaNormNames) : kLlamaNormNames);
  if (g.empty() && c.is_gemma3()) g = match(kGemma3QkNormNames);
  return g;
}

// Rows of each head's two rotary halves interleaved: HF row h*d + s*d/2 + i goes to row h*d + 2i + s.
inline std::vector<float> permute_rows(std::span<const float> w, int64_t rows, int64_t cols, int heads, const std::string& name) {
  if (heads <= 0 || rows % (2 * heads)) fail("tensor '" + name + "' has " + std::to_string(rows) + " rows, not a multiple of 2 x " +
                                             std::to_string(heads) + " heads");
  const int64_t d = rows / heads, half = d / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t s = 0; s < 2; ++s)
      for (int64_t i = 0; i < half; ++i)
        std::copy_n(w.begin() + (h * d + s * half + i) * cols, cols, out.begin() + (h * d + 2 * i + s) * cols);
  return out;
}

}  // namespace detail

// Adds the model's metadata (general.*, <arch>.*, bg2vec.*) and tensors to `w`. `Weights` gives the
// parameters under HF names: layout().tensors() (each with .name and .shape) and parameter(name) (float32
// values, row-major) — a bg2vec::Model. Returns warnings (what llama.cpp will do differently, and why).
template <class Weights>
std::vector<std::string> add_model(GgufWriter& w, const io::ModelConfig& c, const Weights& weights, const ExportSettings& s) {
  std::vector<std::string> warnings;
  // A model loaded for bf16 inference lists no projections in layout().tensors(): refuse it, not write half a model.
  if (!weights.layout().outside().empty()) fail("cannot export a model loaded without its float32 projections");
  if (!can_quantize(s.type)) fail("cannot export tensors as " + std::string(type_name(s.type)) + " (f32, f16, bf16, q8_0)");
  const std::string arch = export_architecture(c, s.bidirectional);
  const std::string p = arch + ".";

  // What llama.cpp derives instead of reading: refuse a model it would compute differently.
  if (c.is_gemma()) {
    const bool is_27b = arch != "gemma-embedding" && c.num_layers == (c.is_gemma2() ? 46 : 62);
    const double scalar = is_27b ? double(c.hidden_size / c.num_heads) : double(c.head_dim);
    if (c.query_pre_attn_scalar > 0 && c.query_pre_attn_scalar != scalar)
      fail("query_pre_attn_scalar is " + std::to_string(c.query_pre_attn_scalar) + ", but llama.cpp's " + arch +
           " scales attention scores by " + std::to_string(scalar) + "^-1/2 (derived from the shape): it would compute another model");
    if (c.is_gemma2() && (!c.attn_logit_softcapping || !c.final_logit_softcapping))
      fail("a Gemma-2 without soft-caps: llama.cpp's gemma2 always caps (50 and 30 when the file gives none)");
    if (c.is_gemma3() && c.attn_logit_softcapping)
      fail("Gemma-3 with attn_logit_softcapping: llama.cpp's gemma3 has no attention soft-cap");
  }
  const int context = c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096;
  if (c.max_position_embeddings <= 0)
    warnings.push_back("config.json gives no max_position_embeddings: context_length written as 4096");

  w.add_string("general.architecture", arch);
  w.add_string("general.name", s.name);
  w.add_u32("general.file_type", file_type_of(s.type));
  w.add_u32("general.quantization_version", 2);
  w.add_u32(p + "context_length", uint32_t(context));
  w.add_u32(p + "embedding_length", uint32_t(c.hidden_size));
  w.add_u32(p + "block_count", uint32_t(c.num_layers));
  w.add_u32(p + "feed_forward_length", uint32_t(c.intermediate_size));
  w.add_u32(p + "attention.head_count", uint32_t(c.num_heads));
  w.add_u32(p + "attention.head_count_kv", uint32_t(c.num_kv_heads));
  w.add_u32(p + "attention.key_length", uint32_t(c.head_dim));
  w.add_u32(p + "attention.value_length", uint32_t(c.head_dim));
  w.add_u32(p + "rope.dimension_count", uint32_t(c.head_dim));
  w.add_f32(p + "rope.freq_base", float(c.rope_theta));
  w.add_f32(p + "attention.layer_norm_rms_epsilon", float(c.rms_norm_eps));
  w.add_u32(p + "vocab_size", uint32_t(c.vocab_size));
  w.add_bool(p + "attention.causal", !s.bidirectional);
  w.add_u32(p + "pooling_type", uint32_t(s.pooling));
  if (c.is_gemma()) {
    // The window: the model's for a causal export; none in effect (twice the context) for a bidirectional one.
    const int window = s.bidirectional || !c.sliding_window ? 2 * context : *c.sliding_window;
    w.add_u32(p + "attention.sliding_window", uint32_t(window));
    std::vector<bool> pattern;
    for (int l = 0; l < c.num_layers; ++l) pattern.push_back(c.sliding_layer(l));
    w.add_bools(p + "attention.sliding_window_pattern", pattern);
    if (c.is_gemma2()) {
      w.add_f32(p + "attn_logit_softcapping", float(*c.attn_logit_softcapping));
      w.add_f32(p + "final_logit_softcapping", float(*c.final_logit_softcapping));
    } else {
      w.add_f32(p + "rope.freq_base_swa", float(c.rope_local_theta.value_or(c.rope_theta)));
      if (c.final_logit_softcapping) w.add_f32(p + "final_logit_softcapping", float(*c.final_logit_softcapping));
    }
  } else if (c.sliding_window && !s.bidirectional) {
    warnings.push_back("llama.cpp's llama architecture has no sliding window: causal attention there sees keys further back than " +
                       std::to_string(*c.sliding_window) + " tokens (texts longer than the window embed differently)");
  }
  w.add_string("bg2vec.attention", s.attention_name);
  w.add_string("bg2vec.pooling", s.pooling_name);
  w.add_u32("bg2vec.max_length", uint32_t(s.max_length));
  w.add_bool("bg2vec.skip_bos", s.skip_bos);

  bool fell_back = false;
  for (const auto& t : weights.layout().tensors()) {
    const std::string name = detail::gguf_name(c, t.name);
    if (name.empty()) fail("tensor '" + t.name + "' has no llama.cpp name (not part of the " + arch + " architecture)");
    const auto values = weights.parameter(t.name);
    std::vector<float> stored(values.begin(), values.end());
    const int64_t rows = t.shape.at(0), cols = t.shape.size() > 1 ? t.shape[1] : 1;
    if (c.norm_weight_offset() != 0.0f && t.name.ends_with("norm.weight"))
      for (float& x : stored) x += c.norm_weight_offset();
    if (!c.is_gemma() && (t.name.ends_with("q_proj.weight") || t.name.ends_with("k_proj.weight")))
      stored = detail::permute_rows(stored, rows, cols, t.name.ends_with("q_proj.weight") ? c.num_heads : c.num_kv_heads, t.name);
    std::vector<int64_t> dims(t.shape.rbegin(), t.shape.rend());
    GgmlType type = t.shape.size() == 1 ? GgmlType::F32 : s.type;
    if (type == GgmlType::Q8_0 && dims[0] % BlockQ8_0::elements) {
      type = GgmlType::F16;
      fell_back = true;
    }
    w.add_tensor(name, dims, type, quantize(type, stored));
  }
  if (fell_back) warnings.push_back("some matrices have rows that are not a multiple of 32 values: stored as F16 instead of Q8_0");
  return warnings;
}

}  // namespace bg2vec::gguf
