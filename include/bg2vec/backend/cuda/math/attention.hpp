#pragma once
// Attention for one query row (nn/attention.hpp is the reference): scores s = cap(scale q.k_j) over the keys
// the row sees, online softmax (running max m and sum l, as FlashAttention), out = sum_j dropout(p_j) v_j / l,
// lse = m + log l kept for the backward pass (+inf and a zero output for a row that sees no key). Query head h
// reads key/value head h / (heads / kv_heads), as HF's repeat_kv.
//
// Which keys a row sees is data here (AttentionMask): causal or not, a sliding window or none, and key
// padding from the mask, so that one kernel serves Causal and Bidirectional; device_mask<P>() (in
// backend/cuda/decoder.hpp) maps a policy type to it and refuses policies of another shape at compile time.
//
// The lane holds PerLane elements of the head (its accumulator of the output stays in registers on the
// device: a warp per row, d <= 32 PerLane); the dot products are the lane's sums.
#include <bg2vec/backend/cuda/host_device.hpp>
#include <bg2vec/backend/cuda/math/dropout.hpp>
#include <bg2vec/backend/cuda/math/gated.hpp>

#include <cmath>
#include <cstdint>

namespace bg2vec::backend::cuda {

struct AttentionMask {
  bool causal = false;
  int window = 0;                      // keys with query - key >= window are hidden; 0: no window

  BG2VEC_HOST_DEVICE bool sees(int query, int key) const {
    if (causal && key > query) return false;
    return window <= 0 || query - key < window;
  }
};

struct AttentionGeometry {
  int seq_len, heads, kv_heads, head_dim;
  float scale;                         // of q.k
  float softcap;                       // Gemma-2's attn_logit_softcapping; 0: none
};

// Row (b, h, query) of the attention: q [B*T, heads*d], k and v [B*T, kv_heads*d] (rotated), key_real [B*T]
// (1 = a real token); writes out's d values of this row and returns its lse. dropout: the layer's attention
// stream, element index (b heads + h) T^2 + query T + key, as the CPU's.
template <int PerLane, class Lane, class T>
BG2VEC_HOST_DEVICE float attention_row_forward(const Lane& lane, const T* q, const T* k, const T* v, const uint8_t* key_real,
                                               const AttentionGeometry& g, const AttentionMask& mask,
                                               const DeviceDropout& dropout, int b, int h, int query, T* out) {
  const int d = g.head_dim, T_ = g.seq_len, kvh = h / (g.heads / g.kv_heads);
  const size_t q_stride = size_t(g.heads) * d, kv_stride = size_t(g.kv_heads) * d;
  const T* q_row = q + (size_t(b) * T_ + query) * q_stride + size_t(h) * d;
  float qr[PerLane], acc[PerLane];
  for (int e = 0; e < PerLane; ++e) {
    const int j = lane.first() + e * lane.stride();
    qr[e] = j < d ? to_float(q_row[j]) : 0.0f;
    acc[e] = 0.0f;
  }
  float m = -INFINITY, l = 0;
  const uint64_t drop_base = (uint64_t(b) * g.heads + h) * uint64_t(T_) * uint64_t(T_) + uint64_t(query) * uint64_t(T_);
  const int key_end = mask.causal ? query + 1 : T_;
  const int key_begin = mask.window > 0 ? (query - mask.window + 1 > 0 ? query - mask.window + 1 : 0) : 0;
  for (int key = key_begin; key < key_end; ++key) {
    if (!key_real[size_t(b) * T_ + key] || !mask.sees(query, key)) continue;
    const T* k_row = k + (size_t(b) * T_ + key) * kv_stride + size_t(kvh) * d;
    const T* v_row = v + (size_t(b) * T_ + key) * kv_stride + size_t(kvh) * d;
    float dot = 0;
    for (int e = 0; e < PerLane; ++e) {
      const int j = lane.first() + e * lane.stride();
      if (j < d) dot += qr[e] * to_float(k_row[j]);
    }
    const float s = softcap(lane.sum(dot) * g.scale, g.softcap);
    const float m_new = max_of(m, s);
    const float alpha = expf(m - m_new), p = expf(s - m_new);   // alpha = 0 while m = -inf
    l = l * alpha + p;
    m = m_new;
    // the normaliser sums the probabilities before dropout; the values see the dropped-out ones
    const float pv = dropout.active() ? p * dropout.factor(drop_base + uint64_t(key)) : p;
    for (int e = 0; e < PerLane; ++e) {
      const int j = lane.first() + e * lane.stride();
      if (j < d) acc[e] = acc[e] * alpha + pv * to_float(v_row[j]);
    }
  }
  T* o_row = out + (size_t(b) * T_ + query) * q_stride + size_t(h) * d;
  const float inv_l = l > 0 ? 1.0f / l : 0.0f;
  for (int e = 0; e < PerLane; ++e) {
    const int j = lane.first() + e * lane.stride();
    if (j < d) o_row[j] = store<T>(acc[e] * inv_l);
  }
  return l > 0 ? m + logf(l) : INFINITY;
}

}  // namespace bg2vec::backend::cuda
