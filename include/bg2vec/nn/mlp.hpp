#pragma once
// SwiGLU feed-forward: down( silu(gate(x)) * up(x) ), silu(z) = z * sigmoid(z).
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }
inline float silu(float z) { return z / (1.0f + std::exp(-z)); }

// act = silu(gate) * up, elementwise. gate and up are kept for the backward pass.
inline void swiglu_forward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up, Eigen::Ref<Matrix> act) {
  const Eigen::Index n = gate.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) act(i, j) = silu(gate(i, j)) * up(i, j);
}

// d_up = d_act * silu(gate);  d_gate = d_act * up * silu'(gate), silu'(z) = s (1 + z (1 - s)), s = sigmoid(z).
inline void swiglu_backward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up,
                            const Eigen::Ref<const Matrix>& d_act, Eigen::Ref<Matrix> d_gate, Eigen::Ref<Matrix> d_up) {
  const Eigen::Index n = gate.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) {
      const float z = gate(i, j), s = sigmoid(z), g = d_act(i, j);
      d_up(i, j) = g * z * s;
      d_gate(i, j) = g * up(i, j) * s * (1.0f + z * (1.0f - s));
    }
}

}  // namespace bg2vec::layers
