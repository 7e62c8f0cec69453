#pragma once
// Grouped-query scaled dot-product attention for one batch, all heads:
//   S = cap(s Q K^T),  P = softmax(S + mask),  out = dropout(P) V,
// with s = 1/sqrt(d) (Gemma-2: query_pre_attn_scalar^-1/2) and cap the identity, or Gemma-2's
// soft-capping cap * tanh(x / cap); query head h reads key/value head h / (heads / kv_heads), as HF's
// repeat_kv. The policy decides which keys a query sees; key padding is applied on top of it.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/nn/attention_policy.hpp>
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/nn/softcap.hpp>

#include <cmath>
#include <limits>
#include <optional>

namespace bg2vec::layers {

struct AttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0;
  std::optional<int> sliding_window;   // this layer's window (Gemma-2 slides on some layers only)
  std::optional<float> scale;          // of Q K^T; default 1/sqrt(head_dim)
  std::optional<float> softcap;        // Gemma-2's attn_logit_softcapping

  float score_scale() const { return scale ? *scale : 1.0f / std::sqrt(float(head_dim)); }
};

template <AttentionPolicy P>
inline bool visible(const TokenBatch& batch, int b, int query, int key, const std::optional<int>& window) {
  if (!batch.real(b, key) || !P::sees(query, key)) return false;
  if constexpr (P::honours_sliding_window) {
    if (window && query - key >= *window) return false;
  }
  return true;
}

// The dropped-out probabilities of head bh: D = P * mask / (1 - p), regenerated from the seed.
inline void attention_dropout(const Eigen::Ref<const Matrix>& S, const Dropout& dropout, uint64_t stream, int bh,
                              Matrix& D) {
  const Eigen::Index T = S.rows();
  D.resize(T, T);
  const uint64_t base = uint64_t(bh) * uint64_t(T) * uint64_t(T);
  for (Eigen::Index i = 0; i < T; ++i)
    for (Eigen::Index j = 0; j < T; ++j) D(i, j) = S(i, j) * dropout.factor(stream, base + uint64_t(i * T + j));
}

// q [B*T, heads*d] and k, v [B*T, kv_heads*d] (q, k already rotated). probs [B*heads*T, T] receives the
// attention probabilities before dropout (kept for backward), out [B*T, heads*d] the attended values.
template <AttentionPolicy P>
void attention_forward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k,
                       const Eigen::Ref<const Matrix>& v, const TokenBatch& batch, const AttentionShape& shape,
                       Eigen::Ref<Matrix> probs, Eigen::Ref<Matrix> out, const Dropout& dropout = {},
                       uint64_t stream = 0) {
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  const float scale = shape.score_scale();
#pragma omp parallel for schedule(dynamic)
  for (int bh = 0; bh < batch.batch * shape.heads; ++bh) {
    const int b = bh / shape.heads, h = bh % shape.heads, g = h / group;
    const auto Q = q.block(Eigen::Index(b) * T, h * d, T, d);
    const auto K = k.block(Eigen::Index(b) * T, g * d, T, d);
    const auto V = v.block(Eigen::Index(b) * T, g * d, T, d);
    auto S = probs.block(Eigen::Index(bh) * T, 0, T, T);
    S.noalias() = (Q * K.transpose()) * scale;
    softcap_forward(S, shape.softcap);
    for (int i = 0; i < T; ++i) {
      float max = -std::numeric_limits<float>::infinity();
      for (int j = 0; j < T; ++j)
        if (visible<P>(batch, b, i, j, shape.sliding_window)) max = std::max(max, S(i, j));
      float sum = 0;
      for (int j = 0; j < T; ++j) {
        const float e = visible<P>(batch, b, i, j, shape.sliding_window) ? std::exp(S(i, j) - max) : 0.0f;
        S(i, j) = e;
        sum += e;
      }
      // A query that sees no key (impossible with one real token per row) gets a zero row, not NaN.
      S.row(i) *= sum > 0 ? 1.0f / sum : 0.0f;
    }
    auto O = out.block(Eigen::Index(b) * T, h * d, T, d);
    if (dropout.active()) {
      thread_local Matrix D;
      attention_dropout(S, dropout, stream, bh, D);
      O.noalias() = D * V;
    } else {
      O.noalias() = S * V;
    }
  }
}

// Given d_out, the gradient of `out`:  dV += D^T dO;  dD = dO V^T;  dP = dD * mask/(1-p);
// dS = P * (dP - rowsum(dP * P)), times cap's derivative (the capped scores are recomputed from Q, K
// rather than kept: one T x T product per head instead of a second [B*heads*T, T] buffer);
// dQ = s dS K;  dK += s dS^T Q.
// Masked entries have P = 0 and so get no gradient. The query heads of one kv head add into the same
// dK, dV columns, so the parallel loop runs over (batch, kv head) and the group's heads in turn.
// The policy needs no say here: what it hid has P = 0.
inline void attention_backward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k,
                        const Eigen::Ref<const Matrix>& v, const Eigen::Ref<const Matrix>& probs,
                        const Eigen::Ref<const Matrix>& d_out, const TokenBatch& batch, const AttentionShape& shape,
                        Eigen::Ref<Matrix> dq, Eigen::Ref<Matrix> dk, Eigen::Ref<Matrix> dv,
                        const Dropout& dropout = {}, uint64_t stream = 0) {
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  const float scale = shape.score_scale();
#pragma omp parallel for schedule(dynamic)
  for (int bg = 0; bg < batch.batch * shape.kv_heads; ++bg) {
    const int b = bg / shape.kv_heads, g = bg % shape.kv_heads;
    const Eigen::Index row = Eigen::Index(b) * T;
    const auto K = k.block(row, g * d, T, d);
    const auto V = v.block(row, g * d, T, d);
    auto dK = dk.block(row, g * d, T, d);
    auto dV = dv.block(row, g * d, T, d);
    dK.setZero();
    dV.setZero();
    thread_local Matrix dS, D, capped;
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const int bh = b * shape.heads + h;
      const auto Pm = probs.block(Eigen::Index(bh) * T, 0, T, T);
      const auto dO = d_out.block(row, h * d, T, d);
      dS.noalias() = dO * V.transpose();                     // dD
      if (dropout.active()) {
        attention_dropout(Pm, dropout, stream, bh, D);
        dV.noalias() += D.transpose() * dO;
        const float keep = dropout.scale();
        dS.array() *= (D.array() != 0.0f).cast<float>() * keep;   // dP = dD * mask/(1-p)
      } else {
        dV.noalias() += Pm.transpose() * dO;
      }
      for (int i = 0; i < T; ++i) {
        const float dot = dS.row(i).dot(Pm.row(i));
        dS.row(i) = Pm.row(i).cwiseProduct((dS.row(i).array() - dot).matrix());
      }
      if (shape.softcap) {
        capped.noalias() = (q.block(row, h * d, T, d) * K.transpose()) * scale;
        softcap_forward(capped, shape.softcap);
        softcap_backward(capped, dS, shape.softcap);
      }
      dq.block(row, h * d, T, d).noalias() = (dS * K) * scale;
      dK.noalias() += (dS.transpose() * q.block(row, h * d, T, d)) * scale;
    }
  }
}

}  // namespace bg2vec::layers
