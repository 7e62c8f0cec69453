#pragma once
// A GGUF model's metadata as the io::ModelConfig of the Hugging Face architecture it was converted from.
// llama.cpp's converter writes `general.architecture` and `<arch>.*` keys; what it leaves out is what
// llama.cpp assumes, and so do we (each default below says whose it is). Anything that would change the
// math and that we do not implement (rope scaling, partial rotary, mixtures of experts, other
// architectures) is refused by name.
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/io/hf_config.hpp>

#include <charconv>
#include <cmath>
#include <string>

namespace bg2vec::gguf {

// The GGUF architectures we read, and the transformers class each one comes from. llama.cpp converts
// Llama and Mistral checkpoints alike to `llama` (same math: we name them Llama).
struct Architecture {
  std::string_view gguf_name, hf_architecture;
  bool permuted_qk;                    // the converter reordered q/k rows for llama.cpp's interleaved rotary
  bool norms_plus_one;                 // Gemma's (1 + w) norm weights are stored as 1 + w
};

inline constexpr Architecture kArchitectures[] = {
    {"llama", "LlamaForCausalLM", true, false},
    {"gemma2", "Gemma2ForCausalLM", false, true},
    {"gemma3", "Gemma3ForCausalLM", false, true},
    // llama.cpp's bidirectional Gemma-3 (EmbeddingGemma; what `gguf export` writes for a bidirectional
    // Gemma-3 encoder): Gemma-3's tensors and keys, attention never causal, a symmetric sliding window.
    {"gemma-embedding", "Gemma3ForCausalLM", false, true},
};

inline const Architecture& architecture_of(const GgufFile& f) {
  const std::string name = f.string("general.architecture");
  for (const auto& a : kArchitectures)
    if (a.gguf_name == name) return a;
  fail(f.path(), "architecture '" + name + "' is not supported (supported: llama, gemma2, gemma3, gemma-embedding)");
}

namespace detail {

// float32 metadata (eps, rope bases) as the shortest decimal that reads back as the same float, so that
// an imported config.json says 1e-05, not 9.999999747378752e-06.
inline double shortest_decimal(double value) {
  const float f = float(value);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double out = 0;
  std::from_chars(buf, r.ptr, out);
  return out;
}

inline int positive(const GgufFile& f, const std::string& key, std::optional<int64_t> fallback = std::nullopt) {
  const auto v = f.find_integer(key);
  if (!v && !fallback) fail(f.path(), "missing metadata key '" + key + "'");
  const int64_t n = v ? *v : *fallback;
  if (n <= 0 || n > (int64_t(1) << 30)) fail(f.path(), "metadata key '" + key + "' must be a positive integer, got " + std::to_string(n));
  return int(n);
}

inline double positive_number(const GgufFile& f, const std::string& key, std::optional<double> fallback = std::nullopt) {
  const auto v = f.find_number(key);
  if (!v && !fallback) fail(f.path(), "missing metadata key '" + key + "'");
  const double x = v ? *v : *fallback;
  if (!(x > 0) || !std::isfinite(x)) fail(f.path(), "metadata key '" + key + "' must be a positive number, got " + std::to_string(x));
  return shortest_decimal(x);
}

// Which layers slide. `sliding_window_pattern` is a bool per layer (true: sliding) or an int n (every
// n-th layer is global); without it, llama.cpp's default for the architecture: Gemma-2 alternates
// (even layers slide), Gemma-3 has one global layer in every 6.
inline std::vector<bool> sliding_layers(const GgufFile& f, const std::string& arch, int layers) {
  const std::string key = arch + ".attention.sliding_window_pattern";
  int every = arch == "gemma2" ? 2 : 6;
  if (f.has(key)) {
    if (f.value(key).type == ValueType::Array) {
      const auto pattern = f.integers(key);
      if (pattern.size() != size_t(layers))
        fail(f.path(), "metadata key '" + key + "' lists " + std::to_string(pattern.size()) + " layers, the model has " +
                           std::to_string(layers));
      return {pattern.begin(), pattern.end()};
    }
    every = positive(f, key);
  }
  std::vector<bool> sliding;
  for (int l = 0; l < layers; ++l) sliding.push_back((l + 1) % every != 0);
  return sliding;
}

}  // namespace detail

inline io::ModelConfig model_config(const GgufFile& f) {
  using namespace detail;
  const Architecture& a = architecture_of(f);
  const std::string p = std::string(a.gguf_name) + ".";
  io::ModelConfig c;
  c.architecture = std::string(a.hf_architecture);
  c.hidden_size = positive(f, p + "embedding_length");
  c.intermediate_size = positive(f, p + "feed_forward_length");
  c.num_layers = positive(f, p + "block_count");
  c.num_heads = positive(f, p + "attention.head_count");
  c.num_kv_heads = positive(f, p + "attention.head_count_kv", c.num_heads);
  if (c.num_heads % c.num_kv_heads)
    fail(f.path(), "attention.head_count (" + std::to_string(c.num_heads) + ") is not a multiple of head_count_kv (" +
                       std::to_string(c.num_kv_heads) + ")");
  c.head_dim = positive(f, p + "attention.key_length", c.hidden_size / c.num_heads);
  if (positive(f, p + "attention.value_length", c.head_dim) != c.head_dim)
    fail(f.path(), "attention.value_length differs from key_length (not supported)");
  if (c.head_dim % 2) fail(f.path(), "head dimension " + std::to_string(c.head_dim) + " is odd (rotary embeddings need it even)");
  if (positive(f, p + "rope.dimension_count", c.head_dim) != c.head_dim)
    fail(f.path(), "rope.dimension_count differs from the head dimension (partial rotary embeddings are not supported)");
  if (const auto scaling = f.find_string(p + "rope.scaling.type"); scaling && *scaling != "none")
    fail(f.path(), "rope scaling '" + *scaling + "' is not supported (only unscaled rotary embeddings)");
  if (f.find_integer(p + "expert_count").value_or(0) > 0) fail(f.path(), "mixtures of experts are not supported");
  c.rms_norm_eps = positive_number(f, p + "attention.layer_norm_rms_epsilon");
  c.rope_theta = positive_number(f, p + "rope.freq_base", 10000.0);             // llama.cpp's default
  c.max_position_embeddings = f.find_integer(p + "context_length") ? positive(f, p + "context_length") : 0;

  // The vocabulary: the metadata's count, else the tokenizer's, else the embedding's rows; the last two
  // are counts of something else, so they are range-checked here before they are narrowed to int.
  const auto vocabulary = [&](int64_t count, const std::string& what) {
    if (count <= 0 || count > (int64_t(1) << 30))
      fail(f.path(), what + " has " + std::to_string(count) + " entries, not a vocabulary size");
    return int(count);
  };
  if (f.has(p + "vocab_size")) c.vocab_size = positive(f, p + "vocab_size");
  else if (f.has("tokenizer.ggml.tokens"))
    c.vocab_size = vocabulary(int64_t(f.strings("tokenizer.ggml.tokens").size()), "tokenizer.ggml.tokens");
  else c.vocab_size = vocabulary(f.tensor("token_embd.weight").shape().at(0), "tensor 'token_embd.weight' (its rows)");
  io::check_shape_limits(c, f.path());
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;            // no output.weight: tied
  c.bos_token_id = int(f.find_integer("tokenizer.ggml.bos_token_id").value_or(c.bos_token_id));
  c.eos_token_id = int(f.find_integer("tokenizer.ggml.eos_token_id").value_or(c.eos_token_id));
  c.pad_token_id = int(f.find_integer("tokenizer.ggml.padding_token_id").value_or(c.pad_token_id));

  if (a.gguf_name != "llama") {
    // llama.cpp scales Gemma's scores by head_dim^-1/2, except the 27B models (46 layers for Gemma-2,
    // 62 for Gemma-3), whose query_pre_attn_scalar is hidden / heads.
    // (gemma-embedding always scales by head_dim.)
    const bool is_27b = a.gguf_name != "gemma-embedding" && c.num_layers == (a.gguf_name == "gemma2" ? 46 : 62);
    c.query_pre_attn_scalar = is_27b ? double(c.hidden_size / c.num_heads) : double(c.head_dim);
    // The layer types matter even without a window: Gemma-3's sliding layers have their own rotary base.
    c.sliding_layers = sliding_layers(f, std::string(a.gguf_name), c.num_layers);
    if (f.has(p + "attention.sliding_window")) c.sliding_window = positive(f, p + "attention.sliding_window");
    if (a.gguf_name == "gemma2") {
      // Absent soft-caps are llama.cpp's defaults (50, 30), as in Gemma2Config.
      c.attn_logit_softcapping = positive_number(f, p + "attn_logit_softcapping", 50.0);
      c.final_logit_softcapping = positive_number(f, p + "final_logit_softcapping", 30.0);
    } else {
      c.rope_local_theta = positive_number(f, p + "rope.freq_base_swa", 10000.0);   // llama.cpp's default
    }
  }
  return c;
}

}  // namespace bg2vec::gguf
