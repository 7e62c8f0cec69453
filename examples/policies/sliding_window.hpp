#pragma once
// A bidirectional sliding window: a token sees the tokens less than W positions away on either side
// (a local encoder; W at least the sequence length is Bidirectional). Written as an outside project would:
// a type with the members bg2vec::AttentionPolicy asks for, and nothing of the library's internals.
#include <bg2vec/nn/attention_policy.hpp>

#include <string_view>

namespace policies {

template <int W>
struct SlidingWindow {
  static_assert(W >= 1, "SlidingWindow<W> needs W >= 1: with W = 0 a token would not even see itself");
  static constexpr std::string_view name = "sliding-window";
  // The window is this policy's own; a model's causal window (Gemma's local layers) would cut it in half.
  static constexpr bool honours_sliding_window = false;
  static constexpr int distance(int query, int key) { return query > key ? query - key : key - query; }
  static constexpr bool sees(int query, int key) { return distance(query, key) < W; }
  // Optional: which pairs of a tile are visible, in O(1), so that tiles far from the diagonal are skipped
  // and those near it are not masked pair by pair. The nearest pair of the tile is 0 apart if the ranges
  // overlap; the farthest is at two opposite corners.
  static constexpr bg2vec::Cover cover(int q0, int q1, int k0, int k1) {
    const int nearest = k0 > q1 - 1 ? k0 - (q1 - 1) : q0 > k1 - 1 ? q0 - (k1 - 1) : 0;
    const int farthest = distance(q0, k1 - 1) > distance(q1 - 1, k0) ? distance(q0, k1 - 1) : distance(q1 - 1, k0);
    return nearest >= W ? bg2vec::Cover::None : farthest < W ? bg2vec::Cover::All : bg2vec::Cover::Some;
  }
};

}  // namespace policies
