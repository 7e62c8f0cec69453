#pragma once
// Weights that halve every H pooled tokens back from the last one: the k-th pooled token from the end
// (k = 0 for the last) weighs 2^(-k / H), normalised to sum 1. A smooth LastToken for causal models (whose
// later tokens have seen more of the text); H large tends to Mean.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/pooling.hpp>

#include <cmath>
#include <span>
#include <string_view>

namespace policies {

template <int H>
struct TailDecay {
  static_assert(H >= 1, "TailDecay<H> needs a half-life of at least one token");
  static constexpr std::string_view name = "tail-decay";
  static void weights(const bg2vec::TokenBatch& batch, int b, std::span<float> w) {
    float total = 0, from_end = 0;
    for (int t = batch.seq_len - 1; t >= 0; --t) {
      w[size_t(t)] = batch.pooled(b, t) ? std::exp2(-(from_end++) / float(H)) : 0.0f;
      total += w[size_t(t)];
    }
    for (float& x : w) x /= total;
  }
};

}  // namespace policies
