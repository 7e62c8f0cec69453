#pragma once
// Gemma-2's soft-capping: y = cap * tanh(x / cap) bounds attention scores and final logits smoothly
// to (-cap, cap). Its derivative 1 - tanh^2 is a function of the output: 1 - (y / cap)^2, so the
// backward pass needs only what the forward pass produced.
#include <bg2vec/core/tensor.hpp>

#include <optional>

namespace bg2vec::layers {

// In place, on every element; nothing when there is no cap.
inline void softcap_forward(Eigen::Ref<Matrix> x, const std::optional<float>& cap) {
  if (cap) x = (x.array() / *cap).tanh() * *cap;
}

// dy becomes dx, given y = softcap(x).
inline void softcap_backward(const Eigen::Ref<const Matrix>& y, Eigen::Ref<Matrix> dy, const std::optional<float>& cap) {
  if (cap) dy.array() *= 1.0f - (y.array() / *cap).square();
}

}  // namespace bg2vec::layers
