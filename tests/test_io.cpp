// Model input/output: safetensors (read, write, validation), sharded folders, config.json, and the
// clear errors that bad files get.
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/train/checkpoint.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <doctest/doctest.h>

#include <fstream>

#include "support.hpp"

namespace test_io {

using namespace bg2vec;

namespace {

// A safetensors file from a raw header and data section, for crafting broken files.
void write_raw_safetensors(const std::filesystem::path& path, const std::string& header, size_t data_bytes,
                           std::optional<uint64_t> claimed_header_len = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = claimed_header_len.value_or(header.size());
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << std::string(data_bytes, '\0');
}

std::string error_of(const std::function<void()>& f) {
  try { f(); } catch (const Error& e) { return e.what(); }
  return "";
}

void copy_fixture_model(const std::filesystem::path& to) {
  std::filesystem::create_directories(to);
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(test::fixture(std::string("hf/mistral-dev/") + f), to / f);
}

nlohmann::json fixture_config() {
  std::ifstream in(test::fixture("hf/mistral-dev/config.json"));
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("safetensors: written tensors read back exactly, in every float dtype") {
  test::TempDir dir("io-roundtrip");
  const std::vector<float> values = {0.0f, 1.0f, -2.5f, 3.140625f, 1e-3f, 65504.0f};
  const std::vector<int64_t> ids = {1, 2, 3, 4};
  io::SafetensorsWriter w;
  w.add("f32", {2, 3}, values);
  w.add_bf16("bf16", {6}, values);
  w.add("ids", {2, 2}, ids);
  w.metadata("format", "pt");
  w.save(dir / "t.safetensors");

  const io::SafetensorsFile f(dir / "t.safetensors");
  CHECK(f.info("f32").shape == Shape{2, 3});
  CHECK(f.read_float32("f32") == values);
  CHECK(f.read_int64("ids") == ids);
  CHECK(f.metadata().at("format") == "pt");
  const auto bf = f.read_float32("bf16");
  for (size_t i = 0; i < values.size(); ++i) CHECK(bf[i] == doctest::Approx(values[i]).epsilon(1.0 / 128));
}

TEST_CASE("half-precision conversions agree with IEEE 754 and torch's bfloat16 rounding") {
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(f16_to_f32(0x0001) == doctest::Approx(5.960464477539063e-08));   // smallest subnormal
  CHECK(std::isinf(f16_to_f32(0x7c00)));
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(1e6f) == 0x7c00);
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f808000u)) == 0x3f80);      // tie rounds to even
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f818000u)) == 0x3f82);
}

TEST_CASE("bad safetensors files get an error naming the file and the problem") {
  test::TempDir dir("io-bad");
  const auto path = dir / "bad.safetensors";
  auto open_error = [&] { return error_of([&] { io::SafetensorsFile f(path); }); };

  SUBCASE("truncated: the data section is shorter than the header claims") {
    const auto model = test::fixture("hf/mistral-dev/model.safetensors");
    std::ifstream in(model, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const auto e = open_error();
    CHECK(e.find(path.string()) != std::string::npos);
    CHECK(e.find("out of range") != std::string::npos);
  }
  SUBCASE("shorter than the 8-byte header length") {
    std::ofstream(path, std::ios::binary) << "abc";
    CHECK(open_error().find("truncated") != std::string::npos);
  }
  SUBCASE("header length past the end of the file") {
    write_raw_safetensors(path, "{}", 0, 1000);
    CHECK(open_error().find("runs past the end") != std::string::npos);
  }
  SUBCASE("header that is not JSON") {
    write_raw_safetensors(path, "{not json", 0);
    CHECK(open_error().find("not valid JSON") != std::string::npos);
  }
  SUBCASE("data offsets out of range") {
    write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
    CHECK(open_error().find("out of range") != std::string::npos);
  }
  SUBCASE("overlapping tensors") {
    write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
    CHECK(open_error().find("overlap") != std::string::npos);
  }
  SUBCASE("offsets that disagree with the shape") {
    write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
    CHECK(open_error().find("needs 12 bytes") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    write_raw_safetensors(path, R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2);
    CHECK(open_error().find("unknown dtype \"F8_E4M3\"") != std::string::npos);
  }
}

TEST_CASE("a sharded model folder loads the same weights as a single file") {
  test::TempDir dir("io-sharded");
  const io::SafetensorsFile single(test::fixture("hf/mistral-dev/model.safetensors"));
  io::SafetensorsWriter first, second;
  nlohmann::json weight_map;
  bool to_first = true;                     // alternate tensors between the two shards
  for (const auto& [name, info] : single.tensors()) {
    (to_first ? first : second).add_bf16(name, info.shape, single.read_float32(name));
    weight_map[name] = to_first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    to_first = !to_first;
  }
  first.save(dir / "model-00001-of-00002.safetensors");
  second.save(dir / "model-00002-of-00002.safetensors");
  std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"weight_map", weight_map}}.dump();
  std::filesystem::copy_file(test::fixture("hf/mistral-dev/config.json"), dir / "config.json");

  const Model sharded = load_model(dir.path);
  const Model reference = load_model(test::fixture("hf/mistral-dev"));
  // bf16 storage: every weight within bf16's relative precision of the float32 original
  CHECK(test::relative_error(sharded.parameters(), reference.parameters()) < 1.0 / 128);
}

