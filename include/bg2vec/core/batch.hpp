#pragma once
// A batch of token sequences, right-padded to one length: what the model consumes.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bg2vec {

struct TokenBatch {
  int batch = 0;                       // B
  int seq_len = 0;                     // T
  std::vector<int32_t> ids;            // [B, T], pad positions hold the pad id
  std::vector<uint8_t> mask;           // [B, T], 1 = real token, 0 = padding
  std::vector<uint8_t> pool_mask;      // [B, T] or empty; 1 = token is pooled (0 e.g. for instructions)

  int32_t id(int b, int t) const { return ids[size_t(b) * seq_len + t]; }
  bool real(int b, int t) const { return mask[size_t(b) * seq_len + t] != 0; }
  bool pooled(int b, int t) const {
    return pool_mask.empty() ? real(b, t) : pool_mask[size_t(b) * seq_len + t] != 0;
  }
  int length(int b) const {            // number of real tokens of row b
    int n = 0;
    for (int t = 0; t < seq_len; ++t) n += real(b, t);
    return n;
  }
  int tokens() const { return batch * seq_len; }
};

}  // namespace bg2vec
