#pragma once
// The decoder stack: embedding -> L x [RMSNorm -> GQA attention (RoPE) -> residual -> RMSNorm ->
// SwiGLU -> residual] -> final RMSNorm, forward and backward. The attention policy is a template
// parameter; an optional LoRA adapter adds its low-rank update to the projections it targets.
// Gemma-2 is the same graph with the traits of its config (io::ModelConfig): scaled embeddings, norms
// with weight offset 1, a norm on each branch's output before the residual add, its attention scale,
// soft-capped scores and logits, GeGLU, and a sliding window on some layers only. Gemma-3 is Gemma-2
// with an RMSNorm on each head of q and k before RoPE, a rotary base of its own on the sliding layers,
// and (usually) no soft-caps.
//
// backward() walks the same graph in reverse, reading the activations the forward kept and adding
// (+=) parameter gradients into buffers with the parameters' flat layout (DecoderTensors over a
// gradient buffer), so gradient accumulation and the two views of SimCSE need no extra code.
//
// The seven projections' matrix products go through a Projections (float32 on Eigen by default;
// bf16 with float32 accumulation where the CPU has AVX512-BF16), and attention's tile products follow its
// compute type (nn/attention_products.hpp): the math of the layers is written once.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/activations.hpp>
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/linear.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/nn/mlp.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/nn/projections.hpp>
#include <bg2vec/nn/rmsnorm.hpp>
#include <bg2vec/nn/rope.hpp>
#include <bg2vec/nn/softcap.hpp>

#include <array>

namespace bg2vec {

static_assert(kLoraModules == kProjections && kQ == 0 && kDown == 6,
              "Projections indexes the projections in LoraModule's order");

template <AttentionPolicy Attn>
class Decoder {
 public:
  explicit Decoder(const Model& model, const LoraAdapter* lora = nullptr, Projections projections = {})
      : model_(model), lora_(lora), projections_(std::move(projections)) {
    if (!model.weights().has_projection_weights() && !projections_.packs_every_projection(size_t(model.config().num_layers)))
      model.require_projection_weights("a decoder without the bf16 copies made at load");
    if (lora && lora->model_config().hidden_size != model.config().hidden_size)
      fail("the LoRA adapter was made for another model (hidden size " + std::to_string(lora->model_config().hidden_size) +
           ", the model has " + std::to_string(model.config().hidden_size) + ")");
  }

  // Runs the whole stack on `batch`; afterwards acts.hidden() holds the final hidden states [B*T, H]
  // and, if `acts` is trainable, what the backward pass needs.
  // `layer_outputs`, when given, receives the residual stream after the embedding and after each layer.
  void forward(const TokenBatch& batch, Activations& acts, std::vector<Matrix>* layer_outputs = nullptr) const {
    const auto& c = model_.config();
    const auto& w = model_.weights();
    layers::check_token_ids(batch, c.vocab_size);
    require(acts.batch() == batch.batch && acts.seq_len() == batch.seq_len, "activations sized for another batch shape");
    const Rotary rope(c, batch.seq_len);

    layers::embedding_forward(batch, w.embed, acts.layer(0).x_in, c.embedding_scale());
    if (layer_outputs) layer_outputs->push_back(acts.layer(0).x_in);
    for (int l = 0; l < c.num_layers; ++l) {
      LayerActivations& a = acts.layer(l);
      if (l > 0 && !acts.keeps_all_layers()) a.x_in = acts.x_out();
      if (acts.memory() == ActivationMemory::LayerInputs) acts.layer_input(l) = a.x_in;
      const bool last = l + 1 == c.num_layers;
      MatrixView& out = (last || !acts.keeps_all_layers()) ? acts.x_out() : acts.layer(l + 1).x_in;
      layer_forward(l, batch, rope, acts, a, out);
      if (layer_outputs) layer_outputs->push_back(out);
    }
    layers::rmsnorm_forward(acts.x_out(), w.final_norm, float(c.rms_norm_eps), acts.hidden(), acts.rstd_final(),
                            c.norm_weight_offset());
    if (layer_outputs) layer_outputs->push_back(acts.hidden());
  }