TEST_CASE("config.json in the transformers 4 layout (top-level rope_theta) gives the same config") {
  auto j = fixture_config();
  j.erase("rope_parameters");
  j["rope_theta"] = 10000.0;
  const auto c = io::parse_config(j, "config.json");
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.head_dim == 16);
  CHECK(c.num_kv_heads == 2);
  CHECK_FALSE(c.sliding_window.has_value());
  j.erase("head_dim");                      // derived from hidden_size / heads when absent
  j["sliding_window"] = 4096;
  const auto d = io::parse_config(j, "config.json");
  CHECK(d.head_dim == 16);
  CHECK(d.sliding_window == 4096);
}

TEST_CASE("config.json that we do not support is refused by name") {
  auto j = fixture_config();
  auto error = [&] { return error_of([&] { io::parse_config(j, "dir/config.json"); }); };
  SUBCASE("another architecture") {
    j["architectures"] = {"Qwen2ForCausalLM"};
    CHECK(error().find("dir/config.json: unsupported architecture Qwen2ForCausalLM") == 0);
  }
  SUBCASE("a missing field") {
    j.erase("num_hidden_layers");
    CHECK(error().find("missing required field \"num_hidden_layers\"") != std::string::npos);
  }
  SUBCASE("rope scaling") {
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    CHECK(error().find("rope_scaling") != std::string::npos);
  }
  SUBCASE("a rope type other than default") {
    j["rope_parameters"]["rope_type"] = "yarn";
    CHECK(error().find("rope_type \"yarn\" is not supported") != std::string::npos);
  }
  SUBCASE("biases") {
    j["attention_bias"] = true;
    CHECK(error().find("attention_bias") != std::string::npos);
  }
  SUBCASE("heads that do not group") {
    j["num_key_value_heads"] = 3;
    CHECK(error().find("not a multiple") != std::string::npos);
  }
}

nlohmann::json gemma2_config() {
  std::ifstream in(test::fixture("hf/gemma2-dev/config.json"));
  return nlohmann::json::parse(in);
}

TEST_CASE("a Gemma-2 config.json gives Gemma-2's traits") {
  auto j = gemma2_config();
  const auto c = io::parse_config(j, "config.json");
  CHECK(c.is_gemma2());
  CHECK(c.embedding_scale() == 8.0f);                  // sqrt(hidden_size 64)
  CHECK(c.norm_weight_offset() == 1.0f);
  CHECK(c.post_norms());
  CHECK(c.activation() == io::Activation::GeluTanh);
  CHECK(c.attention_scale() == 0.25f);                 // query_pre_attn_scalar 16
  CHECK(c.attn_logit_softcapping == 50.0);
  CHECK(c.final_logit_softcapping == 30.0);
  CHECK(c.tie_word_embeddings);
  CHECK(c.window_of_layer(0) == 8);
  CHECK(c.window_of_layer(1) == std::nullopt);
  SUBCASE("transformers 4 layout: no layer_types, even layers slide; hidden_act, null soft-caps") {
    j.erase("layer_types");
    j.erase("hidden_activation");
    j["hidden_act"] = "gelu_pytorch_tanh";
    j["final_logit_softcapping"] = nullptr;
    const auto d = io::parse_config(j, "config.json");
    CHECK(d.window_of_layer(0) == 8);
    CHECK(d.window_of_layer(1) == std::nullopt);
    CHECK_FALSE(d.final_logit_softcapping.has_value());
  }
  SUBCASE("absent fields take Gemma2Config's defaults, as in real checkpoints' config.json (tied, caps 50/30)") {
    j.erase("tie_word_embeddings");
    j.erase("attn_logit_softcapping");
    j.erase("final_logit_softcapping");
    const auto d = io::parse_config(j, "config.json");
    CHECK(d.tie_word_embeddings);
    CHECK(d.attn_logit_softcapping == 50.0);
    CHECK(d.final_logit_softcapping == 30.0);
    CHECK_FALSE(io::parse_config(fixture_config(), "config.json").tie_word_embeddings);   // Mistral says false
  }
  SUBCASE("Mistral keeps its defaults: every layer slides, no scale, no offset") {
    auto m = fixture_config();
    m["sliding_window"] = 4;
    const auto d = io::parse_config(m, "config.json");
    CHECK(d.window_of_layer(1) == 4);
    CHECK(d.embedding_scale() == 1.0f);
    CHECK(d.norm_weight_offset() == 0.0f);
    CHECK_FALSE(d.post_norms());
    CHECK(d.attention_scale() == doctest::Approx(0.25));
  }
}

