#pragma once
// Every intermediate of a forward pass that the backward pass reads, carved out of one arena.
// Three ways to keep them (ActivationMemory):
//   OneLayer    inference: one layer's worth of buffers is reused by every layer;
//   AllLayers   training: every layer keeps its own buffers;
//   LayerInputs training with activation checkpointing: only each layer's input is kept, and the
//               backward pass recomputes the layer's forward into one reused set of buffers
//               (memory O(L N H + one layer) instead of O(L x one layer), for one extra forward).
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/nn/dropout.hpp>

#include <memory>
#include <vector>

namespace bg2vec {

struct LayerActivations {
  MatrixView x_in;                     // [N, H]   residual stream entering the layer
  VectorView rstd_attn;                // [N]      1/rms of x_in
  MatrixView xn_attn;                  // [N, H]   normed x_in
  MatrixView q, k, v;                  // [N, heads*d], [N, kv*d], [N, kv*d]; q and k rotated (Gemma-3: normed, then rotated)
  VectorView lse;                      // [B*heads*T] logsumexp of each query row's attention scores
  MatrixView att;                      // [N, heads*d] attended values, before o_proj
  MatrixView x_mid;                    // [N, H]   residual stream after attention
  VectorView rstd_mlp;                 // [N]
  MatrixView xn_mlp;                   // [N, H]
  MatrixView gate, up, act;            // [N, F]   act = silu(gate) * up (Gemma: gelu(gate) * up)
  // Gemma's post-norms: the branch outputs before their norm, and 1/rms of each (empty otherwise).
  MatrixView attn_out, mlp_out;        // [N, H]
  VectorView rstd_attn_out, rstd_mlp_out;   // [N]
  // Gemma-3's q/k norms: the projections before their per-head norm, and 1/rms of each (row, head),
  // row-major, i.e. the projections seen as [N*heads, d] (empty otherwise).
  MatrixView q_proj, k_proj;           // [N, heads*d], [N, kv*d]
  VectorView rstd_q, rstd_k;           // [N*heads], [N*kv]
};

enum class ActivationMemory { OneLayer, AllLayers, LayerInputs };

class Activations {
 public:
  Activations(const io::ModelConfig& c, int batch, int seq_len, bool keep_all_layers)
      : Activations(c, batch, seq_len, keep_all_layers ? ActivationMemory::AllLayers : ActivationMemory::OneLayer) {}

  Activations(const io::ModelConfig& c, int batch, int seq_len, ActivationMemory memory) : memory_(memory) {
    reshape(c, batch, seq_len);
  }

