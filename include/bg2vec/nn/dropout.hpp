#pragma once
// Dropout whose mask is a pure function of (seed, stream, index): the backward pass regenerates the
// forward's mask instead of storing it, and a run is reproducible from its seed. A stream names one
// use (a layer's attention, a LoRA input) so that different uses draw independent masks.
#include <cstdint>

namespace bg2vec {

struct Dropout {
  float p = 0.0f;                      // probability of dropping an element
  uint64_t seed = 0;

  bool active() const { return p > 0.0f; }
  float scale() const { return 1.0f / (1.0f - p); }   // kept elements are scaled so the mean is unchanged

  // splitmix64: a strong 64-bit mix, cheap enough to call per element.
  static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  // The factor of element `index` of `stream`: 0 (dropped) or 1/(1-p) (kept).
  float factor(uint64_t stream, uint64_t index) const { return factor_of(stream_key(stream), index, p, scale()); }

  // factor(stream, first + j) for j < n: the stream's key is mixed once, and the loop vectorises
  // (AVX-512 has 64-bit multiplies) where one call per element would not. p and the scale are read
  // into locals first: stores through `out` could otherwise alias them.
  void factors(uint64_t stream, uint64_t first, int n, float* out) const {
    const uint64_t key = stream_key(stream);
    const float drop = p, kept = scale();
    for (int j = 0; j < n; ++j) out[j] = factor_of(key, first + uint64_t(j), drop, kept);
  }

 private:
  uint64_t stream_key(uint64_t stream) const { return mix(seed ^ (stream * 0xd1b54a32d192ed03ull)); }
  static float factor_of(uint64_t key, uint64_t index, float drop, float kept) {
    const float u = float(mix(key ^ index) >> 40) * (1.0f / 16777216.0f);   // uniform in [0, 1), 24 bits
    return u < drop ? 0.0f : kept;
  }
};

// Streams of one forward pass: attention probabilities of layer l, LoRA inputs of (layer, module).
inline uint64_t attention_stream(int layer) { return uint64_t(layer) * 16 + 1; }
inline uint64_t lora_stream(int layer, int module) { return uint64_t(layer) * 16 + 2 + uint64_t(module); }

}  // namespace bg2vec