TEST_CASE("Gemma-2 configs we do not implement are refused by name") {
  auto j = gemma2_config();
  auto error = [&] { return error_of([&] { io::parse_config(j, "dir/config.json"); }); };
  SUBCASE("Gemma-3's multimodal model and Gemma-1") {
    j["architectures"] = {"Gemma3ForConditionalGeneration"};
    CHECK(error().find("dir/config.json: unsupported architecture Gemma3ForConditionalGeneration") == 0);
    j["architectures"] = {"GemmaForCausalLM"};
    CHECK(error().find("unsupported architecture GemmaForCausalLM") != std::string::npos);
  }
  SUBCASE("another activation") {
    j["hidden_activation"] = "gelu";
    CHECK(error() == "dir/config.json: hidden_activation \"gelu\" is not supported for Gemma2ForCausalLM (only gelu_pytorch_tanh)");
  }
  SUBCASE("biases") {
    j["attention_bias"] = true;
    CHECK(error() == "dir/config.json: attention_bias = true is not supported (bias-free layers only)");
  }
  SUBCASE("another rope type") {
    j["rope_parameters"]["rope_type"] = "linear";
    CHECK(error().find("rope_type \"linear\" is not supported") != std::string::npos);
  }
  SUBCASE("no query_pre_attn_scalar") {
    j.erase("query_pre_attn_scalar");
    CHECK(error().find("dir/config.json: missing required field \"query_pre_attn_scalar\"") == 0);
  }
  SUBCASE("a soft-cap that is not a positive number") {
    j["attn_logit_softcapping"] = -1;
    CHECK(error().find("\"attn_logit_softcapping\" must be null or a positive number") != std::string::npos);
  }
  SUBCASE("a layer type we do not know, or one too few") {
    j["layer_types"] = {"sliding_attention", "chunked_attention"};
    CHECK(error().find("layer_types entry \"chunked_attention\" is not supported") != std::string::npos);
    j["layer_types"] = {"sliding_attention"};
    CHECK(error().find("layer_types must list one type per layer (2)") != std::string::npos);
  }
  SUBCASE("bidirectional attention baked into the config") {
    j["use_bidirectional_attention"] = true;
    CHECK(error().find("use_bidirectional_attention") != std::string::npos);
  }
}

TEST_CASE("a Gemma-2 model saves and loads back unchanged (four norms per layer, tied embeddings)") {
  const Model model = load_model(test::fixture("hf/gemma2-dev"));
  CHECK(model.layout().contains("model.layers.1.pre_feedforward_layernorm.weight"));
  CHECK(model.layout().contains("model.layers.1.post_feedforward_layernorm.weight"));
  CHECK_FALSE(model.layout().contains("lm_head.weight"));
  test::TempDir dir("io-gemma2");
  save_model(model, dir.path);
  const Model back = load_model(dir.path);
  CHECK(back.parameters() == model.parameters());
  std::ifstream in(dir / "config.json");
  const auto j = nlohmann::json::parse(in);
  CHECK(j["model_type"] == "gemma2");
  CHECK(j["hidden_activation"] == "gelu_pytorch_tanh");
  CHECK_FALSE(j.contains("hidden_act"));
  CHECK(j["layer_types"] == nlohmann::json{"sliding_attention", "full_attention"});
  CHECK(j["query_pre_attn_scalar"] == 16.0);
  CHECK(j["final_logit_softcapping"] == 30.0);
}

nlohmann::json gemma3_config() {
  std::ifstream in(test::fixture("hf/gemma3-dev/config.json"));
  return nlohmann::json::parse(in);
}

// Every field of two configs but `raw` agrees.
void check_same_config(const io::ModelConfig& a, const io::ModelConfig& b) {
  CHECK(a.architecture == b.architecture);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.num_layers == b.num_layers);
  CHECK(a.num_heads == b.num_heads);
  CHECK(a.num_kv_heads == b.num_kv_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.rope_theta == b.rope_theta);
  CHECK(a.rope_local_theta == b.rope_local_theta);
  CHECK(a.rms_norm_eps == b.rms_norm_eps);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(a.sliding_window == b.sliding_window);
  CHECK(a.sliding_layers == b.sliding_layers);
  CHECK(a.bos_token_id == b.bos_token_id);
  CHECK(a.eos_token_id == b.eos_token_id);
  CHECK(a.pad_token_id == b.pad_token_id);
  CHECK(a.query_pre_attn_scalar == b.query_pre_attn_scalar);
  CHECK(a.attn_logit_softcapping == b.attn_logit_softcapping);
  CHECK(a.final_logit_softcapping == b.final_logit_softcapping);
}

