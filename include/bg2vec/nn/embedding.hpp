#pragma once
// Token embedding lookup: row t of the output is row ids[t] of the table (times the architecture's
// scale); backward scatters back.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>

namespace bg2vec::layers {

// Every id must be a row of the table; the message names the first one that is not.
inline void check_token_ids(const TokenBatch& batch, int vocab_size) {
  if (batch.batch <= 0 || batch.seq_len <= 0) fail("empty input: a batch needs at least one sequence of one token");
  if (batch.ids.size() != size_t(batch.tokens()) || batch.mask.size() != batch.ids.size())
    fail("batch shape mismatch: ids/mask sizes disagree with [" + std::to_string(batch.batch) + ", " +
         std::to_string(batch.seq_len) + "]");
  for (int b = 0; b < batch.batch; ++b) {
    if (batch.length(b) == 0) fail("empty input: sequence " + std::to_string(b) + " has no tokens");
    for (int t = 0; t < batch.seq_len; ++t) {
      const int32_t id = batch.id(b, t);
      if (id < 0 || id >= vocab_size)
        fail("token id " + std::to_string(id) + " at [" + std::to_string(b) + ", " + std::to_string(t) +
             "] is out of the vocabulary (size " + std::to_string(vocab_size) + ")");
    }
  }
}

// out[n] = scale * table[ids[n]] (Gemma-2 scales by sqrt(hidden_size); everyone else by 1).
inline void embedding_forward(const TokenBatch& batch, const Eigen::Ref<const Matrix>& table, Eigen::Ref<Matrix> out,
                              float scale = 1.0f) {
  for (int n = 0; n < batch.tokens(); ++n) out.row(n) = table.row(batch.ids[size_t(n)]) * scale;
}

// dtable[ids[n]] += scale * dout[n]: a scatter-add (serial: one id may occur at many positions).
inline void embedding_backward(const TokenBatch& batch, const Eigen::Ref<const Matrix>& dout, Eigen::Ref<Matrix> dtable,
                               float scale = 1.0f) {
  for (int n = 0; n < batch.tokens(); ++n) dtable.row(batch.ids[size_t(n)]) += dout.row(n) * scale;
}

}  // namespace bg2vec::layers
