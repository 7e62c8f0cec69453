#pragma once
// Attention for one query row (nn/attention.hpp is the reference): scores s = cap(scale q.k_j) over the keys
// the row sees, online softmax (running max m and sum l, as FlashAttention), out = sum_j dropout(p_j) v_j / l,
// lse = m + log l kept for the backward pass (+inf and a zero output for a row that sees no key). Query head h
// reads key/value head h / (heads / kv_heads), as HF's repeat_kv.
//
// Which keys a row sees is data here (AttentionMask): causal or not, a sliding window or none, and key
// padding from the mask, so that one kernel serves Causal and Bidirectional; device_mask<P>() (in
// cuda/decoder.hpp) maps a policy type to it and refuses policies of another shape at compile time.
//
// The lane holds PerLane elements of the head (its accumulator of the output stays in registers on the
// device: a warp per row, d <= 32 PerLane); the dot products are the lane's sums.
//
// Backward (as the CPU's, from the forward's lse, recomputing P): D_i = dO_i . O_i (recomputed, see
// attention_row_delta); for each visible pair
// P_ij = e^(s_ij - lse_i), dP_ij = dO_i . v_j (times the dropout factor Z_ij), dS_ij = s P_ij (dP_ij - D_i) cap'(s_ij);
// dq_i = sum_j dS_ij k_j (a row per query), and per key row dk_j = sum_i dS_ij q_i, dv_j = sum_i P_ij Z_ij dO_i over
// every query head of the key's group: each gradient row has one writer and its sum a fixed order (no atomics).
#include <bg2vec/cuda/host_device.hpp>
#include <bg2vec/cuda/math/dropout.hpp>
#include <bg2vec/cuda/math/gated.hpp>

#include <cmath>
#include <cstdint>

