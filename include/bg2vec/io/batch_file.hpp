#pragma once
// Token batches on disk, as the `encode` and `step` contracts define them: a safetensors file with
// `input_ids` and `attention_mask`, both [B, T] int64, right padding.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/io/safetensors.hpp>

namespace bg2vec::io {

inline TokenBatch read_token_batch(const SafetensorsFile& file, const std::string& ids_name = "input_ids",
                                   const std::string& mask_name = "attention_mask") {
  const TensorInfo& ids = file.info(ids_name);
  const TensorInfo& mask = file.info(mask_name);
  if (ids.shape.size() != 2) fail(file.path(), "'" + ids_name + "' must be [B, T], got " + shape_string(ids.shape));
  if (mask.shape != ids.shape)
    fail(file.path(), "'" + mask_name + "' has shape " + shape_string(mask.shape) + " but '" + ids_name + "' has " +
                          shape_string(ids.shape));
  if (ids.shape[0] == 0 || ids.shape[1] == 0) fail(file.path(), "empty input: '" + ids_name + "' has shape " + shape_string(ids.shape));
  TokenBatch batch;
  batch.batch = int(ids.shape[0]);
  batch.seq_len = int(ids.shape[1]);
  for (int64_t v : file.read_int64(ids_name)) {
    if (v < 0 || v > INT32_MAX) fail(file.path(), "token id " + std::to_string(v) + " in '" + ids_name + "' is out of range");
    batch.ids.push_back(int32_t(v));
  }
  for (int64_t v : file.read_int64(mask_name)) {
    if (v != 0 && v != 1) fail(file.path(), "'" + mask_name + "' must hold only 0 and 1, found " + std::to_string(v));
    batch.mask.push_back(uint8_t(v));
  }
  return batch;
}

}  // namespace bg2vec::io