TEST_CASE("a Gemma-3 config.json gives Gemma-3's traits, in the layouts of transformers 5 and 4") {
  auto j = gemma3_config();
  const auto c = io::parse_config(j, "config.json");
  CHECK(c.is_gemma3());
  CHECK(c.is_gemma());
  CHECK_FALSE(c.is_gemma2());
  CHECK(c.embedding_scale() == 8.0f);                  // sqrt(hidden_size 64)
  CHECK(c.norm_weight_offset() == 1.0f);
  CHECK(c.post_norms());
  CHECK(c.qk_norms());
  CHECK(c.activation() == io::Activation::GeluTanh);
  CHECK(c.attention_scale() == 0.25f);                 // query_pre_attn_scalar 16
  CHECK_FALSE(c.attn_logit_softcapping.has_value());
  CHECK_FALSE(c.final_logit_softcapping.has_value());
  CHECK(c.tie_word_embeddings);
  CHECK(c.sliding_layers == std::vector<bool>{true, true, false});
  CHECK(c.window_of_layer(0) == 6);
  CHECK(c.window_of_layer(2) == std::nullopt);
  CHECK(c.rope_theta == 1e6);
  CHECK(c.rope_local_theta == 1e4);
  CHECK(c.rope_theta_of_layer(1) == 1e4);
  CHECK(c.rope_theta_of_layer(2) == 1e6);
  CHECK_FALSE(io::parse_config(fixture_config(), "config.json").qk_norms());
  CHECK_FALSE(io::parse_config(gemma2_config(), "config.json").qk_norms());
  CHECK_FALSE(io::parse_config(gemma2_config(), "config.json").rope_local_theta.has_value());
  CHECK(io::parse_config(gemma2_config(), "config.json").rope_theta_of_layer(0) == 1e4);

  SUBCASE("transformers 4: top-level rope_theta and rope_local_base_freq, sliding_window_pattern, null rope_scaling") {
    j.erase("layer_types");
    j.erase("rope_parameters");
    j.erase("_sliding_window_pattern");
    j["rope_theta"] = 1e6;
    j["rope_local_base_freq"] = 1e4;
    j["rope_scaling"] = nullptr;
    j["sliding_window_pattern"] = 3;                   // layers 0, 1 slide, layer 2 is global
    check_same_config(io::parse_config(j, "config.json"), c);
  }
  SUBCASE("without layer_types the pattern decides, 6 by default (also as _sliding_window_pattern)") {
    j.erase("layer_types");
    j.erase("_sliding_window_pattern");
    j["num_hidden_layers"] = 7;
    CHECK(io::parse_config(j, "config.json").sliding_layers == std::vector<bool>{true, true, true, true, true, false, true});
    j["_sliding_window_pattern"] = 2;
    CHECK(io::parse_config(j, "config.json").sliding_layers == std::vector<bool>{true, false, true, false, true, false, true});
  }
  SUBCASE("flat rope_parameters {rope_theta}: the full layers' base; the sliding layers' from rope_local_base_freq") {
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e5}};
    CHECK(io::parse_config(j, "config.json").rope_theta == 5e5);
    CHECK(io::parse_config(j, "config.json").rope_local_theta == 1e4);
    j["rope_local_base_freq"] = 2e4;
    CHECK(io::parse_config(j, "config.json").rope_local_theta == 2e4);
  }
  SUBCASE("absent fields take Gemma3TextConfig's defaults: tied, no soft-caps, bases 1e6 / 1e4, window 4096") {
    for (const char* f : {"tie_word_embeddings", "attn_logit_softcapping", "final_logit_softcapping", "rope_parameters", "sliding_window"})
      j.erase(f);
    const auto d = io::parse_config(j, "config.json");
    CHECK(d.tie_word_embeddings);
    CHECK_FALSE(d.attn_logit_softcapping.has_value());
    CHECK_FALSE(d.final_logit_softcapping.has_value());
    CHECK(d.rope_theta == 1e6);
    CHECK(d.rope_local_theta == 1e4);
    CHECK(d.sliding_window == 4096);
  }
  SUBCASE("soft-caps, where a config gives them, apply as for Gemma-2") {
    j["attn_logit_softcapping"] = 50.0;
    j["final_logit_softcapping"] = 30.0;
    const auto d = io::parse_config(j, "config.json");
    CHECK(d.attn_logit_softcapping == 50.0);
    CHECK(d.final_logit_softcapping == 30.0);
  }
}

