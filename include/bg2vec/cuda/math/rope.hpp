#pragma once
// Rotary embeddings, split-halves form (nn/rope.hpp is the reference): for i < d/2 the pair
// (x_i, x_{i+d/2}) of every head is rotated by the angle of (position, i); cos and sin come from
// layers::RopeTable (float32 inverse frequencies, angles in double, as HF), uploaded once per shape.
// direction +1 is the forward rotation, -1 its inverse, which is also its backward.
#include <bg2vec/cuda/host_device.hpp>

namespace bg2vec::cuda {

// Rotates pair i of every head of one row at one position: cos/sin point at the position's half row.
template <class Lane, class T>
BG2VEC_HOST_DEVICE void rope_row(const Lane& lane, T* row, int heads, int head_dim, const float* cos, const float* sin,
                                 int direction) {
  const int half = head_dim / 2;
  for (int e = lane.first(); e < heads * half; e += lane.stride()) {
    const int h = e / half, i = e % half;
    T* v = row + h * head_dim;
    const float c = cos[i], s = float(direction) * sin[i];
    const float a = to_float(v[i]), b = to_float(v[i + half]);
    v[i] = store<T>(a * c - b * s);
    v[i + half] = store<T>(b * c + a * s);
  }
}

}  // namespace bg2vec::cuda
