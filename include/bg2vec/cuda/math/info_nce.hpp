#pragma once
// SimCSE's InfoNCE loss (nn/info_nce.hpp is the reference): S = (a/|a|)(b/|b|)^T / tau comes from a GEMM;
// these are its rows. Loss_i = logsumexp_j S_ij - S_ii, dS = (softmax(S) - I) / B; the gradients of the unit
// vectors (dS b_n / tau, dS^T a_n / tau) are GEMMs again, and go back through the normalisation:
// dx = (d x_n - x_n (x_n . d x_n)) / |x|.
#include <bg2vec/cuda/host_device.hpp>

#include <cmath>

namespace bg2vec::cuda {

// unit = x / max(|x|, 1e-8) (torch's cosine_similarity clamp); returns the clamped norm.
template <class Lane, class T>
BG2VEC_HOST_DEVICE float normalise_row(const Lane& lane, const T* x, int n, float* unit) {
  float ss = 0;
  for (int j = lane.first(); j < n; j += lane.stride()) ss += to_float(x[j]) * to_float(x[j]);
  const float norm = max_of(sqrtf(lane.sum(ss)), 1e-8f);
  for (int j = lane.first(); j < n; j += lane.stride()) unit[j] = to_float(x[j]) / norm;
  return norm;
}

// dx += (d_unit - unit (unit . d_unit)) / norm
template <class Lane>
BG2VEC_HOST_DEVICE void normalise_backward_row(const Lane& lane, const float* unit, float norm, const float* d_unit, int n,
                                               float* dx) {
  float dot = 0;
  for (int j = lane.first(); j < n; j += lane.stride()) dot += unit[j] * d_unit[j];
  dot = lane.sum(dot);
  for (int j = lane.first(); j < n; j += lane.stride()) dx[j] += (d_unit[j] - unit[j] * dot) / norm;
}

// Row i of S [B, B] becomes row i of dS = (softmax(S_i) - e_i) / B; returns the row's loss lse - S_ii. Written so
// that a nearly solved row keeps its precision in float32 (the CPU sums in double): with m the row's max,
// e_j = e^(S_ij - m) and R = sum_{j != i} e_j, the loss is log1p(R / e_ii) and the diagonal's gradient
// -R / (e_ii + R), where lse - S_ii and p_ii - 1 would cancel (a loss of 1e-5 at S ~ 1/0.05 lost two digits, and
// its gradients 4% of their size). e_ii = e^(S_ii - m) >= e^(-2 / temperature) must not underflow: temperatures
// down to about 0.025.
template <class Lane>
BG2VEC_HOST_DEVICE float info_nce_row(const Lane& lane, float* S, int B, int i) {
  const float s_ii = S[i];   // read by every thread before the reductions: the last loop overwrites it
  float m = -INFINITY;
  for (int j = lane.first(); j < B; j += lane.stride()) m = max_of(m, S[j]);
  m = lane.max(m);
  float r = 0;
  for (int j = lane.first(); j < B; j += lane.stride())
    if (j != i) r += expf(S[j] - m);
  r = lane.sum(r);
  const float e_ii = expf(s_ii - m), z = e_ii + r;
  for (int j = lane.first(); j < B; j += lane.stride()) S[j] = (j == i ? -r / z : expf(S[j] - m) / z) / float(B);
  return log1pf(r / e_ii);
}

}  // namespace bg2vec::cuda
