// Models read from GGUF files (made by llama.cpp's own converter from the HF fixtures) are the models
// they were converted from: the same config, the same weights once llama.cpp's conventions are undone
// (q/k row order for `llama`, 1 + w norms for Gemma), hence transformers' outputs. Damaged or
// unsupported files are refused with the file and the problem named.
#include <bg2vec/gguf/writer.hpp>
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <doctest/doctest.h>

#include <fstream>

#include "support.hpp"

namespace test_gguf_model {

using namespace bg2vec;

namespace {

// A GGUF fixture and the HF fixture it was converted from.
struct MistralF32 {
  static constexpr const char* gguf = "gguf/mistral-dev-f32.gguf";
  static constexpr const char* hf = "mistral-dev";
  static constexpr double tolerance = 1e-4;
};
struct Gemma3F32 {
  static constexpr const char* gguf = "gguf/gemma3-dev-f32.gguf";
  static constexpr const char* hf = "gemma3-dev";
  static constexpr double tolerance = 1e-4;
};
// Q8_0 stores each block of 32 weights as int8 times one f16 scale (max |w| / 127): every weight is off by
// up to half a step, about 0.4% of its block's largest. Through the 3 layers of this random model that
// gives 2.3-3.4% on hidden states, logits and pooling (measured); the bound leaves room above that.
struct Gemma3Q8 {
  static constexpr const char* gguf = "gguf/gemma3-dev-q8_0.gguf";
  static constexpr const char* hf = "gemma3-dev";
  static constexpr double tolerance = 5e-2;
};

using test::On;
using test::CausalWithoutWindow;

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A copy of a fixture with `from` replaced by `to` (same length, so every offset stays valid).
std::filesystem::path edited(const test::TempDir& dir, const char* fixture, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  std::string bytes = read_bytes(test::fixture(fixture));
  const auto at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, from.size(), to);
  const auto path = dir / (std::to_string(std::hash<std::string>{}(from + to)) + ".gguf");
  write_bytes(path, bytes);
  return path;
}

// A copy with the u32 value of metadata key `key` set to `value`.
std::filesystem::path with_u32(const test::TempDir& dir, const char* fixture, const std::string& key, uint32_t value) {
  std::string bytes = read_bytes(test::fixture(fixture));
  const auto at = bytes.find(key);
  REQUIRE(at != std::string::npos);
  uint32_t type = 0;
  std::memcpy(&type, bytes.data() + at + key.size(), 4);
  REQUIRE(type == 4);                                  // GGUF's UINT32
  std::memcpy(bytes.data() + at + key.size() + 4, &value, 4);
  const auto path = dir / (key + "-" + std::to_string(value) + ".gguf");
  write_bytes(path, bytes);
  return path;
}

std::string error_of(const std::filesystem::path& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE_TEMPLATE("a GGUF model has the config of the HF model it came from", F, MistralF32, Gemma3F32, Gemma3Q8) {
  const Model gguf = load_model(test::fixture(F::gguf));
  const io::ModelConfig hf = io::load_config(test::fixture(std::string("hf/") + F::hf));
  const io::ModelConfig& c = gguf.config();
  CHECK(c.vocab_size == hf.vocab_size);
  CHECK(c.hidden_size == hf.hidden_size);
  CHECK(c.intermediate_size == hf.intermediate_size);
  CHECK(c.num_layers == hf.num_layers);
  CHECK(c.num_heads == hf.num_heads);
  CHECK(c.num_kv_heads == hf.num_kv_heads);
  CHECK(c.head_dim == hf.head_dim);
  CHECK(c.rms_norm_eps == hf.rms_norm_eps);
  CHECK(c.tie_word_embeddings == hf.tie_word_embeddings);
  CHECK(c.embedding_scale() == hf.embedding_scale());
  CHECK(c.norm_weight_offset() == hf.norm_weight_offset());
  CHECK(c.attention_scale() == hf.attention_scale());
  CHECK(c.activation() == hf.activation());
  CHECK(c.qk_norms() == hf.qk_norms());
  CHECK(c.bos_token_id == hf.bos_token_id);
  CHECK(c.eos_token_id == hf.eos_token_id);
  CHECK(c.pad_token_id == hf.pad_token_id);
  for (int l = 0; l < c.num_layers; ++l) {
    CAPTURE(l);
    CHECK(c.window_of_layer(l) == hf.window_of_layer(l));
    CHECK(c.rope_theta_of_layer(l) == hf.rope_theta_of_layer(l));
  }
}

TEST_CASE_TEMPLATE("a float32 GGUF model has the HF model's weights (q/k rows and norm offsets undone)", F, MistralF32, Gemma3F32) {
  const Model gguf = load_model(test::fixture(F::gguf));
  const Model hf = load_model(test::fixture(std::string("hf/") + F::hf));
  REQUIRE(gguf.layout().tensors().size() == hf.layout().tensors().size());
  for (const auto& p : hf.layout().tensors()) {
    CAPTURE(p.name);
    REQUIRE(gguf.layout().contains(p.name));
    const auto a = gguf.parameter(p.name), b = hf.parameter(p.name);
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
    // exact, except (1 + w) - 1 in float32 for Gemma's norms: half an ulp of 1
    CHECK(worst <= (p.name.ends_with("norm.weight") ? 6e-8 : 0.0));
  }
}

TEST_CASE("a Q8_0 GGUF model's weights are the HF weights to within one quantization step") {
  const Model q8 = load_model(test::fixture(Gemma3Q8::gguf));
  const Model hf = load_model(test::fixture("hf/gemma3-dev"));
  for (const auto& p : hf.layout().tensors()) {
    CAPTURE(p.name);
    const auto a = q8.parameter(p.name), b = hf.parameter(p.name);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, double(std::abs(a[i] - b[i])));
      scale = std::max(scale, double(std::abs(b[i])));
    }
    // the norms stay float32 in the file; a matrix is off by at most one step of 1/127 of its largest weight
    CHECK(diff <= (p.shape.size() == 1 ? 6e-8 : scale / 127));
    if (p.shape.size() == 2) CHECK(diff > 0);       // the matrices really are quantized
  }
}

