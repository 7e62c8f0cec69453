#pragma once
// Mean of the last K pooled tokens: between LastToken (K = 1) and Mean (K = the whole text). A pooling is a
// name and the weights of one row (bg2vec::pool::Pooling); the library does the sums and their backward.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/pooling.hpp>

#include <algorithm>
#include <span>
#include <string_view>

namespace policies {

template <int K>
struct LastK {
  static_assert(K >= 1, "LastK<K> needs K >= 1: with K = 0 no token would be pooled");
  static constexpr std::string_view name = "last-k";
  static void weights(const bg2vec::TokenBatch& batch, int b, std::span<float> w) {
    std::fill(w.begin(), w.end(), 0.0f);
    int taken = 0;
    for (int t = batch.seq_len - 1; t >= 0 && taken < K; --t)
      if (batch.pooled(b, t)) { w[size_t(t)] = 1.0f; ++taken; }
    for (float& x : w) x /= float(taken);            // taken >= 1: the library refuses rows with nothing to pool
  }
};

}  // namespace policies
