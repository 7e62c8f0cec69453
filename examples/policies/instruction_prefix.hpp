#pragma once
// LLM2Vec's instruction setting as a mask: "instruction + text", where the instruction's tokens see only
// each other and the text's tokens see everything (instruction and text). Where the instruction ends
// differs from row to row, so this is a row-aware policy: row(batch, b) reads it once per row. The
// instruction is what TokenBatch already marks as not pooled: the leading real tokens with pool_mask 0
// (BOS included when it is left out of pooling), so the same batch feeds the mask and the pooling.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/attention_policy.hpp>

#include <string_view>

namespace policies {

struct InstructionPrefix {
  static constexpr std::string_view name = "instruction-prefix";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees_later_keys = true;      // text tokens see the text after them

  struct Row {
    int end = 0;                                      // the instruction is [0, end)
    constexpr bool sees(int query, int key) const { return query >= end || key < end; }
    // Optional, O(1): a tile of instruction queries against text keys sees nothing; text queries, or
    // instruction queries against instruction keys, see everything; a tile across the border, some.
    constexpr bg2vec::Cover cover(int q0, int q1, int k0, int k1) const {
      if (q0 >= end || k1 <= end) return bg2vec::Cover::All;
      if (q1 <= end && k0 >= end) return bg2vec::Cover::None;
      return bg2vec::Cover::Some;
    }
  };

  static Row row(const bg2vec::TokenBatch& batch, int b) {
    int end = 0;
    while (end < batch.seq_len && batch.real(b, end) && !batch.pooled(b, end)) ++end;
    return {end};
  }
};

}  // namespace policies
