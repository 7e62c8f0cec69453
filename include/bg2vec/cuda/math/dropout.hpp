#pragma once
// nn/dropout.hpp's mask, a pure function of (seed, stream, index), for the device: the same splitmix64 mix, so
// a mask drawn on the GPU is the CPU's, element for element, and backward passes regenerate it.
#include <bg2vec/cuda/host_device.hpp>

#include <cstdint>

namespace bg2vec::cuda {

BG2VEC_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct DeviceDropout {
  float p = 0.0f;                      // 0: no dropout
  uint64_t key = 0;                    // the stream's key: splitmix64(seed ^ stream * 0xd1b54a32d192ed03)

  static DeviceDropout of(float p, uint64_t seed, uint64_t stream) {
    return {p, splitmix64(seed ^ (stream * 0xd1b54a32d192ed03ull))};
  }
  BG2VEC_HOST_DEVICE bool active() const { return p > 0.0f; }
  // 0 (dropped) or 1/(1-p) (kept)
  BG2VEC_HOST_DEVICE float factor(uint64_t index) const {
    const float u = float(splitmix64(key ^ index) >> 40) * (1.0f / 16777216.0f);
    return u < p ? 0.0f : 1.0f / (1.0f - p);
  }
};

}  // namespace bg2vec::cuda