  // Given d_hidden (the loss gradient w.r.t. acts.hidden(), [B*T, H]), adds the parameter gradients
  // into `grads` (null: the base model is frozen) and the adapter's into `lora_grads` (null: none).
  void backward(const TokenBatch& batch, Activations& acts, const Eigen::Ref<const Matrix>& d_hidden,
                DecoderTensors* grads, LoraTensors* lora_grads = nullptr) const {
    const auto& c = model_.config();
    const auto& w = model_.weights();
    require(acts.trainable(), "backward needs activations kept for training (AllLayers or LayerInputs)");
    model_.require_projection_weights("the backward pass");
    require(d_hidden.rows() == acts.hidden().rows() && d_hidden.cols() == acts.hidden().cols(), "d_hidden has the wrong shape");
    require(!lora_grads || lora_, "LoRA gradients requested from a decoder without an adapter");
    const Rotary rope(c, batch.seq_len);
    const Eigen::Index N = d_hidden.rows();
    Workspace ws(c, N);

    // final norm
    Matrix dx = Matrix::Zero(N, c.hidden_size);
    layers::rmsnorm_backward(acts.x_out(), w.final_norm, acts.rstd_final(), d_hidden, dx, c.norm_weight_offset());
    if (grads) layers::rmsnorm_backward_weight(acts.x_out(), acts.rstd_final(), d_hidden, grads->final_norm);

    Matrix recomputed_out;
    for (int l = c.num_layers - 1; l >= 0; --l) {
      LayerActivations& a = acts.layer(l);
      if (acts.memory() == ActivationMemory::LayerInputs) {        // activation checkpointing: recompute
        recomputed_out.resize(N, c.hidden_size);
        MatrixView out(recomputed_out.data(), N, c.hidden_size);
        a.x_in = acts.layer_input(l);
        layer_forward(l, batch, rope, acts, a, out);
      }
      layer_backward(l, batch, rope, acts, a, dx, ws, grads ? &grads->layers[size_t(l)] : nullptr, lora_grads);
    }
    if (grads) layers::embedding_backward(batch, dx, grads->embed, c.embedding_scale());
  }

  // logits [B*T, V] = softcap(hidden lm_head^T) (the soft-cap only where the model has one), in the compute
  // type of the projections
  void logits(const Activations& acts, Matrix& out) const {
    out.resize(acts.hidden().rows(), model_.config().vocab_size);
    projections_.lm_head_forward(acts.hidden(), model_.weights().lm_head, out);
    layers::softcap_forward(out, final_softcap());
  }

  // Gemma-2's final_logit_softcapping, which the token-prediction losses apply too.
  std::optional<float> final_softcap() const {
    const auto& cap = model_.config().final_logit_softcapping;
    return cap ? std::optional<float>(float(*cap)) : std::nullopt;
  }

  const Model& model() const { return model_; }
  const LoraAdapter* lora() const { return lora_; }
  const Projections& projections() const { return projections_; }
  // After the model's float32 weights changed (an optimizer step on the base): repacks the bf16 copies.
  void refresh_projections() { projections_.refresh(model_.weights()); }

 private:
  // One rotary table per distinct base, built once per pass: Gemma-3's sliding layers have their own.
  struct Rotary {
    layers::RopeTable global;
    std::optional<layers::RopeTable> local;
    Rotary(const io::ModelConfig& c, int seq_len) : global(seq_len, c.head_dim, c.rope_theta) {
      if (c.rope_local_theta && *c.rope_local_theta != c.rope_theta) local.emplace(seq_len, c.head_dim, *c.rope_local_theta);
    }
    const layers::RopeTable& of_layer(const io::ModelConfig& c, int l) const {
      return local && c.rope_theta_of_layer(l) != c.rope_theta ? *local : global;
    }
  };

