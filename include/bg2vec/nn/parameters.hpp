#pragma once
// All parameters of a decoder in one flat float32 buffer (llm.c style), with the Hugging Face name,
// shape ([out, in] for projections) and offset of each tensor. Gradients and optimizer moments use
// the same layout in buffers of the same size, so an optimizer is one loop over a flat array.
// A model loaded for inference in bf16 may leave the seven projections out of the buffer
// (ProjectionWeights::Outside): they then exist only as the compute backend's bf16 copies, which halves the
// weights' memory (BgGPT-7B: 26 GiB of float32 projections not kept); their views are empty.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/hf_config.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bg2vec {

struct ParameterInfo {
  std::string name;                    // e.g. "model.layers.0.self_attn.q_proj.weight"
  Shape shape;
  size_t offset = 0;                   // in floats, into the flat buffer
  size_t size() const { return size_t(element_count(shape)); }
};

// Where the projections' float32 weights live: in the flat buffer (everything can train, merge, be saved and
// exported), or not at all (inference from bf16 copies made while loading).
enum class ProjectionWeights { InBuffer, Outside };

// A projection left out of the buffer: its name and shape, and which one it is (layer; module in the order
// q, k, v, o, gate, up, down of nn/lora.hpp's LoraModule).
struct OutsideProjection {
  ParameterInfo info;                  // offset unused
  int layer = 0, module = 0;
};

class ParameterLayout {
 public:
  explicit ParameterLayout(const io::ModelConfig& c, ProjectionWeights projections = ProjectionWeights::InBuffer)
      : projections_(projections) {
    const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    add("model.embed_tokens.weight", {V, H});
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {H});
      add_projection(l, 0, p + "self_attn.q_proj.weight", {c.q_dim(), H});
      add_projection(l, 1, p + "self_attn.k_proj.weight", {c.kv_dim(), H});
      add_projection(l, 2, p + "self_attn.v_proj.weight", {c.kv_dim(), H});
      add_projection(l, 3, p + "self_attn.o_proj.weight", {H, c.q_dim()});
      if (c.qk_norms()) {
        add(p + "self_attn.q_norm.weight", {c.head_dim});
        add(p + "self_attn.k_norm.weight", {c.head_dim});
      }
      add(p + "post_attention_layernorm.weight", {H});
      if (c.post_norms()) {
        add(p + "pre_feedforward_layernorm.weight", {H});
        add(p + "post_feedforward_layernorm.weight", {H});
      }
      add_projection(l, 4, p + "mlp.gate_proj.weight", {F, H});
      add_projection(l, 5, p + "mlp.up_proj.weight", {F, H});
      add_projection(l, 6, p + "mlp.down_proj.weight", {H, F});
    }
    add("model.norm.weight", {H});
    if (!c.tie_word_embeddings) add("lm_head.weight", {V, H});
  }

  // The tensors in the buffer, and the projections left out of it (none unless ProjectionWeights::Outside).
  const std::vector<ParameterInfo>& tensors() const { return tensors_; }
  const std::vector<OutsideProjection>& outside() const { return outside_; }
  ProjectionWeights projections() const { return projections_; }
  size_t total() const { return total_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const ParameterInfo& operator[](const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) fail("no parameter named '" + name + "'");
    return tensors_[it->second];
  }
  const OutsideProjection* find_outside(const std::string& name) const {
    for (const auto& p : outside_) if (p.info.name == name) return &p;
    return nullptr;
  }

 private:
  void add(std::string name, Shape shape) {
    ParameterInfo info{std::move(name), std::move(shape), total_};
    total_ += info.size();
    index_[info.name] = tensors_.size();
    tensors_.push_back(std::move(info));
  }
  void add_projection(int layer, int module, std::string name, Shape shape) {
    if (projections_ == ProjectionWeights::InBuffer) add(std::move(name), std::move(shape));
    else outside_.push_back({{std::move(name), std::move(shape), 0}, layer, module});
  }

  ProjectionWeights projections_;
  std::vector<ParameterInfo> tensors_;
  std::vector<OutsideProjection> outside_;
  std::map<std::string, size_t> index_;
  size_t total_ = 0;
};

// Views of one layer's tensors inside a flat buffer (parameters or their gradients).
// The norms by role: attn_norm before attention, mlp_norm before the MLP (Llama/Mistral call it
// post_attention_layernorm, Gemma pre_feedforward_layernorm); Gemma alone has attn_out_norm
// (its post_attention_layernorm) and mlp_out_norm on the branch outputs, and Gemma-3 q_norm and k_norm
// ([head_dim], shared by the heads) on each head of q and k.
struct LayerTensors {
  VectorView attn_norm, mlp_norm;
  MatrixView q, k, v, o;               // [out, in]
  MatrixView gate, up, down;
  std::optional<VectorView> attn_out_norm, mlp_out_norm;
  std::optional<VectorView> q_norm, k_norm;
};

struct DecoderTensors {
  MatrixView embed;                    // [V, H]
  std::vector<LayerTensors> layers;
  VectorView final_norm;               // [H]
  MatrixView lm_head;                  // [V, H]; the embedding itself when tied

  // False when the projections are not in the buffer (ProjectionWeights::Outside): q ... down are then views of
  // the right shape over no data, which nothing may read; what needs them (training, merging, saving) checks this.
  bool has_projection_weights() const { return layers.empty() || layers.front().q.data() != nullptr; }

  // Views of `buffer` (layout.total() floats) under `layout`.
  DecoderTensors(const io::ModelConfig& c, const ParameterLayout& layout, float* buffer)
      : embed(matrix(layout, buffer, "model.embed_tokens.weight")),
        final_norm(vector(layout, buffer, "model.norm.weight")),
        lm_head(matrix(layout, buffer, c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight")) {
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const bool post = c.post_norms();
      layers.push_back({vector(layout, buffer, p + "input_layernorm.weight"),
                        vector(layout, buffer, p + (post ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")),
                        matrix(layout, buffer, p + "self_attn.q_proj.weight"),
                        matrix(layout, buffer, p + "self_attn.k_proj.weight"),
                        matrix(layout, buffer, p + "self_attn.v_proj.weight"),
                        matrix(layout, buffer, p + "self_attn.o_proj.weight"),
                        matrix(layout, buffer, p + "mlp.gate_proj.weight"),
                        matrix(layout, buffer, p + "mlp.up_proj.weight"),
                        matrix(layout, buffer, p + "mlp.down_proj.weight"),
                        std::nullopt, std::nullopt, std::nullopt, std::nullopt});
      if (post) {
        layers.back().attn_out_norm.emplace(vector(layout, buffer, p + "post_attention_layernorm.weight"));
        layers.back().mlp_out_norm.emplace(vector(layout, buffer, p + "post_feedforward_layernorm.weight"));
      }
      if (c.qk_norms()) {
        layers.back().q_norm.emplace(vector(layout, buffer, p + "self_attn.q_norm.weight"));
        layers.back().k_norm.emplace(vector(layout, buffer, p + "self_attn.k_norm.weight"));
      }
    }
  }

 private:
  static MatrixView matrix(const ParameterLayout& layout, float* buffer, const std::string& name) {
    if (const OutsideProjection* p = layout.find_outside(name)) return MatrixView(nullptr, p->info.shape[0], p->info.shape[1]);
    const auto& t = layout[name];
    return MatrixView(buffer + t.offset, t.shape[0], t.shape[1]);
  }
  static VectorView vector(const ParameterLayout& layout, float* buffer, const std::string& name) {
    const auto& t = layout[name];
    return VectorView(buffer + t.offset, t.shape[0]);
  }
};

}  // namespace bg2vec
