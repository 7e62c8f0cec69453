#pragma once
// A model loaded for inference in a compute type. In float32 (the reference) it is load_model's Model. In bf16
// the seven projections are packed into the backend's bf16 copies as they are read, one at a time, and their
// float32 weights are never kept: the weights then take about half the memory (BgGPT-7B: 13.1 GiB of bf16
// projections instead of 26 GiB of float32 plus the copies), which is what lets a 7B model encode on a
// 24 GiB machine. Such a model encodes and computes logits (the embedding, norms and lm_head stay float32);
// training, merging an adapter, saving and exporting need the float32 projections and refuse it by name.
#include <bg2vec/nn/projections.hpp>
#include <bg2vec/nn/model.hpp>

#include <memory>
#include <optional>

namespace bg2vec {

struct InferenceModel {
  std::shared_ptr<const Model> model;
  Projections projections;   // float32 (default) or the bf16 copies made at load
};

inline InferenceModel load_for_inference(const std::filesystem::path& path, backend::Compute compute) {
  if (compute == backend::Compute::F32) return {std::make_shared<const Model>(load_model(path)), {}};
  backend::require_supported(compute);
  const int layers = load_model_config(path).num_layers;
  std::optional<Model> model;
  Projections projections = Projections::packed(
      layers, [&](const ProjectionSink& sink) { model.emplace(load_model(path, ProjectionWeights::Outside, sink)); });
  return {std::make_shared<const Model>(std::move(*model)), std::move(projections)};
}

}  // namespace bg2vec