  // Gradient buffers of one layer, reused by every layer.
  struct Workspace {
    Matrix d_act, d_gate, d_up, d_xn, d_att, dq, dk, dv, d_branch, dq_proj, dk_proj;
    Workspace(const io::ModelConfig& c, Eigen::Index N)
        : d_act(N, c.intermediate_size), d_gate(N, c.intermediate_size), d_up(N, c.intermediate_size),
          d_xn(N, c.hidden_size), d_att(N, c.q_dim()), dq(N, c.q_dim()), dk(N, c.kv_dim()), dv(N, c.kv_dim()),
          d_branch(c.post_norms() ? N : 0, c.hidden_size), dq_proj(c.qk_norms() ? N : 0, c.q_dim()),
          dk_proj(c.qk_norms() ? N : 0, c.kv_dim()) {}
  };

  // Attention's tile products follow the projections' compute type (bf16 needs the pairs of an even head_dim).
  bool bf16_attention() const { return projections_.bf16() && layers::Bf16Products::supports(model_.config().head_dim); }

  layers::AttentionShape attention_shape(int l) const {
    const auto& c = model_.config();
    const auto cap = c.attn_logit_softcapping;
    return {c.num_heads, c.num_kv_heads, c.head_dim, c.window_of_layer(l), c.attention_scale(),
            cap ? std::optional<float>(float(*cap)) : std::nullopt};
  }

  // y (+)= x W^T, plus the adapter's update when it targets this projection.
  void project(int l, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight, const Activations& acts,
               Eigen::Ref<Matrix> y, bool accumulate) const {
    projections_.forward(l, module, x, weight, y, accumulate);
    if (!lora_) return;
    if (const auto* p = lora_->tensors().find(l, module))
      layers::lora_forward(x, *p, lora_->config().scaling(), acts.lora_dropout, lora_stream(l, module), y);
  }

  // dx (+)= dy W (+ the adapter's path); dW += dy^T x when the base trains; the adapter's gradients.
  void project_backward(int l, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight,
                        const Activations& acts, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dx, bool accumulate,
                        MatrixView* d_weight, LoraTensors* lora_grads) const {
    projections_.backward_input(l, module, dy, weight, dx, accumulate);
    if (d_weight) projections_.backward_weight(x, dy, *d_weight);
    if (!lora_) return;
    if (const auto* p = lora_->tensors().find(l, module))
      layers::lora_backward(x, *p, lora_->config().scaling(), acts.lora_dropout, lora_stream(l, module), dy, dx,
                            lora_grads ? lora_grads->find(l, module) : nullptr);
  }

  // out = residual + branch, where branch = x W^T (Llama/Mistral: added straight into the stream) or
  // RMSNorm(x W^T) (Gemma-2's post-norms, which keep x W^T and its 1/rms for the backward pass).
  void residual_branch(int l, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight,
                       const std::optional<VectorView>& post_norm, const Activations& acts, MatrixView& branch,
                       VectorView& rstd, const MatrixView& residual, MatrixView& out) const {
    if (!post_norm) {
      out = residual;
      project(l, module, x, weight, acts, out, true);
      return;
    }
    const auto& c = model_.config();
    project(l, module, x, weight, acts, branch, false);
    layers::rmsnorm_forward(branch, *post_norm, float(c.rms_norm_eps), out, rstd, c.norm_weight_offset());
    out += residual;
  }

  // The backward of residual_branch: dx (the gradient of out) passes to the residual unchanged; the
  // branch's gradient goes through the post-norm, if any, and the projection into dx_in.
  void residual_branch_backward(int l, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight,
                                const std::optional<VectorView>& post_norm, std::optional<VectorView>* d_post_norm,
                                const Activations& acts, const MatrixView& branch, const VectorView& rstd,
                                const Matrix& dx, Workspace& ws, Eigen::Ref<Matrix> dx_in, MatrixView* d_weight,
                                LoraTensors* lg) const {
    if (!post_norm) {
      project_backward(l, module, x, weight, acts, dx, dx_in, false, d_weight, lg);
      return;
    }
    ws.d_branch.setZero();
    layers::rmsnorm_backward(branch, *post_norm, rstd, dx, ws.d_branch, model_.config().norm_weight_offset());
    if (d_post_norm) layers::rmsnorm_backward_weight(branch, rstd, dx, **d_post_norm);
    project_backward(l, module, x, weight, acts, ws.d_branch, dx_in, false, d_weight, lg);
  }

