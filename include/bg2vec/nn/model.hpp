#pragma once
// A decoder's configuration and parameters: one flat buffer with named views (see parameters.hpp).
// Loading accepts F32/BF16/F16 weights in one file or shards, or a GGUF file (any supported quantization),
// and refuses tensors it would ignore.
#include <bg2vec/gguf/model_tensors.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/io/tensor_store.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <functional>
#include <set>

namespace bg2vec {

class Model {
 public:
  explicit Model(io::ModelConfig config, ProjectionWeights projections = ProjectionWeights::InBuffer)
      : config_(std::move(config)), layout_(config_, projections), params_(layout_.total(), 0.0f),
        tensors_(config_, layout_, params_.data()) {}
  Model(const Model& other)
      : config_(other.config_), layout_(other.layout_), params_(other.params_), tensors_(config_, layout_, params_.data()) {}
  // Moving keeps the buffer (and so the peak memory of a load at one copy of the weights); the views are remade.
  Model(Model&& other) noexcept
      : config_(std::move(other.config_)), layout_(std::move(other.layout_)), params_(std::move(other.params_)),
        tensors_(config_, layout_, params_.data()) {}
  Model& operator=(const Model&) = delete;

  const io::ModelConfig& config() const { return config_; }
  const ParameterLayout& layout() const { return layout_; }
  std::vector<float>& parameters() { return params_; }
  const std::vector<float>& parameters() const { return params_; }
  const DecoderTensors& weights() const { return tensors_; }
  DecoderTensors& weights() { return tensors_; }
  size_t parameter_count() const { return params_.size(); }
  // `what` needs the float32 projections, which a model loaded for bf16 inference does not keep.
  void require_projection_weights(const std::string& what) const {
    if (!tensors_.has_projection_weights())
      fail(what + " needs the model's float32 projection weights, but this model was loaded for inference with its "
                  "projections in bf16 only (load it with --compute f32, or for training)");
  }

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

// Receives, one at a time, the float32 weights [out, in] of the projections that a model loaded with
// ProjectionWeights::Outside does not keep (module: q, k, v, o, gate, up, down = 0 ... 6).
using ProjectionSink = std::function<void(int layer, int module, const Eigen::Ref<const Matrix>& weight)>;

namespace detail {

// Fills every parameter from `weights` (an io::TensorStore or a gguf::ModelTensors: HF names, float32
// reads) and refuses tensors the architecture does not have. The projections a model leaves out of its buffer
// go to `sink` one at a time, through one float32 scratch matrix.
template <class Weights>
void read_parameters(Model& model, const Weights& weights, const std::string& config_origin, const ProjectionSink& sink) {
  const auto check = [&](const ParameterInfo& p) {
    if (!weights.contains(p.name))
      fail(weights.path(), "the weights have no tensor " + weights.describe(p.name) + ", which " + config_origin + " requires");
    if (const Shape shape = weights.shape(p.name); shape != p.shape)
      fail(weights.path_of(p.name), "tensor " + weights.describe(p.name) + " has shape " + io::shape_string(shape) + ", " +
                                        config_origin + " implies " + io::shape_string(p.shape));
  };
  for (const auto& p : model.layout().tensors()) {
    check(p);
    weights.read_float32(p.name, model.parameter(p.name));
  }
  require(model.layout().outside().empty() || bool(sink), "a model without its projections needs somewhere to put them");
  Matrix scratch;
  for (const auto& p : model.layout().outside()) {
    check(p.info);
    scratch.resize(p.info.shape[0], p.info.shape[1]);
    weights.read_float32(p.info.name, std::span<float>(scratch.data(), size_t(scratch.size())));
    sink(p.layer, p.module, scratch);
  }
  for (const auto& name : weights.names()) {
    if (model.layout().contains(name) || model.layout().find_outside(name) || is_ignorable_buffer(name)) continue;
    // A tied model saved with an explicit lm_head copy is fine only if it is the embedding.
    if (name == "lm_head.weight" && model.config().tie_word_embeddings) continue;
    fail(weights.path_of(name), "unexpected tensor " + weights.describe(name) + " (" +
                                    (name.ends_with(".bias") ? "biases are not supported" : "not part of this architecture") + ")");
  }
}

}  // namespace detail

// A model is a Hugging Face folder or a GGUF file (llama.cpp's format): a file given as a model is read as
// GGUF, so that a damaged one is reported as such (bad magic, truncated, ...).
inline bool is_gguf(const std::filesystem::path& path) { return std::filesystem::is_regular_file(path); }

// The configuration alone (no weights read): what a command checks before it starts long work.
inline io::ModelConfig load_model_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail(path, "no such model (give a Hugging Face folder or a GGUF file)");
  return is_gguf(path) ? gguf::model_config(gguf::GgufFile(path)) : io::load_config(path);
}

// A Hugging Face folder (config.json + safetensors) or a GGUF file. With ProjectionWeights::Outside the
// projections are handed to `sink` instead of kept (nn/inference_model.hpp packs them into bf16).
inline Model load_model(const std::filesystem::path& path, ProjectionWeights projections = ProjectionWeights::InBuffer,
                        const ProjectionSink& sink = {}) {
  if (!std::filesystem::exists(path)) fail(path, "no such model (give a Hugging Face folder or a GGUF file)");
  if (is_gguf(path)) {
    const gguf::GgufFile file(path);
    Model model(gguf::model_config(file), projections);
    detail::read_parameters(model, gguf::ModelTensors(file, model.config()), "the GGUF metadata", sink);
    return model;
  }
  Model model(io::load_config(path), projections);
  detail::read_parameters(model, io::TensorStore(path), "config.json", sink);
  return model;
}

// Writes config.json and model.safetensors (HF names; float32, or bf16 to halve the size) into dir;
// transformers loads the result.
inline void save_model(const Model& model, const std::filesystem::path& dir, DType dtype = DType::F32) {
  model.require_projection_weights("saving a model");
  require(dtype == DType::F32 || dtype == DType::BF16, "models are saved as F32 or BF16");
  std::filesystem::create_directories(dir);
  io::SafetensorsWriter writer;
  writer.metadata("format", "pt");
  for (const auto& p : model.layout().tensors()) {
    if (dtype == DType::BF16) writer.add_bf16(p.name, p.shape, model.parameter(p.name));
    else writer.add(p.name, p.shape, model.parameter(p.name));
  }
  writer.save(dir / "model.safetensors");
  nlohmann::json config = io::to_json(model.config());
  config[config.contains("dtype") ? "dtype" : "torch_dtype"] = dtype == DType::BF16 ? "bfloat16" : "float32";
  write_file_atomically(dir / "config.json", config.dump(2) + "\n");
}

}  // namespace bg2vec