TEST_CASE_TEMPLATE("a GGUF model computes what transformers computes for the HF model", C, On<MistralF32, CausalWithoutWindow>,
                   On<MistralF32, Bidirectional>, On<Gemma3F32, CausalWithoutWindow>, On<Gemma3F32, Bidirectional>,
                   On<Gemma3Q8, CausalWithoutWindow>, On<Gemma3Q8, Bidirectional>) {
  using F = typename C::fixture;
  const auto& reference = test::hf_reference(F::hf);
  const Model model = load_model(test::fixture(F::gguf));
  const TokenBatch batch = io::read_token_batch(reference);
  const Decoder<typename C::attention> decoder(model);
  Activations acts(model.config(), batch.batch, batch.seq_len, /*keep_all_layers=*/true);
  std::vector<Matrix> outputs;
  decoder.forward(batch, acts, &outputs);
  const int L = model.config().num_layers;
  REQUIRE(outputs.size() == size_t(L + 2));
  for (int l = 0; l <= L; ++l) {
    CAPTURE(l);
    const Matrix& ours = l < L ? outputs[size_t(l)] : outputs.back();
    CHECK(test::relative_error(test::span_of(ours), reference.read_float32(C::prefix() + "hidden." + std::to_string(l))) < F::tolerance);
  }
  Matrix logits;
  decoder.logits(acts, logits);
  const double err = test::relative_error(test::span_of(logits), reference.read_float32(C::prefix() + "logits"));
  CHECK(err < F::tolerance);
  MESSAGE(std::string(F::gguf) << " " << C::prefix() << "logits: relative error " << err);
  const Matrix pooled = pool::pool_forward<pool::Mean>(acts.hidden(), batch);
  CHECK(test::relative_error(test::span_of(pooled), reference.read_float32(C::prefix() + "mean_pool")) < F::tolerance);
}