  void layer_forward(int l, const TokenBatch& batch, const Rotary& rotary, const Activations& acts,
                     LayerActivations& a, MatrixView& out) const {
    const auto& c = model_.config();
    const LayerTensors& w = model_.weights().layers[size_t(l)];
    const float eps = float(c.rms_norm_eps), offset = c.norm_weight_offset();
    layers::rmsnorm_forward(a.x_in, w.attn_norm, eps, a.xn_attn, a.rstd_attn, offset);
    if (c.qk_norms()) {                                  // Gemma-3: q, k = norm(x W^T) per head
      project(l, kQ, a.xn_attn, w.q, acts, a.q_proj, false);
      project(l, kK, a.xn_attn, w.k, acts, a.k_proj, false);
      layers::head_rmsnorm_forward(a.q_proj, c.head_dim, *w.q_norm, eps, a.q, a.rstd_q, offset);
      layers::head_rmsnorm_forward(a.k_proj, c.head_dim, *w.k_norm, eps, a.k, a.rstd_k, offset);
    } else {
      project(l, kQ, a.xn_attn, w.q, acts, a.q, false);
      project(l, kK, a.xn_attn, w.k, acts, a.k, false);
    }
    project(l, kV, a.xn_attn, w.v, acts, a.v, false);
    const layers::RopeTable& rope = rotary.of_layer(c, l);
    layers::rope_apply(a.q, batch.seq_len, rope);
    layers::rope_apply(a.k, batch.seq_len, rope);
    if (bf16_attention())
      layers::attention_forward<Attn, layers::AttentionTiles, layers::Bf16Products>(a.q, a.k, a.v, batch, attention_shape(l), a.lse,
                                                                                  a.att, acts.attention_dropout, attention_stream(l));
    else
      layers::attention_forward<Attn>(a.q, a.k, a.v, batch, attention_shape(l), a.lse, a.att, acts.attention_dropout,
                                      attention_stream(l));
    residual_branch(l, kO, a.att, w.o, w.attn_out_norm, acts, a.attn_out, a.rstd_attn_out, a.x_in, a.x_mid);

    layers::rmsnorm_forward(a.x_mid, w.mlp_norm, eps, a.xn_mlp, a.rstd_mlp, offset);
    project(l, kGate, a.xn_mlp, w.gate, acts, a.gate, false);
    project(l, kUp, a.xn_mlp, w.up, acts, a.up, false);
    if (c.activation() == io::Activation::GeluTanh) layers::gated_forward<layers::GeluTanh>(a.gate, a.up, a.act);
    else layers::gated_forward<layers::Silu>(a.gate, a.up, a.act);
    residual_branch(l, kDown, a.act, w.down, w.mlp_out_norm, acts, a.mlp_out, a.rstd_mlp_out, a.x_mid, out);
  }

