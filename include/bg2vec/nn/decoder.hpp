#pragma once
// The decoder stack, forward: embedding -> L x [RMSNorm -> GQA attention (RoPE) -> residual ->
// RMSNorm -> SwiGLU -> residual] -> final RMSNorm. The attention policy is a template parameter.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/activations.hpp>
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/linear.hpp>
#include <bg2vec/nn/mlp.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/nn/rmsnorm.hpp>
#include <bg2vec/nn/rope.hpp>

namespace bg2vec {

template <AttentionPolicy Attn>
class Decoder {
 public:
  explicit Decoder(const Model& model) : model_(model) {}

  // Runs the whole stack on `batch`; afterwards acts.hidden() holds the final hidden states [B*T, H]
  // and, if `acts` keeps all layers, every intermediate the backward pass needs.
  // `layer_outputs`, when given, receives the residual stream after the embedding and after each layer.
  void forward(const TokenBatch& batch, Activations& acts, std::vector<Matrix>* layer_outputs = nullptr) const {
    const auto& c = model_.config();
    const auto& w = model_.weights();
    layers::check_token_ids(batch, c.vocab_size);
    require(acts.batch() == batch.batch && acts.seq_len() == batch.seq_len, "activations sized for another batch shape");
    const layers::RopeTable rope(batch.seq_len, c.head_dim, c.rope_theta);
    const layers::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, c.sliding_window};

    layers::embedding_forward(batch, w.embed, acts.layer(0).x_in);
    if (layer_outputs) layer_outputs->push_back(acts.layer(0).x_in);
    for (int l = 0; l < c.num_layers; ++l) {
      LayerActivations& a = acts.layer(l);
      if (l > 0 && !acts.keeps_all_layers()) a.x_in = acts.x_out();
      const bool last = l + 1 == c.num_layers;
      MatrixView& out = (last || !acts.keeps_all_layers()) ? acts.x_out() : acts.layer(l + 1).x_in;
      layer_forward(w.layers[size_t(l)], batch, rope, shape, a, out);
      if (layer_outputs) layer_outputs->push_back(out);
    }
    layers::rmsnorm_forward(acts.x_out(), w.final_norm, float(c.rms_norm_eps), acts.hidden(), acts.rstd_final());
    if (layer_outputs) layer_outputs->push_back(acts.hidden());
  }

  // logits [B*T, V] = hidden lm_head^T
  void logits(const Activations& acts, Matrix& out) const {
    out.resize(acts.hidden().rows(), model_.config().vocab_size);
    layers::linear_forward(acts.hidden(), model_.weights().lm_head, out);
  }

  const Model& model() const { return model_; }

 private:
  void layer_forward(const LayerTensors& w, const TokenBatch& batch, const layers::RopeTable& rope,
                     const layers::AttentionShape& shape, LayerActivations& a, MatrixView& out) const {
    const float eps = float(model_.config().rms_norm_eps);
    layers::rmsnorm_forward(a.x_in, w.attn_norm, eps, a.xn_attn, a.rstd_attn);
    layers::linear_forward(a.xn_attn, w.q, a.q);
    layers::linear_forward(a.xn_attn, w.k, a.k);
    layers::linear_forward(a.xn_attn, w.v, a.v);
    layers::rope_apply(a.q, batch.seq_len, rope);
    layers::rope_apply(a.k, batch.seq_len, rope);
    layers::attention_forward<Attn>(a.q, a.k, a.v, batch, shape, a.probs, a.att);
    a.x_mid = a.x_in;
    layers::linear_forward_accumulate(a.att, w.o, a.x_mid);

    layers::rmsnorm_forward(a.x_mid, w.mlp_norm, eps, a.xn_mlp, a.rstd_mlp);
    layers::linear_forward(a.xn_mlp, w.gate, a.gate);
    layers::linear_forward(a.xn_mlp, w.up, a.up);
    layers::swiglu_forward(a.gate, a.up, a.act);
    out = a.x_mid;
    layers::linear_forward_accumulate(a.act, w.down, out);
  }

  const Model& model_;
};

}  // namespace bg2vec
