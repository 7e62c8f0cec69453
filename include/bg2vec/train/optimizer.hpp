#pragma once
// Optimizers over flat parameter and gradient buffers (one loop, any tensor layout), gradient clipping
// by global norm. AdamW is torch.optim.AdamW's update, step for step:
//   p *= 1 - lr*wd                           (decoupled weight decay)
//   m = b1 m + (1-b1) g,   v = b2 v + (1-b2) g^2
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
#include <bg2vec/core/error.hpp>

#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace bg2vec::train {

// p -= lr g: the change of each weight is exactly lr x its gradient.
struct Sgd {
  static constexpr std::string_view name = "sgd";
  void step(std::span<float> params, std::span<const float> grads, float lr) {
    require(params.size() == grads.size(), "sgd: parameter and gradient buffers differ in size");
#pragma omp parallel for simd if (params.size() > 65536)
    for (size_t i = 0; i < params.size(); ++i) params[i] -= lr * grads[i];
  }
};

struct AdamWConfig {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.01f;          // torch's default
};

class AdamW {
 public:
  static constexpr std::string_view name = "adamw";
  explicit AdamW(AdamWConfig config = {}) : config_(config) {}

  void step(std::span<float> params, std::span<const float> grads, float lr) {
    require(params.size() == grads.size(), "adamw: parameter and gradient buffers differ in size");
    if (m_.empty()) { m_.assign(params.size(), 0.0f); v_.assign(params.size(), 0.0f); }
    require(m_.size() == params.size(), "adamw: the optimizer state belongs to a buffer of another size");
    ++t_;
    const AdamWConfig c = config_;
    const double bc1 = 1.0 - std::pow(double(c.beta1), double(t_)), bc2 = 1.0 - std::pow(double(c.beta2), double(t_));
    const float step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2)), decay = 1.0f - lr * c.weight_decay;
    float* m = m_.data();
    float* v = v_.data();
#pragma omp parallel for simd if (params.size() > 65536)
    for (size_t i = 0; i < params.size(); ++i) {
      const float g = grads[i];
      m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
      v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
      params[i] = params[i] * decay - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + c.eps);
    }
  }

  const AdamWConfig& config() const { return config_; }
  // The state, for checkpoints: moments and the number of steps taken.
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  int64_t& steps() { return t_; }

 private:
  AdamWConfig config_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// Scales g so that its global L2 norm is at most max_norm (as torch.nn.utils.clip_grad_norm_);
// returns the norm before clipping.
inline double clip_grad_norm(std::span<float> grads, double max_norm) {
  double sum = 0;
#pragma omp parallel for simd reduction(+ : sum) if (grads.size() > 65536)
  for (size_t i = 0; i < grads.size(); ++i) sum += double(grads[i]) * grads[i];
  const double norm = std::sqrt(sum);
  if (max_norm > 0 && norm > max_norm) {
    const float s = float(max_norm / (norm + 1e-6));
    for (float& g : grads) g *= s;
  }
  return norm;
}

}  // namespace bg2vec::train