  // On entry dx is the gradient of the layer's output; on return, of its input.
  void layer_backward(int l, const TokenBatch& batch, const Rotary& rotary, const Activations& acts,
                      const LayerActivations& a, Matrix& dx, Workspace& ws, LayerTensors* g, LoraTensors* lg) const {
    const auto& c = model_.config();
    const LayerTensors& w = model_.weights().layers[size_t(l)];
    const float offset = c.norm_weight_offset();
    // out = x_mid + [post-norm](down(act))
    residual_branch_backward(l, kDown, a.act, w.down, w.mlp_out_norm, g ? &g->mlp_out_norm : nullptr, acts, a.mlp_out,
                             a.rstd_mlp_out, dx, ws, ws.d_act, g ? &g->down : nullptr, lg);
    if (c.activation() == io::Activation::GeluTanh) layers::gated_backward<layers::GeluTanh>(a.gate, a.up, ws.d_act, ws.d_gate, ws.d_up);
    else layers::gated_backward<layers::Silu>(a.gate, a.up, ws.d_act, ws.d_gate, ws.d_up);
    project_backward(l, kGate, a.xn_mlp, w.gate, acts, ws.d_gate, ws.d_xn, false, g ? &g->gate : nullptr, lg);
    project_backward(l, kUp, a.xn_mlp, w.up, acts, ws.d_up, ws.d_xn, true, g ? &g->up : nullptr, lg);
    layers::rmsnorm_backward(a.x_mid, w.mlp_norm, a.rstd_mlp, ws.d_xn, dx, offset);          // dx: now d x_mid
    if (g) layers::rmsnorm_backward_weight(a.x_mid, a.rstd_mlp, ws.d_xn, g->mlp_norm);

    // x_mid = x_in + [post-norm](o(attention(rope([norm](q(xn))), rope([norm](k(xn))), v(xn))))
    residual_branch_backward(l, kO, a.att, w.o, w.attn_out_norm, g ? &g->attn_out_norm : nullptr, acts, a.attn_out,
                             a.rstd_attn_out, dx, ws, ws.d_att, g ? &g->o : nullptr, lg);
    if (bf16_attention())
      layers::attention_backward<Attn, layers::AttentionTiles, layers::Bf16Products>(
          a.q, a.k, a.v, a.att, a.lse, ws.d_att, batch, attention_shape(l), ws.dq, ws.dk, ws.dv, acts.attention_dropout,
          attention_stream(l));
    else
      layers::attention_backward<Attn>(a.q, a.k, a.v, a.att, a.lse, ws.d_att, batch, attention_shape(l), ws.dq, ws.dk,
                                       ws.dv, acts.attention_dropout, attention_stream(l));
    const layers::RopeTable& rope = rotary.of_layer(c, l);
    layers::rope_backward(ws.dq, batch.seq_len, rope);
    layers::rope_backward(ws.dk, batch.seq_len, rope);
    const Matrix* dq = &ws.dq;
    const Matrix* dk = &ws.dk;
    if (c.qk_norms()) {                                  // Gemma-3: through the per-head norms
      ws.dq_proj.setZero();
      ws.dk_proj.setZero();
      layers::head_rmsnorm_backward(a.q_proj, c.head_dim, *w.q_norm, a.rstd_q, ws.dq, ws.dq_proj, offset);
      layers::head_rmsnorm_backward(a.k_proj, c.head_dim, *w.k_norm, a.rstd_k, ws.dk, ws.dk_proj, offset);
      if (g) layers::head_rmsnorm_backward_weight(a.q_proj, c.head_dim, a.rstd_q, ws.dq, *g->q_norm);
      if (g) layers::head_rmsnorm_backward_weight(a.k_proj, c.head_dim, a.rstd_k, ws.dk, *g->k_norm);
      dq = &ws.dq_proj;
      dk = &ws.dk_proj;
    }
    project_backward(l, kQ, a.xn_attn, w.q, acts, *dq, ws.d_xn, false, g ? &g->q : nullptr, lg);
    project_backward(l, kK, a.xn_attn, w.k, acts, *dk, ws.d_xn, true, g ? &g->k : nullptr, lg);
    project_backward(l, kV, a.xn_attn, w.v, acts, ws.dv, ws.d_xn, true, g ? &g->v : nullptr, lg);
    layers::rmsnorm_backward(a.x_in, w.attn_norm, a.rstd_attn, ws.d_xn, dx, offset);          // dx: now d x_in
    if (g) layers::rmsnorm_backward_weight(a.x_in, a.rstd_attn, ws.d_xn, g->attn_norm);
  }

  const Model& model_;
  const LoraAdapter* lora_;
  Projections projections_;
};

}  // namespace bg2vec
