#pragma once
// The gated activations, act = A(gate) * up, and their backward (nn/activations.hpp is the reference):
// SiluGate for SwiGLU (Llama, Mistral), GeluTanhGate for GeGLU (Gemma). Both are z s with s a sigmoid, in
// the same sigmoid form as the CPU's (which avoids 1 + tanh's cancellation for negative z); here the
// sigmoid is 1/(1 + expf(-y)), the device's expf being within 2 ulp. Also Gemma-2's soft-cap.
#include <bg2vec/cuda/host_device.hpp>

#include <cmath>

namespace bg2vec::cuda {

// s = sigmoid(y), c = 1 - s, each to a few ulp (c from e s where s is near 1, as the CPU's sigmoid_pair).
struct Sigmoid {
  float s, c;
  BG2VEC_HOST_DEVICE static Sigmoid of(float y) {
    const float e = expf(-y), s = 1.0f / (1.0f + e);
    return {s, s < 0.5f ? 1.0f - s : e * s};
  }
};

struct SiluGate {
  BG2VEC_HOST_DEVICE static float sigmoid_input(float z) { return z; }
  BG2VEC_HOST_DEVICE static float derivative(float z, Sigmoid s) { return s.s * (1.0f + z * s.c); }
};

// gelu(z) = z sigmoid(2u), u = sqrt(2/pi) (z + 0.044715 z^3).
struct GeluTanhGate {
  static constexpr float k2C = 2 * 0.7978845608028654f, k2CA = 2 * 0.7978845608028654f * 0.044715f;
  BG2VEC_HOST_DEVICE static float sigmoid_input(float z) { return z * (k2C + k2CA * z * z); }
  BG2VEC_HOST_DEVICE static float derivative(float z, Sigmoid s) { return s.s + z * s.s * s.c * (k2C + 3.0f * k2CA * z * z); }
};

// act = A(z) u
template <class A>
BG2VEC_HOST_DEVICE float gated_forward(float z, float u) {
  return z * Sigmoid::of(A::sigmoid_input(z)).s * u;
}

// d_up = g A(z), d_gate = g u A'(z)
template <class A>
BG2VEC_HOST_DEVICE void gated_backward(float z, float u, float g, float& d_gate, float& d_up) {
  const Sigmoid s = Sigmoid::of(A::sigmoid_input(z));
  d_up = g * (z * s.s);
  d_gate = g * u * A::derivative(z, s);
}

// Gemma-2's soft-cap y = cap tanh(x / cap) (cap 0: none) and its derivative from the output, 1 - (y/cap)^2.
BG2VEC_HOST_DEVICE inline float softcap(float x, float cap) { return cap > 0 ? tanhf(x / cap) * cap : x; }
BG2VEC_HOST_DEVICE inline float softcap_derivative(float y, float cap) { return cap > 0 ? 1.0f - (y / cap) * (y / cap) : 1.0f; }

}  // namespace bg2vec::cuda
