#pragma once
// LoRA adapters in PEFT's format: `adapter_config.json` (peft_type LORA, r, lora_alpha, lora_dropout,
// target_modules, ...) and `adapter_model.safetensors` with tensors named
// `base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight` ([r, in]) and `...lora_B.weight`
// ([out, r]). PEFT saves without the adapter name; names with `.default` (an in-memory PEFT model's)
// are accepted too. Options that change the math and that we do not implement are refused by name.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/lora.hpp>

#include <cmath>
#include <fstream>
#include <set>

namespace bg2vec::peft {

// The largest LoRA rank an adapter_config.json may ask for (PEFT's ranks are 4 to 256 in practice).
inline constexpr int64_t kMaxLoraRank = 65536;

inline LoraConfig read_adapter_config(const std::filesystem::path& dir) {
  const auto file = dir / "adapter_config.json";
  std::ifstream in(file);
  if (!in) fail(file, "cannot open (is " + dir.string() + " a PEFT adapter folder?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(file, "not a JSON object");
  if (!j.contains("peft_type") || j["peft_type"] != "LORA") fail(file, "peft_type must be \"LORA\"");
  for (const char* flag : {"use_dora", "use_rslora", "fan_in_fan_out", "use_qalora"})
    if (j.contains(flag) && j[flag].is_boolean() && j[flag].get<bool>()) fail(file, std::string(flag) + " = true is not supported");
  if (j.contains("bias") && j["bias"] != "none") fail(file, "bias \"" + j["bias"].dump() + "\" is not supported (only \"none\")");
  for (const char* unsupported : {"layers_to_transform", "modules_to_save"})
    if (j.contains(unsupported) && !j[unsupported].is_null()) fail(file, std::string(unsupported) + " is not supported");
  for (const char* pattern : {"rank_pattern", "alpha_pattern"})
    if (j.contains(pattern) && !j[pattern].is_null() && !j[pattern].empty()) fail(file, std::string(pattern) + " is not supported");
  LoraConfig c;
  if (!j.contains("r") || !j["r"].is_number_integer()) fail(file, "missing integer \"r\"");
  // Bounded, as every size read from a file: a rank of 2^40 would wrap in an int or allocate terabytes.
  if (j["r"].get<int64_t>() <= 0 || j["r"].get<int64_t>() > kMaxLoraRank)
    fail(file, "\"r\" must be a positive integer (at most " + std::to_string(kMaxLoraRank) + "), got " + j["r"].dump());
  c.rank = j["r"].get<int>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number() || !std::isfinite(j["lora_alpha"].get<double>()))
    fail(file, "missing number \"lora_alpha\"");
  c.alpha = j["lora_alpha"].get<float>();
  c.dropout = 0.0f;
  if (j.contains("lora_dropout") && !j["lora_dropout"].is_null()) {
    const auto& d = j["lora_dropout"];
    if (!d.is_number() || !(d.get<double>() >= 0 && d.get<double>() < 1))
      fail(file, "lora_dropout must be a number in [0, 1), got " + d.dump());
    c.dropout = d.get<float>();
  }
  if (!j.contains("target_modules") || !j["target_modules"].is_array())
    fail(file, "\"target_modules\" must be a list of module names (a regular expression is not supported)");
  c.targets.clear();
  for (const auto& t : j["target_modules"]) {
    if (!t.is_string()) fail(file, "target_modules must hold strings");
    c.targets.push_back(t.get<std::string>());
  }
  return c;
}

// Loads an adapter for the model of `config`; an adapter made for another shape is refused naming the
// tensor and both shapes, and so is an unknown target or a tensor the adapter should not have.
inline LoraAdapter load_adapter(const std::filesystem::path& dir, const io::ModelConfig& config) {
  LoraConfig lora = read_adapter_config(dir);
  for (const auto& t : lora.targets)
    if (LoraLayout::module_index(t) < 0)
      fail(dir / "adapter_config.json", "target module '" + t + "' does not exist in " + config.architecture +
                                            " (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj)");
  LoraAdapter adapter(config, lora);
  const io::SafetensorsFile file(dir / "adapter_model.safetensors");
  std::set<std::string> used;
  for (const auto& t : adapter.layout().tensors()) {
    std::string name = t.name;
    if (!file.contains(name)) {
      const std::string with_default = name.substr(0, name.size() - 7) + ".default.weight";   // ".weight"
      if (!file.contains(with_default)) fail(file.path(), "missing tensor '" + name + "' (adapter for another model or other targets?)");
      name = with_default;
    }
    const auto& info = file.info(name);
    if (info.shape != t.shape)
      fail(file.path(), "tensor '" + name + "' has shape " + io::shape_string(info.shape) + ", this model needs " +
                            io::shape_string(t.shape) + ": the adapter was made for another model");
    file.read_float32(name, adapter.parameter(t));
    used.insert(name);
  }
  for (const auto& [name, info] : file.tensors())
    if (!used.count(name)) fail(file.path(), "unexpected tensor '" + name + "' (adapter for another model, or options we do not support)");
  return adapter;
}

// Writes adapter_config.json and adapter_model.safetensors (float32) into dir, each atomically.
inline void save_adapter(const LoraAdapter& adapter, const std::filesystem::path& dir, const std::string& base_model = "") {
  std::filesystem::create_directories(dir);
  io::SafetensorsWriter writer;
  writer.metadata("format", "pt");
  for (const auto& t : adapter.layout().tensors()) writer.add(t.name, t.shape, adapter.parameter(t));
  writer.save(dir / "adapter_model.safetensors");
  const LoraConfig& c = adapter.config();
  nlohmann::json j = {
      {"peft_type", "LORA"}, {"task_type", nullptr}, {"base_model_name_or_path", base_model},
      {"r", c.rank}, {"lora_alpha", c.alpha}, {"lora_dropout", c.dropout}, {"target_modules", c.targets},
      {"bias", "none"}, {"fan_in_fan_out", false}, {"use_rslora", false}, {"use_dora", false},
      {"init_lora_weights", true}, {"inference_mode", true}, {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr}, {"layers_pattern", nullptr}, {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()}, {"revision", nullptr}};
  write_file_atomically(dir / "adapter_config.json", j.dump(2) + "\n");
}

}  // namespace bg2vec::peft