TEST_CASE("Gemma-3 configs we do not implement are refused by name (the file and the field)") {
  auto j = gemma3_config();
  auto error = [&] { return error_of([&] { io::parse_config(j, "dir/config.json"); }); };
  SUBCASE("scaled rotary embeddings (the 4B+ models' linear scaling), in either layout") {
    j["rope_parameters"]["full_attention"] = {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 1e6}};
    CHECK(error() == "dir/config.json: rope_parameters.full_attention.rope_type \"linear\" is not supported (only \"default\")");
    j.erase("rope_parameters");
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
    CHECK(error().find("dir/config.json: rope_scaling {\"factor\":8.0,\"rope_type\":\"linear\"} is not supported") == 0);
  }
  SUBCASE("a rope_parameters entry for a layer type we do not know") {
    j["rope_parameters"]["chunked_attention"] = {{"rope_type", "default"}, {"rope_theta", 1e4}};
    CHECK(error() == "dir/config.json: rope_parameters entry \"chunked_attention\" is not supported (only full_attention and sliding_attention)");
  }
  SUBCASE("a rotary base that is not a positive number") {
    j["rope_parameters"]["sliding_attention"]["rope_theta"] = -1;
    CHECK(error() == "dir/config.json: rope_parameters.sliding_attention.rope_theta must be a positive number, got -1");
  }
  SUBCASE("bidirectional attention baked into the config (EmbeddingGemma)") {
    j["use_bidirectional_attention"] = true;
    CHECK(error().find("dir/config.json: use_bidirectional_attention = true is not supported") == 0);
  }
  SUBCASE("another activation") {
    j["hidden_activation"] = "gelu";
    CHECK(error() == "dir/config.json: hidden_activation \"gelu\" is not supported for Gemma3ForCausalLM (only gelu_pytorch_tanh)");
  }
  SUBCASE("biases") {
    j["attention_bias"] = true;
    CHECK(error() == "dir/config.json: attention_bias = true is not supported (bias-free layers only)");
    j["attention_bias"] = false;
    j["mlp_bias"] = true;
    CHECK(error() == "dir/config.json: mlp_bias = true is not supported (bias-free layers only)");
  }
  SUBCASE("no query_pre_attn_scalar") {
    j.erase("query_pre_attn_scalar");
    CHECK(error().find("dir/config.json: missing required field \"query_pre_attn_scalar\"") == 0);
  }
  SUBCASE("a sliding pattern that is not a positive integer") {
    j.erase("layer_types");
    j["_sliding_window_pattern"] = 0;
    CHECK(error() == "dir/config.json: field \"_sliding_window_pattern\" must be a positive integer, got 0");
  }
  SUBCASE("rope_parameters keyed by layer type on an architecture without per-layer bases") {
    auto m = fixture_config();
    m["rope_parameters"] = j["rope_parameters"];
    CHECK(error_of([&] { io::parse_config(m, "dir/config.json"); }) ==
          "dir/config.json: rope_parameters keyed by layer type are not supported for MistralForCausalLM (only for Gemma3ForCausalLM)");
  }
}

TEST_CASE("a Gemma-3 model saves and loads back unchanged; its config.json is transformers 5's Gemma3ForCausalLM") {
  const Model model = load_model(test::fixture("hf/gemma3-dev"));
  CHECK(model.layout().contains("model.layers.2.self_attn.q_norm.weight"));
  CHECK(model.layout()["model.layers.2.self_attn.k_norm.weight"].shape == Shape{16});
  CHECK_FALSE(model.layout().contains("lm_head.weight"));
  test::TempDir dir("io-gemma3");
  save_model(model, dir.path);
  const Model back = load_model(dir.path);
  CHECK(back.parameters() == model.parameters());
  check_same_config(back.config(), model.config());
  std::ifstream in(dir / "config.json");
  const auto j = nlohmann::json::parse(in);
  CHECK(j["architectures"] == nlohmann::json{"Gemma3ForCausalLM"});
  CHECK(j["model_type"] == "gemma3_text");
  CHECK(j["hidden_activation"] == "gelu_pytorch_tanh");
  CHECK(j["head_dim"] == 16);
  CHECK(j["query_pre_attn_scalar"] == 16.0);
  CHECK(j["sliding_window"] == 6);
  CHECK(j["layer_types"] == nlohmann::json{"sliding_attention", "sliding_attention", "full_attention"});
  CHECK(j["rope_parameters"] == nlohmann::json{{"full_attention", {{"rope_type", "default"}, {"rope_theta", 1e6}}},
                                               {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}});
  CHECK(j["attn_logit_softcapping"].is_null());
  CHECK(j["final_logit_softcapping"].is_null());
  CHECK(j["tie_word_embeddings"] == true);

  SUBCASE("a config built field by field (as from GGUF) round-trips too, and so does transformers 4's layout") {
    io::ModelConfig c;
    c.architecture = "Gemma3ForCausalLM";
    c.vocab_size = 100; c.hidden_size = 32; c.intermediate_size = 64; c.num_layers = 7;
    c.num_heads = 2; c.num_kv_heads = 1; c.head_dim = 16;
    c.rope_theta = 1e6; c.rope_local_theta = 1e4; c.rms_norm_eps = 1e-6; c.tie_word_embeddings = true;
    c.sliding_window = 512; c.sliding_layers = {true, true, true, true, true, false, true};
    c.query_pre_attn_scalar = 16; c.bos_token_id = 2; c.eos_token_id = 1;
    check_same_config(io::parse_config(io::to_json(c), "config.json"), c);

    auto v4 = gemma3_config();
    v4.erase("layer_types");
    v4.erase("rope_parameters");
    v4["rope_theta"] = 1e6;
    v4["rope_local_base_freq"] = 1e4;
    v4["sliding_window_pattern"] = 3;
    const auto from_v4 = io::parse_config(v4, "config.json");
    const auto written = io::to_json(from_v4);
    CHECK(written["rope_theta"] == 1e6);               // transformers 4's fields kept in step
    CHECK(written["rope_local_base_freq"] == 1e4);
    check_same_config(io::parse_config(written, "config.json"), from_v4);
  }
}