namespace bg2vec::cuda {

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

namespace detail {
// The lane's elements of a d-wide row into registers (0 past d).
template <int PerLane, class Lane, class T>
BG2VEC_HOST_DEVICE void load_head(const Lane& lane, const T* row, int d, float* r) {
  for (int e = 0; e < PerLane; ++e) {
    const int j = lane.first() + e * lane.stride();
    r[e] = j < d ? to_float(row[j]) : 0.0f;
  }
}
template <int PerLane, class Lane, class T>
BG2VEC_HOST_DEVICE float dot_head(const Lane& lane, const float* r, const T* row, int d) {
  float s = 0;
  for (int e = 0; e < PerLane; ++e) {
    const int j = lane.first() + e * lane.stride();
    if (j < d) s += r[e] * to_float(row[j]);
  }
  return lane.sum(s);
}
template <int PerLane, class Lane, class O>
BG2VEC_HOST_DEVICE void store_head(const Lane& lane, const float* r, int d, O* row) {
  for (int e = 0; e < PerLane; ++e) {
    const int j = lane.first() + e * lane.stride();
    if (j < d) row[j] = store<O>(r[e]);
  }
}
}  // namespace detail

// The layout of q / out / dO ([B*T, heads*d]) and k / v ([B*T, kv_heads*d]) rows.
struct AttentionRows {
  const AttentionGeometry& g;
  BG2VEC_HOST_DEVICE size_t q(int b, int t, int h) const { return (size_t(b) * g.seq_len + t) * size_t(g.heads) * g.head_dim + size_t(h) * g.head_dim; }
  BG2VEC_HOST_DEVICE size_t kv(int b, int t, int h) const { return (size_t(b) * g.seq_len + t) * size_t(g.kv_heads) * g.head_dim + size_t(h) * g.head_dim; }
};

// D = dO . O of row (b, h, query), as sum_j P_ij Z_ij (dO . v_j): from the same P and dP that dS reads, not from the
// stored O, whose bf16 rounding would otherwise enter every dS = P (dP - D), where the two terms nearly cancel
// (measured: q/k gradients off by several times their size in the bf16 mode with D from the stored O).
template <int PerLane, class Lane, class T, class G>
BG2VEC_HOST_DEVICE float attention_row_delta(const Lane& lane, const T* q, const T* k, const T* v, const G* d_out, const float* lse,
                                             const uint8_t* key_real, const AttentionGeometry& g, const AttentionMask& mask,
                                             const DeviceDropout& dropout, int b, int h, int query) {
  const AttentionRows rows{g};
  const int d = g.head_dim, T_ = g.seq_len, kvh = h / (g.heads / g.kv_heads);
  const size_t row = (size_t(b) * g.heads + h) * T_ + query;
  float qr[PerLane], dor[PerLane];
  detail::load_head<PerLane>(lane, q + rows.q(b, query, h), d, qr);
  detail::load_head<PerLane>(lane, d_out + rows.q(b, query, h), d, dor);
  const float l = lse[row];
  float D = 0;
  for (int key = 0; key < T_; ++key) {
    if (!key_real[size_t(b) * T_ + key] || !mask.sees(query, key)) continue;
    const float s = softcap(detail::dot_head<PerLane>(lane, qr, k + rows.kv(b, key, kvh), d) * g.scale, g.softcap);
    float dp = detail::dot_head<PerLane>(lane, dor, v + rows.kv(b, key, kvh), d);
    if (dropout.active()) dp *= dropout.factor(row * uint64_t(T_) + uint64_t(key));
    D += expf(s - l) * dp;
  }
  return D;
}

// dq of row (b, h, query): lse and delta [B*heads*T] as the forward and attention_row_delta left them.
template <int PerLane, class Lane, class T, class G, class O>
BG2VEC_HOST_DEVICE void attention_row_backward_query(const Lane& lane, const T* q, const T* k, const T* v, const G* d_out,
                                                     const float* lse, const float* delta, const uint8_t* key_real,
                                                     const AttentionGeometry& g, const AttentionMask& mask,
                                                     const DeviceDropout& dropout, int b, int h, int query, O* dq) {
  const AttentionRows rows{g};
  const int d = g.head_dim, T_ = g.seq_len, kvh = h / (g.heads / g.kv_heads);
  const size_t row = (size_t(b) * g.heads + h) * T_ + query;
  float qr[PerLane], dor[PerLane], acc[PerLane];
  detail::load_head<PerLane>(lane, q + rows.q(b, query, h), d, qr);
  detail::load_head<PerLane>(lane, d_out + rows.q(b, query, h), d, dor);
  for (int e = 0; e < PerLane; ++e) acc[e] = 0.0f;
  const float l = lse[row], D = delta[row];
  const uint64_t drop_base = row * uint64_t(T_);
  for (int key = 0; key < T_; ++key) {
    if (!key_real[size_t(b) * T_ + key] || !mask.sees(query, key)) continue;
    const T* k_row = k + rows.kv(b, key, kvh);
    const float s = softcap(detail::dot_head<PerLane>(lane, qr, k_row, d) * g.scale, g.softcap);
    const float p = expf(s - l);
    float dp = detail::dot_head<PerLane>(lane, dor, v + rows.kv(b, key, kvh), d);
    if (dropout.active()) dp *= dropout.factor(drop_base + uint64_t(key));
    const float ds = p * (dp - D) * g.scale * softcap_derivative(s, g.softcap);
    for (int e = 0; e < PerLane; ++e) {
      const int j = lane.first() + e * lane.stride();
      if (j < d) acc[e] += ds * to_float(k_row[j]);
    }
  }
  detail::store_head<PerLane>(lane, acc, d, dq + rows.q(b, query, h));
}

// dk and dv of key row (b, kv head kvh, key): the sums over the group's query heads and the queries that see it.
template <int PerLane, class Lane, class T, class G, class O>
BG2VEC_HOST_DEVICE void attention_row_backward_key(const Lane& lane, const T* q, const T* k, const T* v, const G* d_out,
                                                   const float* lse, const float* delta, const uint8_t* key_real,
                                                   const AttentionGeometry& g, const AttentionMask& mask,
                                                   const DeviceDropout& dropout, int b, int kvh, int key, O* dk, O* dv) {
  const AttentionRows rows{g};
  const int d = g.head_dim, T_ = g.seq_len, group = g.heads / g.kv_heads;
  float kr[PerLane], vr[PerLane], dk_acc[PerLane], dv_acc[PerLane];
  detail::load_head<PerLane>(lane, k + rows.kv(b, key, kvh), d, kr);
  detail::load_head<PerLane>(lane, v + rows.kv(b, key, kvh), d, vr);
  for (int e = 0; e < PerLane; ++e) dk_acc[e] = dv_acc[e] = 0.0f;
  if (key_real[size_t(b) * T_ + key]) {
    for (int h = kvh * group; h < (kvh + 1) * group; ++h)
      for (int query = 0; query < T_; ++query) {
        if (!mask.sees(query, key)) continue;
        const size_t row = (size_t(b) * g.heads + h) * T_ + query;
        const T* q_row = q + rows.q(b, query, h);
        const G* do_row = d_out + rows.q(b, query, h);
        const float s = softcap(detail::dot_head<PerLane>(lane, kr, q_row, d) * g.scale, g.softcap);
        const float p = expf(s - lse[row]);
        const float z = dropout.active() ? dropout.factor(row * uint64_t(T_) + uint64_t(key)) : 1.0f;
        const float dp = detail::dot_head<PerLane>(lane, vr, do_row, d) * z;
        const float ds = p * (dp - delta[row]) * g.scale * softcap_derivative(s, g.softcap);
        for (int e = 0; e < PerLane; ++e) {
          const int j = lane.first() + e * lane.stride();
          if (j < d) {
            dk_acc[e] += ds * to_float(q_row[j]);
            dv_acc[e] += p * z * to_float(do_row[j]);
          }
        }
      }
  }
  detail::store_head<PerLane>(lane, dk_acc, d, dk + rows.kv(b, key, kvh));
  detail::store_head<PerLane>(lane, dv_acc, d, dv + rows.kv(b, key, kvh));
}

}  // namespace bg2vec::cuda
