#pragma once
// RMSNorm's per-row math (nn/rmsnorm.hpp is the reference): y = x r (w + offset), r = 1/sqrt(mean(x^2) + eps),
// offset 0 for Llama/Mistral and 1 for Gemma. The same rows serve Gemma-3's q/k norms (a row is one head,
// [N*heads, head_dim]) and Gemma's post-norms, fused with their residual add. Each function is one row; the
// lane (host_device.hpp) says which of its elements this thread computes and reduces the row's sums.
#include <bg2vec/cuda/host_device.hpp>

#include <cmath>

namespace bg2vec::cuda {

// 1/sqrt(mean(x^2) + eps) of a row of n.
template <class Lane, class In>
BG2VEC_HOST_DEVICE float rmsnorm_rstd(const Lane& lane, const In* x, int n, float eps) {
  float ss = 0;
  for (int j = lane.first(); j < n; j += lane.stride()) {
    const float v = to_float(x[j]);
    ss += v * v;
  }
  // 1/sqrtf, not rsqrtf: the device's rsqrtf is approximate (2 ulp) and the CPU divides.
  return 1.0f / sqrtf(lane.sum(ss) / float(n) + eps);
}

// y = x r (w + offset); returns r (what the backward pass keeps).
template <class Lane, class In, class W, class Out>
BG2VEC_HOST_DEVICE float rmsnorm_forward_row(const Lane& lane, const In* x, const W* w, float offset, float eps, int n,
                                             Out* y) {
  const float r = rmsnorm_rstd(lane, x, n, eps);
  for (int j = lane.first(); j < n; j += lane.stride()) y[j] = store<Out>(to_float(x[j]) * r * (to_float(w[j]) + offset));
  return r;
}

// Gemma's post-norm and its residual add in one pass: out = residual + branch r (w + offset); returns r.
template <class Lane, class In, class W>
BG2VEC_HOST_DEVICE float post_norm_residual_row(const Lane& lane, const In* branch, const W* w, float offset, float eps,
                                                int n, const float* residual, float* out) {
  const float r = rmsnorm_rstd(lane, branch, n, eps);
  for (int j = lane.first(); j < n; j += lane.stride())
    out[j] = residual[j] + to_float(branch[j]) * r * (to_float(w[j]) + offset);
  return r;
}

// dx += r w' dy - x r^3/n sum(w' dy x), w' = w + offset: the input gradient, added to dx (the residual
// stream's gradient, which also flows past the norm).
template <class Lane, class In, class W, class G>
BG2VEC_HOST_DEVICE void rmsnorm_backward_row(const Lane& lane, const In* x, const W* w, float offset, float r, const G* dy,
                                             int n, float* dx) {
  float dot = 0;
  for (int j = lane.first(); j < n; j += lane.stride()) dot += to_float(dy[j]) * (to_float(w[j]) + offset) * to_float(x[j]);
  const float k = lane.sum(dot) * r * r * r / float(n);
  for (int j = lane.first(); j < n; j += lane.stride())
    dx[j] += r * (to_float(dy[j]) * (to_float(w[j]) + offset)) - k * to_float(x[j]);
}

// dw[col] = sum over the rows of dy x r, for one column: a thread per column reads rows in order, so the
// sum is deterministic and the threads of a warp read consecutive addresses.
template <class In, class G>
BG2VEC_HOST_DEVICE float rmsnorm_weight_grad_column(const In* x, const float* rstd, const G* dy, int rows, int n, int col) {
  float s = 0;
  for (int i = 0; i < rows; ++i) s += to_float(dy[size_t(i) * n + col]) * to_float(x[size_t(i) * n + col]) * rstd[i];
  return s;
}

}  // namespace bg2vec::cuda