TEST_CASE("model weights that do not fit config.json are refused") {
  test::TempDir dir("io-model");
  copy_fixture_model(dir.path);
  const io::SafetensorsFile original(dir / "model.safetensors");
  auto rewrite_without = [&](const std::string& skip, const std::string& reshape, const std::string& extra) {
    io::SafetensorsWriter w;
    for (const auto& [name, info] : original.tensors()) {
      if (name == skip) continue;
      auto data = original.read_float32(name);
      Shape shape = info.shape;
      if (name == reshape) { shape = {int64_t(data.size())}; }
      w.add(name, shape, data);
    }
    if (!extra.empty()) { std::vector<float> b(64, 0.0f); w.add(extra, {64}, b); }
    w.save(dir / "model.tmp.safetensors");
  };
  auto error = [&] {
    std::filesystem::rename(dir / "model.tmp.safetensors", dir / "model.safetensors");
    return error_of([&] { load_model(dir.path); });
  };
  SUBCASE("a tensor is missing") {
    rewrite_without("model.layers.1.mlp.up_proj.weight", "", "");
    CHECK(error().find("no tensor 'model.layers.1.mlp.up_proj.weight'") != std::string::npos);
  }
  SUBCASE("a tensor has the wrong shape") {
    rewrite_without("", "model.layers.0.self_attn.k_proj.weight", "");
    const auto e = error();
    CHECK(e.find("model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [2048], config.json implies [32, 64]") !=
          std::string::npos);
  }
  SUBCASE("a bias the architecture does not have") {
    rewrite_without("", "", "model.layers.0.self_attn.q_proj.bias");
    CHECK(error().find("biases are not supported") != std::string::npos);
  }
  SUBCASE("no weights at all") {
    std::filesystem::remove(dir / "model.safetensors");
    CHECK(error_of([&] { load_model(dir.path); }).find("no model.safetensors") != std::string::npos);
  }
}

TEST_CASE("token ids out of the vocabulary and empty input are refused before any computation") {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  Decoder<Causal> decoder(model);
  TokenBatch batch{1, 3, {1, 5, 384}, {1, 1, 1}, {}};
  Activations acts(model.config(), 1, 3, false);
  CHECK(error_of([&] { decoder.forward(batch, acts); }) ==
        "token id 384 at [0, 2] is out of the vocabulary (size 384)");
  TokenBatch padded{1, 3, {0, 0, 0}, {0, 0, 0}, {}};
  CHECK(error_of([&] { decoder.forward(padded, acts); }).find("empty input") == 0);
  TokenBatch none{0, 0, {}, {}, {}};
  CHECK(error_of([&] { decoder.forward(none, acts); }).find("empty input") == 0);
}

TEST_CASE("a token batch file must hold matching [B, T] int64 ids and mask") {
  test::TempDir dir("io-batch");
  io::SafetensorsWriter w;
  std::vector<int64_t> ids = {1, 2, 3, 4, 5, 6}, mask = {1, 1, 1, 1};
  w.add("input_ids", {2, 3}, ids);
  w.add("attention_mask", {2, 2}, mask);
  w.save(dir / "b.safetensors");
  const io::SafetensorsFile f(dir / "b.safetensors");
  CHECK(error_of([&] { io::read_token_batch(f); }).find("'attention_mask' has shape [2, 2] but 'input_ids' has [2, 3]") !=
        std::string::npos);
}

