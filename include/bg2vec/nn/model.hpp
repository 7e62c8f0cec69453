#pragma once
// A decoder's configuration and parameters: one flat buffer with named views (see parameters.hpp).
// Loading accepts F32/BF16/F16 weights in one file or shards, and refuses tensors it would ignore.
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/io/tensor_store.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <set>

namespace bg2vec {

class Model {
 public:
  explicit Model(io::ModelConfig config)
      : config_(std::move(config)), layout_(config_), params_(layout_.total(), 0.0f),
        tensors_(config_, layout_, params_.data()) {}
  Model(const Model& other)
      : config_(other.config_), layout_(other.layout_), params_(other.params_), tensors_(config_, layout_, params_.data()) {}
  Model& operator=(const Model&) = delete;

  const io::ModelConfig& config() const { return config_; }
  const ParameterLayout& layout() const { return layout_; }
  std::vector<float>& parameters() { return params_; }
  const std::vector<float>& parameters() const { return params_; }
  const DecoderTensors& weights() const { return tensors_; }
  DecoderTensors& weights() { return tensors_; }
  size_t parameter_count() const { return params_.size(); }

  std::span<float> parameter(const std::string& name) {
    const auto& t = layout_[name];
    return {params_.data() + t.offset, t.size()};
  }
  std::span<const float> parameter(const std::string& name) const {
    const auto& t = layout_[name];
    return {params_.data() + t.offset, t.size()};
  }

 private:
  io::ModelConfig config_;
  ParameterLayout layout_;
  std::vector<float> params_;
  DecoderTensors tensors_;
};

// Tensors a checkpoint may carry that are not parameters (buffers recomputed at load).
inline bool is_ignorable_buffer(const std::string& name) {
  return name.find("rotary_emb.inv_freq") != std::string::npos;
}

inline Model load_model(const std::filesystem::path& dir) {
  Model model(io::load_config(dir));
  const io::TensorStore store(dir);
  for (const auto& p : model.layout().tensors()) {
    if (!store.contains(p.name)) fail(dir, "the weights have no tensor '" + p.name + "', which config.json requires");
    const auto& info = store.info(p.name);
    if (info.shape != p.shape)
      fail(store.file_of(p.name).path(), "tensor '" + p.name + "' has shape " + io::shape_string(info.shape) +
                                             ", config.json implies " + io::shape_string(p.shape));
    store.read_float32(p.name, model.parameter(p.name));
  }
  for (const auto& name : store.names()) {
    if (model.layout().contains(name) || is_ignorable_buffer(name)) continue;
    // A tied model saved with an explicit lm_head copy is fine only if it is the embedding.
    if (name == "lm_head.weight" && model.config().tie_word_embeddings) continue;
    fail(store.file_of(name).path(), "unexpected tensor '" + name + "' (" +
                                         (name.ends_with(".bias") ? "biases are not supported" : "not part of this architecture") + ")");
  }
  return model;
}

// Writes config.json and model.safetensors (float32, HF names) into dir; transformers loads the result.
inline void save_model(const Model& model, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  io::SafetensorsWriter writer;
  writer.metadata("format", "pt");
  for (const auto& p : model.layout().tensors()) writer.add(p.name, p.shape, model.parameter(p.name));
  writer.save(dir / "model.safetensors");
  io::save_config(model.config(), dir);
}

}  // namespace bg2vec