  // Carves the buffers for a batch of another shape out of the same arena, which grows only when the batch needs
  // more: an encoder's batches then reuse one arena instead of zero-filling and faulting in fresh pages each
  // (measured: about 80 ms of a 370 ms bf16 batch at 4096 tokens of the medium shape). The buffers keep whatever
  // the last batch left in them; every pass writes before it reads.
  void reshape(const io::ModelConfig& c, int batch, int seq_len) {
    batch_ = batch;
    seq_len_ = seq_len;
    const Eigen::Index N = Eigen::Index(batch) * seq_len, H = c.hidden_size, F = c.intermediate_size;
    const bool post = c.post_norms(), qk = c.qk_norms();
    const Eigen::Index per_layer = N * H * 4 + N * 2 + N * (c.q_dim() * 2 + c.kv_dim() * 2) +
                                   Eigen::Index(batch) * c.num_heads * seq_len + N * F * 3 +
                                   (post ? N * H * 2 + N * 2 : 0) +
                                   (qk ? N * (c.q_dim() + c.kv_dim()) + N * (c.num_heads + c.num_kv_heads) : 0);
    const int stored = memory_ == ActivationMemory::AllLayers ? c.num_layers : 1;
    const int inputs = memory_ == ActivationMemory::LayerInputs ? c.num_layers : 0;
    used_ = size_t(per_layer * stored + N * H * (2 + inputs) + N);
    if (arena_.size() < used_) {
      arena_ = std::vector<float>();                   // the old arena goes before the new one comes
      arena_.resize(used_);
    }
    float* p = arena_.data();
    auto take_matrix = [&p](Eigen::Index rows, Eigen::Index cols) { MatrixView m(p, rows, cols); p += rows * cols; return m; };
    auto take_vector = [&p](Eigen::Index n) { VectorView v(p, n); p += n; return v; };
    layers_.clear();
    inputs_.clear();
    for (int l = 0; l < stored; ++l) {
      layers_.push_back({take_matrix(N, H), take_vector(N), take_matrix(N, H), take_matrix(N, c.q_dim()),
                         take_matrix(N, c.kv_dim()), take_matrix(N, c.kv_dim()),
                         take_vector(Eigen::Index(batch) * c.num_heads * seq_len), take_matrix(N, c.q_dim()),
                         take_matrix(N, H), take_vector(N), take_matrix(N, H), take_matrix(N, F), take_matrix(N, F),
                         take_matrix(N, F), post ? take_matrix(N, H) : MatrixView(nullptr, 0, 0),
                         post ? take_matrix(N, H) : MatrixView(nullptr, 0, 0),
                         post ? take_vector(N) : VectorView(nullptr, 0), post ? take_vector(N) : VectorView(nullptr, 0),
                         qk ? take_matrix(N, c.q_dim()) : MatrixView(nullptr, 0, 0),
                         qk ? take_matrix(N, c.kv_dim()) : MatrixView(nullptr, 0, 0),
                         qk ? take_vector(N * c.num_heads) : VectorView(nullptr, 0),
                         qk ? take_vector(N * c.num_kv_heads) : VectorView(nullptr, 0)});
    }
    for (int l = 0; l < inputs; ++l) inputs_.push_back(take_matrix(N, H));
    x_out_ = std::make_unique<MatrixView>(take_matrix(N, H));
    rstd_final_ = std::make_unique<VectorView>(take_vector(N));
    hidden_ = std::make_unique<MatrixView>(take_matrix(N, H));
  }

  int batch() const { return batch_; }
  int seq_len() const { return seq_len_; }
  ActivationMemory memory() const { return memory_; }
  bool keeps_all_layers() const { return memory_ == ActivationMemory::AllLayers; }
  bool trainable() const { return memory_ != ActivationMemory::OneLayer; }
  LayerActivations& layer(int l) { return layers_[keeps_all_layers() ? size_t(l) : 0]; }
  const LayerActivations& layer(int l) const { return layers_[keeps_all_layers() ? size_t(l) : 0]; }
  MatrixView& layer_input(int l) { return inputs_[size_t(l)]; }   // LayerInputs only
  MatrixView& x_out() { return *x_out_; }              // output of the last layer, before the final norm
  VectorView& rstd_final() { return *rstd_final_; }
  MatrixView& hidden() { return *hidden_; }            // after the final norm: what pooling and lm_head read
  const MatrixView& hidden() const { return *hidden_; }
  size_t bytes() const { return used_ * sizeof(float); }               // what this batch's buffers take
  size_t arena_bytes() const { return arena_.size() * sizeof(float); }  // what the arena holds (>= bytes())

  // How the forward pass drew its dropout masks; the backward pass regenerates the same masks.
  Dropout attention_dropout, lora_dropout;

 private:
  int batch_ = 0, seq_len_ = 0;
  ActivationMemory memory_;
  std::vector<float> arena_;
  size_t used_ = 0;
  std::vector<LayerActivations> layers_;
  std::vector<MatrixView> inputs_;
  std::unique_ptr<MatrixView> x_out_, hidden_;         // Maps cannot be reseated: held by pointer
  std::unique_ptr<VectorView> rstd_final_;
};

}  // namespace bg2vec
