#pragma once
// SimCSE's InfoNCE loss (nn/info_nce.hpp is the reference): S = (a/|a|)(b/|b|)^T / tau comes from a GEMM;
// these are its rows. Loss_i = logsumexp_j S_ij - S_ii, dS = (softmax(S) - I) / B; the gradients of the unit
// vectors (dS b_n / tau, dS^T a_n / tau) are GEMMs again, and go back through the normalisation:
// dx = (d x_n - x_n (x_n . d x_n)) / |x|.
#include <bg2vec/backend/cuda/host_device.hpp>

#include <cmath>

namespace bg2vec::backend::cuda {

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

// Row i of S [B, B] becomes row i of dS = (softmax(S_i) - e_i) / B; returns the row's loss lse - S_ii.
template <class Lane>
BG2VEC_HOST_DEVICE float info_nce_row(const Lane& lane, float* S, int B, int i) {
  float m = -INFINITY;
  for (int j = lane.first(); j < B; j += lane.stride()) m = max_of(m, S[j]);
  m = lane.max(m);
  float s = 0;
  for (int j = lane.first(); j < B; j += lane.stride()) s += expf(S[j] - m);
  const float lse = m + logf(lane.sum(s));
  const float loss = lse - S[i];   // S[i] is read by every thread before it is overwritten below
  for (int j = lane.first(); j < B; j += lane.stride()) S[j] = (expf(S[j] - lse) - (j == i ? 1.0f : 0.0f)) / float(B);
  return loss;
}

}  // namespace bg2vec::backend::cuda
