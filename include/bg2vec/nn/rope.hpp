#pragma once
// Rotary position embeddings in the split-halves form of Hugging Face checkpoints (rotate_half):
// for i < d/2, (x_i, x_{i+d/2}) is rotated by the angle p * theta^(-2i/d) at position p.
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

struct RopeTable {
  int head_dim = 0;
  Matrix cos, sin;                     // [T, head_dim / 2]

  RopeTable(int seq_len, int head_dim_, double theta) : head_dim(head_dim_), cos(seq_len, head_dim_ / 2), sin(seq_len, head_dim_ / 2) {
    const int half = head_dim / 2;
    for (int i = 0; i < half; ++i) {
      // inverse frequencies in float32, as HF computes them, then angles in double
      const float inv_freq = float(1.0 / std::pow(theta, double(2 * i) / head_dim));
      for (int p = 0; p < seq_len; ++p) {
        const double angle = double(p) * double(inv_freq);
        cos(p, i) = float(std::cos(angle));
        sin(p, i) = float(std::sin(angle));
      }
    }
  }
};

// Rotates every head of x ([B*T, heads*head_dim], row b*T + p at position p) in place.
// direction +1 applies the rotation (forward); -1 applies its inverse (the backward of a rotation).
inline void rope_apply(Eigen::Ref<Matrix> x, int seq_len, const RopeTable& rope, int direction = +1) {
  const int d = rope.head_dim, half = d / 2, heads = int(x.cols()) / d;
  const Eigen::Index n = x.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index r = 0; r < n; ++r) {
    const int p = int(r % seq_len);
    float* row = x.row(r).data();
    for (int h = 0; h < heads; ++h) {
      float* v = row + h * d;
      for (int i = 0; i < half; ++i) {
        const float c = rope.cos(p, i), s = direction * rope.sin(p, i);
        const float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
    }
  }
}

// A rotation is orthogonal: its backward is the inverse rotation applied to the gradient.
inline void rope_backward(Eigen::Ref<Matrix> dx, int seq_len, const RopeTable& rope) { rope_apply(dx, seq_len, rope, -1); }

}  // namespace bg2vec::layers