TEST_CASE("a Gemma-3 GGUF honours the sliding window under transformers' default mask") {
  const auto& reference = test::hf_reference("gemma3-dev");
  const Model model = load_model(test::fixture(Gemma3F32::gguf));
  const TokenBatch batch = io::read_token_batch(reference);
  REQUIRE(model.config().sliding_window == 6);
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  const Decoder<Causal> decoder(model);
  decoder.forward(batch, acts);
  Matrix logits;
  decoder.logits(acts, logits);
  const double err = test::relative_error(test::span_of(logits), reference.read_float32("default_logits"));
  CHECK(err < 1e-4);
  MESSAGE("gemma3-dev-f32.gguf default_logits: relative error " << err);
}

TEST_CASE("GGUF models that are not what they claim are refused, naming the file and the problem") {
  test::TempDir dir("gguf-model");
  SUBCASE("unknown architecture") {
    const auto path = edited(dir, Gemma3F32::gguf, "gemma3", "gemma9");
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("architecture 'gemma9' is not supported") != std::string::npos);
  }
  SUBCASE("a tensor the architecture does not have") {
    const auto path = edited(dir, MistralF32::gguf, "blk.1.ffn_up.weight", "blk.1.ffn_xx.weight");
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("unexpected tensor 'blk.1.ffn_xx.weight'") != std::string::npos);
  }
  SUBCASE("a tensor the metadata requires is missing") {
    const auto path = with_u32(dir, MistralF32::gguf, "llama.block_count", 3);
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("no tensor 'model.layers.2.input_layernorm.weight'") != std::string::npos);
  }
  SUBCASE("a dimension that contradicts the metadata") {
    const auto path = with_u32(dir, Gemma3F32::gguf, "gemma3.feed_forward_length", 96);
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("'blk.0.ffn_gate.weight' (model.layers.0.mlp.gate_proj.weight) has shape [128, 64], the GGUF metadata implies [96, 64]") !=
          std::string::npos);
  }
  SUBCASE("regression (fuzz_gguf_model, timeout): 2^30 layers are refused before anything is sized by them") {
    // The layer types were listed one per declared layer: 5 s and 128 MiB for a 1.6 KB file (and a
    // config-only `inspect` laid out 2^30 layers until it ran out of memory).
    const auto path = with_u32(dir, Gemma3F32::gguf, "gemma3.block_count", uint32_t(1) << 30);
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("the model declares 1073741824 layers, more than the 4096 bg2vec accepts") != std::string::npos);
  }
  SUBCASE("a tokenizer without tokens gives no vocabulary size") {
    // Without llama.vocab_size the vocabulary is the token list's length: an empty list is refused, not
    // taken for a model of 0 tokens.
    gguf::GgufWriter w;
    w.add_string("general.architecture", "llama");
    for (const auto& [key, value] : {std::pair{"embedding_length", 64}, {"feed_forward_length", 128}, {"block_count", 2},
                                     {"attention.head_count", 4}})
      w.add_u32(std::string("llama.") + key, uint32_t(value));
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_strings("tokenizer.ggml.tokens", {});
    const auto path = dir / "no-tokens.gguf";
    w.write(path);
    const std::string e = error_of(path);
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("tokenizer.ggml.tokens has 0 entries, not a vocabulary size") != std::string::npos);
  }
  SUBCASE("a layer count that the tensors do not have") {
    const auto path = with_u32(dir, MistralF32::gguf, "llama.block_count", 1);
    const std::string e = error_of(path);
    CHECK(e.find("unexpected tensor 'blk.1.") != std::string::npos);
  }
}

}  // namespace test_gguf_model
