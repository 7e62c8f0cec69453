#pragma once
// SwiGLU feed-forward: down( silu(gate(x)) * up(x) ), silu(z) = z * sigmoid(z).
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

inline float silu(float z) { return z / (1.0f + std::exp(-z)); }

// act = silu(gate) * up, elementwise. gate and up are kept for the backward pass.
inline void swiglu_forward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up, Eigen::Ref<Matrix> act) {
  const Eigen::Index n = gate.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) act(i, j) = silu(gate(i, j)) * up(i, j);
}

}  // namespace bg2vec::layers
