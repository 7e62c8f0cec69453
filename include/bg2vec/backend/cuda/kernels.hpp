#pragma once
// The launchers of the CUDA backend's own kernels: plain functions over device pointers, declared here for
// host code (which the ordinary compiler builds) and defined in kernels.cuh, which nvcc compiles once
// (src/cuda/kernels.cu, the CMake target bg2vec::cuda) for the storage types float and Bf16. Each kernel runs
// a row function of math/ with one block (or warp) per row; the math is tested on the host
// (tests/test_cuda_math.cpp), the launches on the GPU (tests/cuda/test_cuda_device.cpp).
#include <bg2vec/backend/cuda/host_device.hpp>
#include <bg2vec/backend/cuda/math/attention.hpp>

#include <cuda_runtime.h>

#include <cstdint>

namespace bg2vec::backend::cuda {

enum class GateKind { Silu, GeluTanh };

// out [tokens, n] (float32: the residual stream) = scale table[ids]
template <class W>
void launch_embedding_gather(const int32_t* ids, const W* table, float scale, int tokens, int n, float* out, cudaStream_t s);

// y = rmsnorm(x) (w + offset) row by row, rstd [rows] kept. In/Out: (float, T) for the layer norms, (T, T) for
// the q/k norms (rows of one head), (float, float) for the final norm.
template <class In, class W, class Out>
void launch_rmsnorm(const In* x, const W* w, float offset, float eps, int rows, int n, Out* y, float* rstd, cudaStream_t s);

// out = residual + rmsnorm(branch) (w + offset): Gemma's post-norms.
template <class W>
void launch_post_norm_residual(const float* branch, const W* w, float offset, float eps, int rows, int n, const float* residual,
                               float* out, float* rstd, cudaStream_t s);

// Rotates every head of x [B*T, heads*d] in place; cos/sin [T, d/2].
template <class T>
void launch_rope(T* x, int rows, int seq_len, int heads, int head_dim, const float* cos, const float* sin, int direction,
                 cudaStream_t s);

// out [B*T, heads*d] and lse [B*heads*T] of scaled dot-product attention (math/attention.hpp).
template <class T>
void launch_attention_forward(const T* q, const T* k, const T* v, const uint8_t* key_real, int batch, const AttentionGeometry& g,
                              const AttentionMask& mask, const DeviceDropout& dropout, T* out, float* lse, cudaStream_t s);

// act = A(gate) up, elementwise over count elements.
template <class T>
void launch_gated_forward(GateKind kind, const T* gate, const T* up, T* act, size_t count, cudaStream_t s);

// pooled [B, n] = sum_t w[b, t] hidden[b T + t]
void launch_pool_forward(const float* hidden, const float* weights, int batch, int seq_len, int n, float* pooled, cudaStream_t s);

// x = cap tanh(x / cap), in place (Gemma-2's final logits).
void launch_softcap(float* x, size_t count, float cap, cudaStream_t s);

// dst = src converted, elementwise.
void launch_to_bf16(const float* src, Bf16* dst, size_t count, cudaStream_t s);

}  // namespace bg2vec::backend::cuda
