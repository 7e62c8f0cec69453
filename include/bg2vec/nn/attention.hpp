#pragma once
// Grouped-query scaled dot-product attention for one batch, all heads:
//   P = softmax(Q K^T / sqrt(d) + mask),  out = P V,
// where query head h reads key/value head h / (heads / kv_heads), as HF's repeat_kv.
// The policy decides which keys a query sees; key padding is applied on top of it.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/nn/attention_policy.hpp>

#include <cmath>
#include <limits>
#include <optional>

namespace bg2vec::layers {

struct AttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0;
  std::optional<int> sliding_window;
};

template <AttentionPolicy P>
inline bool visible(const TokenBatch& batch, int b, int query, int key, const std::optional<int>& window) {
  if (!batch.real(b, key) || !P::sees(query, key)) return false;
  if constexpr (P::honours_sliding_window) {
    if (window && query - key >= *window) return false;
  }
  return true;
}

// q [B*T, heads*d] and k, v [B*T, kv_heads*d] (q, k already rotated). probs [B*heads*T, T] receives the
// attention probabilities (kept for backward), out [B*T, heads*d] the attended values.
template <AttentionPolicy P>
void attention_forward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k,
                       const Eigen::Ref<const Matrix>& v, const TokenBatch& batch, const AttentionShape& shape,
                       Eigen::Ref<Matrix> probs, Eigen::Ref<Matrix> out) {
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  const float scale = 1.0f / std::sqrt(float(d));
#pragma omp parallel for schedule(dynamic)
  for (int bh = 0; bh < batch.batch * shape.heads; ++bh) {
    const int b = bh / shape.heads, h = bh % shape.heads, g = h / group;
    const auto Q = q.block(Eigen::Index(b) * T, h * d, T, d);
    const auto K = k.block(Eigen::Index(b) * T, g * d, T, d);
    const auto V = v.block(Eigen::Index(b) * T, g * d, T, d);
    auto S = probs.block(Eigen::Index(bh) * T, 0, T, T);
    S.noalias() = (Q * K.transpose()) * scale;
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
    out.block(Eigen::Index(b) * T, h * d, T, d).noalias() = S * V;
  }
}

}  // namespace bg2vec::layers
