#pragma once
// Pooling turns per-token hidden states into one vector per sequence. Every pooling here is a weighted
// sum over the tokens of a row, so a policy only says which weights: the forward is sum_t w_t h_t and
// the backward is dh_t = w_t dpooled. Tokens outside the pool mask (padding, instructions) get weight 0;
// they still took part in attention.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>

#include <span>
#include <string>
#include <string_view>

namespace bg2vec::pool {

// Mean of the pooled tokens (LLM2Vec's best after bidirectional training).
struct Mean {
  static constexpr std::string_view name = "mean";
  static void weights(const TokenBatch& batch, int b, std::span<float> w) {
    int n = 0;
    for (int t = 0; t < batch.seq_len; ++t) n += batch.pooled(b, t);
    for (int t = 0; t < batch.seq_len; ++t) w[size_t(t)] = batch.pooled(b, t) ? 1.0f / float(n) : 0.0f;
  }
};

// Position-weighted mean: the k-th pooled token weighs k (SGPT); best for causal models, whose later
// tokens have seen more of the text.
struct WeightedMean {
  static constexpr std::string_view name = "weighted-mean";
  static void weights(const TokenBatch& batch, int b, std::span<float> w) {
    float k = 0, total = 0;
    for (int t = 0; t < batch.seq_len; ++t) {
      w[size_t(t)] = batch.pooled(b, t) ? ++k : 0.0f;
      total += w[size_t(t)];
    }
    for (float& x : w) x /= total;
  }
};

// The last pooled token (the only one that has seen the whole text under causal attention).
struct LastToken {
  static constexpr std::string_view name = "last";
  static void weights(const TokenBatch& batch, int b, std::span<float> w) {
    std::fill(w.begin(), w.end(), 0.0f);
    for (int t = batch.seq_len - 1; t >= 0; --t)
      if (batch.pooled(b, t)) { w[size_t(t)] = 1.0f; return; }
  }
};

// The first token (BOS).
struct Bos {
  static constexpr std::string_view name = "bos";
  static void weights(const TokenBatch& batch, int b, std::span<float> w) {
    std::fill(w.begin(), w.end(), 0.0f);
    w[0] = 1.0f;
  }
};

// The parts of the concept, named so that a compiler's "constraints not satisfied" note says which is missing.
namespace pooling {

template <class P>
concept has_name = requires { { P::name } -> std::convertible_to<std::string_view>; };

// weights(batch, b, w): row b's weight of each of its seq_len tokens into w (0 for tokens not pooled).
template <class P>
concept gives_weights = requires(const TokenBatch& batch, std::span<float> w) { P::weights(batch, 0, w); };

}  // namespace pooling

template <class P>
concept Pooling = pooling::has_name<P> && pooling::gives_weights<P>;

// Pooling weights of every row: [B, T].
template <Pooling P>
Matrix pooling_weights(const TokenBatch& batch) {
  Matrix w(batch.batch, batch.seq_len);
  for (int b = 0; b < batch.batch; ++b) {
    bool any = false;
    for (int t = 0; t < batch.seq_len; ++t) any = any || batch.pooled(b, t);
    if (!any) fail("sequence " + std::to_string(b) + " has no token to pool (all padding or instruction)");
    P::weights(batch, b, std::span<float>(w.row(b).data(), size_t(batch.seq_len)));
  }
  return w;
}

// pooled[b] = sum_t w[b, t] hidden[b*T + t]
template <Pooling P>
Matrix pool_forward(const Eigen::Ref<const Matrix>& hidden, const TokenBatch& batch) {
  const Matrix w = pooling_weights<P>(batch);
  Matrix pooled(batch.batch, hidden.cols());
  for (int b = 0; b < batch.batch; ++b)
    pooled.row(b).noalias() = w.row(b) * hidden.middleRows(Eigen::Index(b) * batch.seq_len, batch.seq_len);
  return pooled;
}

// dhidden[b*T + t] += w[b, t] dpooled[b]
template <Pooling P>
void pool_backward(const Eigen::Ref<const Matrix>& d_pooled, const TokenBatch& batch, Eigen::Ref<Matrix> d_hidden) {
  const Matrix w = pooling_weights<P>(batch);
  for (int b = 0; b < batch.batch; ++b)
    d_hidden.middleRows(Eigen::Index(b) * batch.seq_len, batch.seq_len).noalias() += w.row(b).transpose() * d_pooled.row(b);
}

// Calls f.template operator()<Policy>() for a pooling named at run time.
template <class F>
decltype(auto) with_pooling(std::string_view name, F&& f) {
  if (name == Mean::name) return f.template operator()<Mean>();
  if (name == WeightedMean::name) return f.template operator()<WeightedMean>();
  if (name == LastToken::name) return f.template operator()<LastToken>();
  if (name == Bos::name) return f.template operator()<Bos>();
  throw Error("unknown pooling '" + std::string(name) + "' (expected mean, weighted-mean, last or bos)");
}

}  // namespace bg2vec::pool
