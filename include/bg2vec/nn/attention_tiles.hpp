#pragma once
// The tiles of the tiled attention (nn/attention.hpp): their sizes, and which of a tile's (query, key)
// pairs a policy, the sliding window and key padding leave visible: none (the tile is skipped), all (no
// mask to apply) or some (masked element by element).
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/attention_policy.hpp>

#include <optional>
#include <vector>

namespace bg2vec::layers {

// Queries x keys per tile. 64 x 64 keeps a tile's scores (16 KiB) and the query, key, value and output
// tiles (64 KiB each at head_dim 256) in L2 together. The backward pass takes a key tile against a strip
// of up to `strip` query rows (a multiple of `queries`): its S, P, dP (64 KiB each at 256 rows) and the
// strip's Q, dO still fit in L2 (1 MiB on Zen 4) where whole-T strips did not at T = 2048.
struct AttentionTiles {
  static constexpr int queries = 64;
  static constexpr int keys = 64;
  static constexpr int strip = 256;
};

using bg2vec::Cover;

inline Cover both(Cover a, Cover b) {
  if (a == Cover::None || b == Cover::None) return Cover::None;
  return a == Cover::All && b == Cover::All ? Cover::All : Cover::Some;
}

// Which pairs of queries [q0, q1) x keys [k0, k1) a row's mask (row_mask<P>) sees: in O(1) where the policy
// has cover(), otherwise pair by pair, which is right for any policy.
template <class Row>
Cover policy_cover(const Row& row, int q0, int q1, int k0, int k1) {
  if constexpr (policy::has_tile_cover<Row>) {
    return row.cover(q0, q1, k0, k1);
  } else {
    bool any = false, all = true;
    for (int i = q0; i < q1; ++i)
      for (int j = k0; j < k1; ++j) {
        const bool sees = row.sees(i, j);
        any = any || sees;
        all = all && sees;
        if (any && !all) return Cover::Some;
      }
    return !any ? Cover::None : all ? Cover::All : Cover::Some;
  }
}

// The real (non-pad) tokens of each row of a batch: the span from the first to the last one, and prefix
// counts, so that a key tile's padding is known in O(1). Padding may sit on either side (or inside).
class KeyPadding {
 public:
  explicit KeyPadding(const TokenBatch& batch) : T_(batch.seq_len), count_(size_t(batch.batch) * size_t(T_ + 1), 0),
                                                 first_(size_t(batch.batch), 0), end_(size_t(batch.batch), 0) {
    for (int b = 0; b < batch.batch; ++b) {
      int* c = &count_[size_t(b) * size_t(T_ + 1)];
      for (int t = 0; t < T_; ++t) c[t + 1] = c[t] + (batch.real(b, t) ? 1 : 0);
      int first = 0, end = T_;
      while (first < T_ && !batch.real(b, first)) ++first;
      while (end > first && !batch.real(b, end - 1)) --end;
      first_[size_t(b)] = first;
      end_[size_t(b)] = end;
    }
  }
  int first(int b) const { return first_[size_t(b)]; }   // keys of row b worth visiting: [first, end)
  int end(int b) const { return end_[size_t(b)]; }
  int real_keys(int b, int k0, int k1) const {
    const int* c = &count_[size_t(b) * size_t(T_ + 1)];
    return c[k1] - c[k0];
  }

 private:
  int T_;
  std::vector<int> count_;
  std::vector<int> first_, end_;
};

// What the tile queries [q0, q1) x keys [k0, k1) of row b shows (`row`: its row_mask<P>): the policy's cover, the sliding window's
// (query - key < window, where the policy honours one) and the key padding's, combined. `Some` may still
// hide every pair (two partial covers that do not overlap): the element mask then zeroes the tile.
template <AttentionPolicy P, class Row>
Cover tile_cover(const KeyPadding& padding, const Row& row, int b, int q0, int q1, int k0, int k1,
                 const std::optional<int>& window) {
  const int real = padding.real_keys(b, k0, k1);
  Cover c = both(real == 0 ? Cover::None : real == k1 - k0 ? Cover::All : Cover::Some, policy_cover(row, q0, q1, k0, k1));
  if constexpr (P::honours_sliding_window) {
    if (window) c = both(c, q0 - (k1 - 1) >= *window ? Cover::None : (q1 - 1) - k0 < *window ? Cover::All : Cover::Some);
  }
  return c;
}

}  // namespace bg2vec::layers
