#pragma once
// Pooling (nn/pooling.hpp is the reference): every pooling is a weighted sum over the tokens of a row,
// pooled[b] = sum_t w[b, t] h[b T + t], with the weights [B, T] from pool::pooling_weights<P> on the host
// (they depend on the masks only). Backward: dh[b T + t] += w[b, t] dpooled[b].
#include <bg2vec/cuda/host_device.hpp>

#include <cstddef>

namespace bg2vec::cuda {

// pooled[b, col]: a thread per column, tokens in order (deterministic; a warp reads consecutive columns).
template <class T>
BG2VEC_HOST_DEVICE float pool_column(const T* hidden, const float* weights, int b, int seq_len, int n, int col) {
  float s = 0;
  for (int t = 0; t < seq_len; ++t) {
    const float w = weights[size_t(b) * seq_len + t];
    if (w != 0.0f) s += w * to_float(hidden[(size_t(b) * seq_len + t) * n + col]);
  }
  return s;
}

// dh[b T + t, col] += w[b, t] dpooled[b, col]
BG2VEC_HOST_DEVICE inline void pool_backward_element(const float* weights, const float* d_pooled, int b, int t, int seq_len,
                                                     int n, int col, float* d_hidden) {
  d_hidden[(size_t(b) * seq_len + t) * n + col] += weights[size_t(b) * seq_len + t] * d_pooled[size_t(b) * n + col];
}

}  // namespace bg2vec::cuda
