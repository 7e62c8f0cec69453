#pragma once
// Gated feed-forward: down( act(gate(x)) * up(x) ). The activation is a small policy type with its value
// and derivative: Silu gives SwiGLU (Llama, Mistral), GeluTanh gives GeGLU (Gemma-2).
#include <bg2vec/core/tensor.hpp>

#include <cmath>
#include <utility>

namespace bg2vec::layers {

inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

// silu(z) = z s, s = sigmoid(z);  silu'(z) = s (1 + z (1 - s)).
struct Silu {
  static float value(float z) { return z / (1.0f + std::exp(-z)); }
  static std::pair<float, float> value_and_derivative(float z) {   // one exp for both
    const float s = sigmoid(z);
    return {z * s, s * (1.0f + z * (1.0f - s))};
  }
};

// gelu's tanh approximation (torch's gelu(approximate="tanh"), HF's gelu_pytorch_tanh):
// g(z) = z/2 (1 + t), t = tanh(u), u = sqrt(2/pi) (z + 0.044715 z^3);
// g'(z) = (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2).
struct GeluTanh {
  static constexpr float kC = 0.7978845608028654f, kA = 0.044715f;   // sqrt(2/pi)
  static float value(float z) { return 0.5f * z * (1.0f + std::tanh(kC * (z + kA * z * z * z))); }
  static std::pair<float, float> value_and_derivative(float z) {   // one tanh for both
    const float t = std::tanh(kC * (z + kA * z * z * z));
    return {0.5f * z * (1.0f + t), 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kC * (1.0f + 3.0f * kA * z * z)};
  }
};

// act = Act(gate) * up, elementwise. gate and up are kept for the backward pass.
template <class Act>
void gated_forward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up, Eigen::Ref<Matrix> act) {
  const Eigen::Index n = gate.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) act(i, j) = Act::value(gate(i, j)) * up(i, j);
}

// d_up = d_act * Act(gate);  d_gate = d_act * up * Act'(gate).
template <class Act>
void gated_backward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up,
                    const Eigen::Ref<const Matrix>& d_act, Eigen::Ref<Matrix> d_gate, Eigen::Ref<Matrix> d_up) {
  const Eigen::Index n = gate.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) {
      const auto [value, derivative] = Act::value_and_derivative(gate(i, j));
      const float g = d_act(i, j);
      d_up(i, j) = g * value;
      d_gate(i, j) = g * up(i, j) * derivative;
    }
}

}  // namespace bg2vec::layers
