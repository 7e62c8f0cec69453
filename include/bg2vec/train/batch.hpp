#pragma once
// What one optimisation step consumes: token ids (+ mask), and depending on the objective the MNTP
// labels (-100 = not predicted) or SimCSE's second view. On disk: a safetensors file with
// `input_ids`, `attention_mask` ([B, T] int64), `labels` ([B, T]) and/or `positive_input_ids`,
// `positive_attention_mask` ([B, T']), as `bg2vec step` reads it.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/io/batch_file.hpp>

#include <filesystem>
#include <vector>

namespace bg2vec::train {

inline constexpr int32_t kIgnore = -100;   // label of a position that predicts nothing (torch's ignore_index)

struct TrainBatch {
  TokenBatch tokens;
  std::vector<int32_t> labels;         // [B, T] or empty
  TokenBatch positive;                 // SimCSE's second view, or empty (batch == 0)

  int32_t label(int b, int t) const { return labels[size_t(b) * tokens.seq_len + t]; }
  bool has_labels() const { return !labels.empty(); }
  bool has_positive() const { return positive.batch > 0; }
};

// Checks what the model cannot: labels are -100 or a token of the vocabulary, the views agree.
// `where` names the input in messages (a file, or "batch").
inline void check_train_batch(const TrainBatch& batch, int vocab_size, const std::string& where) {
  const TokenBatch& t = batch.tokens;
  if (batch.has_labels()) {
    if (batch.labels.size() != size_t(t.tokens())) fail(where, "'labels' has a different shape from 'input_ids'");
    for (int b = 0; b < t.batch; ++b)
      for (int i = 0; i < t.seq_len; ++i) {
        const int32_t y = batch.label(b, i);
        if (y != kIgnore && (y < 0 || y >= vocab_size))
          fail(where, "label " + std::to_string(y) + " at [" + std::to_string(b) + ", " + std::to_string(i) +
                          "] is out of range (expected -100 or a token id below the vocabulary size " +
                          std::to_string(vocab_size) + ")");
      }
  }
  if (batch.has_positive() && batch.positive.batch != t.batch)
    fail(where, "the positive view has " + std::to_string(batch.positive.batch) + " rows but 'input_ids' has " +
                    std::to_string(t.batch));
}

inline TrainBatch read_train_batch(const std::filesystem::path& path) {
  const io::SafetensorsFile file(path);
  TrainBatch batch;
  batch.tokens = io::read_token_batch(file);
  if (file.contains("labels")) {
    const auto& info = file.info("labels");
    if (info.shape != file.info("input_ids").shape)
      fail(path, "'labels' has shape " + io::shape_string(info.shape) + " but 'input_ids' has " +
                     io::shape_string(file.info("input_ids").shape));
    for (int64_t y : file.read_int64("labels")) {
      if (y < kIgnore || y > INT32_MAX) fail(path, "label " + std::to_string(y) + " is out of range");
      batch.labels.push_back(int32_t(y));
    }
  }
  if (file.contains("positive_input_ids"))
    batch.positive = io::read_token_batch(file, "positive_input_ids", "positive_attention_mask");
  return batch;
}

}  // namespace bg2vec::train
