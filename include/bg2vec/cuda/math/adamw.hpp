#pragma once
// torch.optim.AdamW's element update (train/optimizer.hpp is the reference, and is bit for bit this
// arithmetic): the step's constants come from the host once per step, the update is one element.
#include <bg2vec/cuda/host_device.hpp>

#include <cmath>
#include <cstdint>

namespace bg2vec::cuda {

struct AdamWStep {
  float beta1, beta2, eps;
  float step_size, bc2_sqrt, decay;    // lr/(1-b1^t), sqrt(1-b2^t), 1-lr*wd

  // Step t (1-based) at learning rate lr, computed as the CPU's AdamW::step does.
  static AdamWStep at(float beta1, float beta2, float eps, float weight_decay, float lr, int64_t t) {
    const double bc1 = 1.0 - std::pow(double(beta1), double(t)), bc2 = 1.0 - std::pow(double(beta2), double(t));
    return {beta1, beta2, eps, float(lr / bc1), float(std::sqrt(bc2)), 1.0f - lr * weight_decay};
  }
};

BG2VEC_HOST_DEVICE inline void adamw_update(float& p, float g, float& m, float& v, const AdamWStep& s) {
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  p = p * s.decay - s.step_size * m / (sqrtf(v) / s.bc2_sqrt + s.eps);
}

}  // namespace bg2vec::cuda
