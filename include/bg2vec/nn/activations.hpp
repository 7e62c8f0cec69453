#pragma once
// Every intermediate of a forward pass that the backward pass reads, carved out of one arena.
// For inference (keep_all_layers = false) one layer's worth of buffers is reused by every layer.
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/hf_config.hpp>

#include <memory>
#include <vector>

namespace bg2vec {

struct LayerActivations {
  MatrixView x_in;                     // [N, H]   residual stream entering the layer
  VectorView rstd_attn;                // [N]      1/rms of x_in
  MatrixView xn_attn;                  // [N, H]   normed x_in
  MatrixView q, k, v;                  // [N, heads*d], [N, kv*d], [N, kv*d]; q and k rotated
  MatrixView probs;                    // [B*heads*T, T] attention probabilities
  MatrixView att;                      // [N, heads*d] attended values, before o_proj
  MatrixView x_mid;                    // [N, H]   residual stream after attention
  VectorView rstd_mlp;                 // [N]
  MatrixView xn_mlp;                   // [N, H]
  MatrixView gate, up, act;            // [N, F]   act = silu(gate) * up
};

class Activations {
 public:
  Activations(const io::ModelConfig& c, int batch, int seq_len, bool keep_all_layers)
      : batch_(batch), seq_len_(seq_len), keep_all_(keep_all_layers) {
    const Eigen::Index N = Eigen::Index(batch) * seq_len, H = c.hidden_size, F = c.intermediate_size;
    const Eigen::Index per_layer = N * H * 4 + N * 2 + N * (c.q_dim() * 2 + c.kv_dim() * 2) +
                                   Eigen::Index(batch) * c.num_heads * seq_len * seq_len + N * F * 3;
    const int stored = keep_all_layers ? c.num_layers : 1;
    arena_.resize(size_t(per_layer * stored + N * H * 2 + N));
    float* p = arena_.data();
    auto take_matrix = [&p](Eigen::Index rows, Eigen::Index cols) { MatrixView m(p, rows, cols); p += rows * cols; return m; };
    auto take_vector = [&p](Eigen::Index n) { VectorView v(p, n); p += n; return v; };
    for (int l = 0; l < stored; ++l) {
      layers_.push_back({take_matrix(N, H), take_vector(N), take_matrix(N, H), take_matrix(N, c.q_dim()),
                         take_matrix(N, c.kv_dim()), take_matrix(N, c.kv_dim()),
                         take_matrix(Eigen::Index(batch) * c.num_heads * seq_len, seq_len), take_matrix(N, c.q_dim()),
                         take_matrix(N, H), take_vector(N), take_matrix(N, H), take_matrix(N, F), take_matrix(N, F),
                         take_matrix(N, F)});
    }
    x_out_ = std::make_unique<MatrixView>(take_matrix(N, H));
    rstd_final_ = std::make_unique<VectorView>(take_vector(N));
    hidden_ = std::make_unique<MatrixView>(take_matrix(N, H));
  }

  int batch() const { return batch_; }
  int seq_len() const { return seq_len_; }
  bool keeps_all_layers() const { return keep_all_; }
  LayerActivations& layer(int l) { return layers_[keep_all_ ? size_t(l) : 0]; }
  const LayerActivations& layer(int l) const { return layers_[keep_all_ ? size_t(l) : 0]; }
  MatrixView& x_out() { return *x_out_; }              // output of the last layer, before the final norm
  VectorView& rstd_final() { return *rstd_final_; }
  MatrixView& hidden() { return *hidden_; }            // after the final norm: what pooling and lm_head read
  const MatrixView& hidden() const { return *hidden_; }
  size_t bytes() const { return arena_.size() * sizeof(float); }

 private:
  int batch_, seq_len_;
  bool keep_all_;
  std::vector<float> arena_;
  std::vector<LayerActivations> layers_;
  std::unique_ptr<MatrixView> x_out_, hidden_;         // Maps cannot be reseated: held by pointer
  std::unique_ptr<VectorView> rstd_final_;
};

}  // namespace bg2vec