// Regressions from fuzzing the readers (tests/fuzz/, docs/reliability.md): each case is the input class a
// fuzz target or the sanitizer build showed to get past a reader.
TEST_CASE("regression (fuzz_safetensors): a shape whose element count overflows is refused, not taken for an empty tensor") {
  test::TempDir dir("io-overflow");
  const auto path = dir / "overflow.safetensors";
  // 2^62 x 4 float32 = 2^66 bytes: the products wrapped to 0 and matched the empty range [0, 0).
  write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", 0);
  CHECK_THROWS_WITH_AS(io::SafetensorsFile{path}, doctest::Contains("overflow.safetensors: tensor 'a': shape [4611686018427387904, 4] of F32 has too many elements"), Error);
  write_raw_safetensors(path, R"({"a":{"dtype":"BF16","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", 0);
  CHECK_THROWS_WITH_AS(io::SafetensorsFile{path}, doctest::Contains("has too many elements"), Error);
  // An honest empty tensor (a zero dimension) is still read.
  write_raw_safetensors(path, R"({"a":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}})", 0);
  CHECK(io::SafetensorsFile(path).info("a").elements() == 0);
}

TEST_CASE("regression (fuzz_hf_config): config.json values of the wrong type name the file and the field") {
  test::TempDir dir("io-config-types");
  const auto error_with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json c = fixture_config();
    c[key] = value;
    std::ofstream(dir / "config.json") << c.dump();
    return error_of([&] { io::load_config(dir.path); });   // an nlohmann::json::type_error escaped before
  };
  const std::string file = (dir / "config.json").string() + ": ";
  CHECK(error_with("tie_word_embeddings", "yes") == file + "tie_word_embeddings must be true or false, got \"yes\"");
  CHECK(error_with("attention_bias", 0) == file + "attention_bias must be true or false, got 0");
  CHECK(error_with("hidden_act", 7) == file + "hidden_act must be a string, got 7");
  CHECK(error_with("sliding_window", int64_t(1) << 40) == file + "sliding_window must be null or a positive integer");
  CHECK(error_with("tie_word_embeddings", nullptr).empty());   // null: the architecture's default
}

TEST_CASE("regression (fuzz_gguf_model, timeout): config.json shapes beyond any model are refused before anything is sized") {
  test::TempDir dir("io-config-limits");
  const auto error_with = [&](const std::vector<std::pair<const char*, int64_t>>& values) {
    nlohmann::json c = fixture_config();
    for (const auto& [key, value] : values) c[key] = value;
    std::ofstream(dir / "config.json") << c.dump();
    return error_of([&] { io::load_config(dir.path); });
  };
  const std::string file = (dir / "config.json").string() + ": ";
  CHECK(error_with({{"num_hidden_layers", 4096}}).empty());
  CHECK(error_with({{"num_hidden_layers", 4097}}) == file + "the model declares 4097 layers, more than the 4096 bg2vec accepts");
  CHECK(error_with({{"num_hidden_layers", 1 << 30}}) == file + "the model declares 1073741824 layers, more than the 4096 bg2vec accepts");
  // heads x head_dim overflowed an int (q_dim()) before
  CHECK(error_with({{"num_attention_heads", 1 << 20}, {"num_key_value_heads", 1 << 20}, {"head_dim", 1 << 20}}) ==
        file + "the model declares 1048576 heads of 1048576 dimensions, more than 2^30 in all");
  CHECK(error_with({{"hidden_size", 1 << 30}, {"intermediate_size", 1 << 30}, {"head_dim", 16}}) ==
        file + "the model's shapes declare about 6.92e+18 parameters, more than the 2^42 bg2vec accepts");
  // BgGPT-7B's shapes (7.3e9 parameters) pass
  CHECK(error_with({{"hidden_size", 4096}, {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 8}, {"head_dim", 128}, {"vocab_size", 38000}})
            .empty());
}

