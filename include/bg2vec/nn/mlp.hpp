#pragma once
// Gated feed-forward: down( act(gate(x)) * up(x) ). The activation is a small policy type: Silu gives SwiGLU
// (Llama, Mistral), GeluTanh gives GeGLU (Gemma-2, Gemma-3). Both are x times a sigmoid, so each says what the
// sigmoid reads and how value and derivative follow from it; the one transcendental, sigmoid, is
// backend/cpu/vector_math.hpp's (vectorisable, AVX-512 where the CPU has it). value(z) is the textbook form
// (std::tanh, std::exp), kept as the reference the tests compare against.
#include <bg2vec/backend/cpu/vector_math.hpp>
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

// silu(z) = z s, s = sigmoid(z);  silu'(z) = s (1 + z (1 - s)). (derivative takes c = 1 - s.)
struct Silu {
  static float value(float z) { return z / (1.0f + std::exp(-z)); }
  static float sigmoid_input(float z) { return z; }
  static float value(float z, float s) { return z * s; }
  static float derivative(float z, float s, float c) { return s * (1.0f + z * c); }
};

// gelu's tanh approximation (torch's gelu(approximate="tanh"), HF's gelu_pytorch_tanh):
// g(z) = z/2 (1 + tanh(u)), u = sqrt(2/pi) (z + 0.044715 z^3). Since (1 + tanh(u))/2 = sigmoid(2u):
// g(z) = z s, s = sigmoid(2u);  g'(z) = s + z s (1 - s) 2u', 2u' = 2 sqrt(2/pi) (1 + 3 * 0.044715 z^2).
// The sigmoid form also avoids the cancellation in 1 + tanh(u) for negative z (float std::tanh loses up to
// 6e-2 relative at z = -4.8); against std::tanh in double: value within 2e-6 relative, derivative within 3e-7
// absolute (tests/test_activations.cpp).
struct GeluTanh {
  static constexpr float kC = 0.7978845608028654f, kA = 0.044715f;   // sqrt(2/pi)
  static constexpr float k2C = 2 * kC, k2CA = 2 * kC * kA;
  static float value(float z) { return 0.5f * z * (1.0f + std::tanh(kC * (z + kA * z * z * z))); }
  static float sigmoid_input(float z) { return z * (k2C + k2CA * z * z); }
  static float value(float z, float s) { return z * s; }
  static float derivative(float z, float s, float c) { return s + z * s * c * (k2C + 3.0f * k2CA * z * z); }
};

namespace detail {

// One row, n elements; `#pragma omp simd` because the loop must vectorise (exp_approx is branch-free).
// act = Act(gate) * up.
template <class Act>
[[gnu::always_inline]] inline void gated_forward_row(const float* gate, const float* up, float* act, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const float z = gate[j], s = backend::cpu::sigmoid(Act::sigmoid_input(z));
    act[j] = Act::value(z, s) * up[j];
  }
}
// d_up = d_act * Act(gate);  d_gate = d_act * up * Act'(gate).
template <class Act>
[[gnu::always_inline]] inline void gated_backward_row(const float* gate, const float* up, const float* d_act, float* d_gate,
                                                      float* d_up, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const float z = gate[j], g = d_act[j];
    const auto [s, c] = backend::cpu::sigmoid_pair(Act::sigmoid_input(z));
    d_up[j] = g * Act::value(z, s);
    d_gate[j] = g * up[j] * Act::derivative(z, s, c);
  }
}

// The same rows compiled for AVX-512 (16 lanes) and for the build's target; gated_* choose at run time.
template <class Act>
BG2VEC_TARGET_AVX512 void gated_forward_row_avx512(const float* gate, const float* up, float* act, int64_t n) {
  gated_forward_row<Act>(gate, up, act, n);
}
template <class Act>
void gated_forward_row_generic(const float* gate, const float* up, float* act, int64_t n) {
  gated_forward_row<Act>(gate, up, act, n);
}
template <class Act>
BG2VEC_TARGET_AVX512 void gated_backward_row_avx512(const float* gate, const float* up, const float* d_act, float* d_gate,
                                                    float* d_up, int64_t n) {
  gated_backward_row<Act>(gate, up, d_act, d_gate, d_up, n);
}
template <class Act>
void gated_backward_row_generic(const float* gate, const float* up, const float* d_act, float* d_gate, float* d_up,
                                int64_t n) {
  gated_backward_row<Act>(gate, up, d_act, d_gate, d_up, n);
}

}  // namespace detail

// act = Act(gate) * up, elementwise. gate and up are kept for the backward pass.
template <class Act>
void gated_forward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up, Eigen::Ref<Matrix> act) {
  const auto row = backend::cpu::has_avx512f() ? detail::gated_forward_row_avx512<Act> : detail::gated_forward_row_generic<Act>;
  const Eigen::Index n = gate.rows(), F = gate.cols();
#pragma omp parallel for if (n * F > (1 << 15))
  for (Eigen::Index i = 0; i < n; ++i) row(gate.row(i).data(), up.row(i).data(), act.row(i).data(), F);
}

// d_up = d_act * Act(gate);  d_gate = d_act * up * Act'(gate).
template <class Act>
void gated_backward(const Eigen::Ref<const Matrix>& gate, const Eigen::Ref<const Matrix>& up,
                    const Eigen::Ref<const Matrix>& d_act, Eigen::Ref<Matrix> d_gate, Eigen::Ref<Matrix> d_up) {
  const auto row = backend::cpu::has_avx512f() ? detail::gated_backward_row_avx512<Act> : detail::gated_backward_row_generic<Act>;
  const Eigen::Index n = gate.rows(), F = gate.cols();
#pragma omp parallel for if (n * F > (1 << 15))
  for (Eigen::Index i = 0; i < n; ++i)
    row(gate.row(i).data(), up.row(i).data(), d_act.row(i).data(), d_gate.row(i).data(), d_up.row(i).data(), F);
}

}  // namespace bg2vec::layers
