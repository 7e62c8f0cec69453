#pragma once
// Cross-entropy over the vocabulary in chunks (nn/cross_entropy.hpp is the reference): the logits of a chunk of
// the vocabulary are folded into a running logsumexp (OnlineLogSumExp: max m and sum s of e^(z - m)), so that
// the [tokens, vocab] logits never exist in float32 at once. A second pass over the same chunks turns them into
// their gradient, scale (softmax(z) - onehot(y)) cap'(z), from the row's final logsumexp. z is the soft-capped
// logit where the model caps them (Gemma-2's final_logit_softcapping; cap 0: none).
#include <bg2vec/cuda/host_device.hpp>
#include <bg2vec/cuda/math/gated.hpp>

#include <cmath>

namespace bg2vec::cuda {

struct OnlineLogSumExp {
  float max = -INFINITY, sum = 0;

  BG2VEC_HOST_DEVICE void add(float z) {
    if (z > max) {
      sum = sum * expf(max - z) + 1.0f;   // e^(-inf) = 0 for the first
      max = z;
    } else {
      sum += expf(z - max);
    }
  }
  BG2VEC_HOST_DEVICE void merge(const OnlineLogSumExp& o) {
    if (o.max == -INFINITY) return;
    if (max == -INFINITY) { *this = o; return; }
    const float m = max_of(max, o.max);
    sum = sum * expf(max - m) + o.sum * expf(o.max - m);
    max = m;
  }
  BG2VEC_HOST_DEVICE float value() const { return max + logf(sum); }
};

// Folds the logits of one row's chunk, columns [first, first + count) of the vocabulary, into `state`, and
// returns the capped logit of `target` if it falls in the chunk (else 0, so that a sum over chunks gives it).
// Every thread gets the chunk's state.
template <class Lane, class T>
BG2VEC_HOST_DEVICE float cross_entropy_chunk(const Lane& lane, const T* logits, int first, int count, float cap, int target,
                                             OnlineLogSumExp& state) {
  OnlineLogSumExp mine;
  float z_target = 0;
  for (int j = lane.first(); j < count; j += lane.stride()) {
    const float z = softcap(to_float(logits[j]), cap);
    mine.add(z);
    if (first + j == target) z_target = z;
  }
  const float m = lane.max(mine.max);
  OnlineLogSumExp chunk;
  chunk.max = m;
  chunk.sum = lane.sum(mine.max == -INFINITY ? 0.0f : mine.sum * expf(mine.max - m));
  state.merge(chunk);
  return lane.sum(z_target);
}

// The chunk's raw logits become their gradient, given the row's logsumexp `lse` of the capped logits.
template <class Lane, class T>
BG2VEC_HOST_DEVICE void cross_entropy_grad_chunk(const Lane& lane, T* logits, int first, int count, float cap, int target,
                                                 float lse, float scale) {
  for (int j = lane.first(); j < count; j += lane.stride()) {
    const float z = softcap(to_float(logits[j]), cap);
    float g = scale * expf(z - lse);
    if (first + j == target) g -= scale;
    logits[j] = store<T>(g * softcap_derivative(z, cap));
  }
}

}  // namespace bg2vec::cuda