TEST_CASE("regression (fuzz_peft_config): adapter_config.json ranks out of range and values of the wrong type are refused") {
  test::TempDir dir("io-adapter-config");
  const auto error_with = [&](const std::string& text) {
    std::ofstream(dir / "adapter_config.json") << text;
    return error_of([&] { peft::read_adapter_config(dir.path); });
  };
  const std::string file = (dir / "adapter_config.json").string() + ": ";
  const std::string base = R"({"peft_type": "LORA", "lora_alpha": 16, "target_modules": ["q_proj"], )";
  CHECK(error_with(base + R"("r": 8})").empty());
  CHECK(error_with(base + R"("r": -4})") == file + "\"r\" must be a positive integer (at most 65536), got -4");
  CHECK(error_with(base + R"("r": 0})") == file + "\"r\" must be a positive integer (at most 65536), got 0");
  CHECK(error_with(base + R"("r": 1099511627776})") == file + "\"r\" must be a positive integer (at most 65536), got 1099511627776");
  CHECK(error_with(base + R"("r": 8, "lora_dropout": "high"})") == file + "lora_dropout must be a number in [0, 1), got \"high\"");
  CHECK(error_with(base + R"("r": 8, "lora_dropout": 1.5})") == file + "lora_dropout must be a number in [0, 1), got 1.5");
  CHECK(error_with(R"({"peft_type": 7})") == file + "peft_type must be \"LORA\"");
  CHECK(error_with("[1, 2]") == file + "not a JSON object");
}

// Regressions from fuzzing the checkpoint reader (tests/fuzz/fuzz_checkpoint.cpp).
TEST_CASE("regression (fuzz_checkpoint): trainer_state.json fields of the wrong type and moments of the wrong size are refused") {
  test::TempDir dir("train-ckpt-types");
  std::vector<float> params(4, 0.5f);
  train::AdamW adamw;
  adamw.m().assign(4, 0.1f);
  adamw.v().assign(4, 0.2f);
  train::save_checkpoint(dir.path, params, &adamw, {3, 7, "mntp"});
  const auto json_file = dir / "checkpoint" / "trainer_state.json";
  nlohmann::json good;
  std::ifstream(json_file) >> good;
  const auto error_with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[key] = value;
    std::ofstream(json_file) << j.dump();
    train::AdamW fresh;
    try {
      train::load_checkpoint(dir / "checkpoint", params, &fresh, "mntp");
    } catch (const Error& e) {   // an nlohmann::json::type_error escaped before, naming no file
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string file = json_file.string() + ": damaged checkpoint: ";
  CHECK(error_with("step", 3).empty());
  CHECK(error_with("objective", 3) == file + "\"objective\" is not a string");
  CHECK(error_with("checksum", nullptr) == file + "\"checksum\" is not a string");
  CHECK(error_with("step", "three") == file + "\"step\" is not a non-negative integer");
  CHECK(error_with("parameters", -4) == file + "\"parameters\" is not a non-negative integer");
  CHECK(error_with("adamw_steps", nullptr) == file + "\"adamw_steps\" is not a non-negative integer");

  // AdamW moments of 3 values for 4 parameters (checksum and sizes otherwise right): they were taken as
  // they were, and the first step after the resume failed.
  io::SafetensorsWriter w;
  const std::vector<float> four(4, 0.5f), three(3, 0.1f);
  w.add("params", {4}, four);
  w.add("adamw.m", {3}, three);
  w.add("adamw.v", {4}, four);
  w.save(dir / "checkpoint" / "state.safetensors");
  nlohmann::json j = good;
  j["checksum"] = std::to_string(train::fnv1a(io::MappedFile(dir / "checkpoint" / "state.safetensors").bytes()));
  std::ofstream(json_file) << j.dump();
  train::AdamW fresh;
  CHECK_THROWS_WITH_AS(train::load_checkpoint(dir / "checkpoint", params, &fresh, "mntp"),
                       doctest::Contains("state.safetensors: tensor 'adamw.m' has 3 elements, expected 4"), Error);
  CHECK(fresh.m().empty());
}

TEST_CASE("regression (fuzz_safetensors, UBSan): an empty tensor reads without a memcpy to or from a null pointer") {
  test::TempDir dir("io-empty");
  const auto path = dir / "empty.safetensors";
  write_raw_safetensors(path, R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"h":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}})", 0);
  const io::SafetensorsFile file(path);
  CHECK(file.read_float32("e").empty());   // memcpy(nullptr, map, 0): undefined, reported by the sanitizer build
  CHECK(file.read_float32("h").empty());
}

TEST_CASE("regression (fuzz_safetensors, UBSan): an empty integer tensor reads without a memcpy to a null pointer") {
  test::TempDir dir("io-empty-int");
  const auto path = dir / "empty.safetensors";
  write_raw_safetensors(path,
                        R"({"i":{"dtype":"I64","shape":[0],"data_offsets":[0,0]},"j":{"dtype":"I32","shape":[3,0],"data_offsets":[0,0]},)"
                        R"("f":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                        0);
  const io::SafetensorsFile file(path);
  CHECK(file.read_int64("i").empty());   // memcpy(nullptr, map, 0) into the empty vector: undefined behaviour
  CHECK(file.read_int64("j").empty());
  CHECK_THROWS_WITH_AS(file.read_int64("f"), doctest::Contains("has dtype F32, expected I64 or I32"), Error);
}

}  // namespace test_io
