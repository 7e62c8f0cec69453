#pragma once
// What the CUDA backend's per-element and per-row math needs to be compiled by both nvcc (inside kernels)
// and the ordinary host compiler (the CPU tests of tests/test_cuda_math.cpp, which check it against the
// CPU layers of nn/ without a GPU):
//   BG2VEC_HOST_DEVICE   __host__ __device__ under nvcc, nothing elsewhere;
//   Bf16                 a bfloat16 as its 16 bits (layout-compatible with CUDA's __nv_bfloat16 and
//                        cuBLASLt's CUDA_R_16BF), converted in plain integer arithmetic so that host and
//                        device round the same way (to nearest even, as torch and core/dtype.hpp do);
//   SerialLane           how a row function runs on one thread: the device's block-wide lane
//                        (cuda/kernels.cuh) has the same three members, with sum and max reduced
//                        over the threads of the block.
// Nothing here includes a CUDA header.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BG2VEC_HOST_DEVICE __host__ __device__
#else
#define BG2VEC_HOST_DEVICE
#endif

namespace bg2vec::cuda {

struct Bf16 {
  uint16_t bits;
};
static_assert(sizeof(Bf16) == 2, "Bf16 must be exactly the 16 bits of a bfloat16");

BG2VEC_HOST_DEVICE inline uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
BG2VEC_HOST_DEVICE inline float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Round to nearest even; a NaN stays a (quiet) NaN.
BG2VEC_HOST_DEVICE inline Bf16 to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return Bf16{uint16_t((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return Bf16{uint16_t(u >> 16)};
}

BG2VEC_HOST_DEVICE inline float to_float(float x) { return x; }
BG2VEC_HOST_DEVICE inline float to_float(Bf16 x) { return bits_float(uint32_t(x.bits) << 16); }

// store<T>(x): x in the storage type T (float or Bf16).
template <class T>
BG2VEC_HOST_DEVICE inline T store(float x);
template <>
BG2VEC_HOST_DEVICE inline float store<float>(float x) { return x; }
template <>
BG2VEC_HOST_DEVICE inline Bf16 store<Bf16>(float x) { return to_bf16(x); }

BG2VEC_HOST_DEVICE inline float max_of(float a, float b) { return a > b ? a : b; }

// A row function's view of who computes a row: indices first(), first() + stride(), ... are this
// thread's, and sum / max combine one value per thread into the row's total (every thread gets it).
struct SerialLane {
  BG2VEC_HOST_DEVICE int first() const { return 0; }
  BG2VEC_HOST_DEVICE int stride() const { return 1; }
  BG2VEC_HOST_DEVICE float sum(float x) const { return x; }
  BG2VEC_HOST_DEVICE float max(float x) const { return x; }
};

}  // namespace bg2vec::cuda
