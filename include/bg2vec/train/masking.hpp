#pragma once
// The MNTP masking collator (LLM2Vec): each real token at position >= 1 that is not special is chosen
// with probability `rate`; a chosen token's label is its id (others: -100), and its input becomes
//   all-mask  the mask token (Mistral's recipe: rate 0.8, mask token "_");
//   bert      the mask token 80%, a random token 10%, itself 10% (Llama's recipe: rate 0.2).
// Position 0 (the BOS) and special tokens are never chosen; a row with a candidate gets at least one
// (a batch with nothing to predict would have no loss). Draws are counter-based: (seed, row, position).
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/train/batch.hpp>

#include <algorithm>
#include <string_view>

namespace bg2vec::train {

struct MaskingConfig {
  enum class Mode { AllMask, Bert };
  Mode mode = Mode::AllMask;
  float rate = 0.8f;
  int32_t mask_id = -1;
  std::vector<int32_t> special_ids;    // never masked (bos, eos, pad, ...)

  static Mode parse_mode(std::string_view name) {
    if (name == "all-mask") return Mode::AllMask;
    if (name == "bert") return Mode::Bert;
    fail("unknown masking mode '" + std::string(name) + "' (expected all-mask or bert)");
  }
};

inline TrainBatch mask_tokens(const TokenBatch& tokens, const MaskingConfig& config, int vocab_size, uint64_t seed) {
  if (config.mask_id < 0 || config.mask_id >= vocab_size)
    fail("mask token id " + std::to_string(config.mask_id) + " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
  if (!(config.rate > 0 && config.rate <= 1)) fail("masking rate must be in (0, 1], got " + std::to_string(config.rate));
  TrainBatch out{tokens, std::vector<int32_t>(tokens.ids.size(), kIgnore), {}};
  auto uniform = [seed](uint64_t stream, uint64_t index) {
    return float(Dropout::mix(Dropout::mix(seed ^ stream) ^ index) >> 40) * (1.0f / 16777216.0f);
  };
  for (int b = 0; b < tokens.batch; ++b) {
    std::vector<int> candidates;
    for (int t = 1; t < tokens.seq_len; ++t) {
      const int32_t id = tokens.id(b, t);
      if (tokens.real(b, t) && std::find(config.special_ids.begin(), config.special_ids.end(), id) == config.special_ids.end())
        candidates.push_back(t);
    }
    if (candidates.empty()) continue;
    std::vector<int> chosen;
    for (int t : candidates) if (uniform(1, uint64_t(b) << 32 | uint64_t(t)) < config.rate) chosen.push_back(t);
    if (chosen.empty()) chosen.push_back(candidates[size_t(uniform(2, uint64_t(b)) * float(candidates.size()))]);
    for (int t : chosen) {
      const size_t i = size_t(b) * tokens.seq_len + size_t(t);
      out.labels[i] = tokens.ids[i];
      const float r = config.mode == MaskingConfig::Mode::Bert ? uniform(3, i) : 0.0f;
      if (r < 0.8f) out.tokens.ids[i] = config.mask_id;
      else if (r < 0.9f) out.tokens.ids[i] = int32_t(uniform(4, i) * float(vocab_size)) % vocab_size;
    }
  }
  return out;
}

}  // namespace bg2vec::train
