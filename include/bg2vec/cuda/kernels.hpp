#pragma once
// The launchers of the CUDA backend's own kernels: plain functions over device pointers, declared here for
// host code (which the ordinary compiler builds) and defined in kernels.cuh, which nvcc compiles once
// (src/cuda/kernels.cu, the CMake target bg2vec::cuda) for the storage types float and Bf16. Each kernel runs
// a row function of math/ with one block (or warp) per row; the math is tested on the host
// (tests/test_cuda_math.cpp), the launches on the GPU (tests/cuda/test_cuda_device.cpp).
#include <bg2vec/cuda/host_device.hpp>
#include <bg2vec/cuda/math/adamw.hpp>
#include <bg2vec/cuda/math/attention.hpp>

#include <cuda_runtime.h>

#include <cstdint>

namespace bg2vec::cuda {

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

// d_hidden [B*T, n] += w[b, t] d_pooled[b]
void launch_pool_backward(const float* weights, const float* d_pooled, int batch, int seq_len, int n, float* d_hidden, cudaStream_t s);

// InfoNCE (math/info_nce.hpp): unit = x / |x| of each of the rows of x [rows, n] and the norms; S [B, B] becomes
// dS with loss[i] of each row; dx += the gradient through the normalisation of d_unit.
void launch_normalise_rows(const float* x, int rows, int n, float* unit, float* norm, cudaStream_t s);
void launch_info_nce_rows(float* S, int B, float* loss, cudaStream_t s);
void launch_normalise_backward(const float* unit, const float* norm, const float* d_unit, int rows, int n, float* dx, cudaStream_t s);

// x = cap tanh(x / cap), in place (Gemma-2's final logits).
void launch_softcap(float* x, size_t count, float cap, cudaStream_t s);

// dst = src converted, elementwise.
void launch_to_bf16(const float* src, Bf16* dst, size_t count, cudaStream_t s);

// ---- backward (training); gradients are float32, the activations they read are T ----

// dx += the input gradient of y = rmsnorm(x) (w + offset) for dy; dw += its weight gradient when dw is given.
template <class In, class W>
void launch_rmsnorm_backward(const In* x, const W* w, float offset, const float* rstd, const float* dy, int rows, int n, float* dx,
                             float* dw, cudaStream_t s);

// d_gate, d_up of act = A(gate) up for d_act.
template <class T>
void launch_gated_backward(GateKind kind, const T* gate, const T* up, const float* d_act, float* d_gate, float* d_up,
                           size_t count, cudaStream_t s);

// dq [B*T, heads*d], dk, dv [B*T, kv_heads*d] of the attention for d_out, from the forward's lse; delta
// [B*heads*T] is scratch.
template <class T>
void launch_attention_backward(const T* q, const T* k, const T* v, const float* d_out, const float* lse,
                               float* delta, const uint8_t* key_real, int batch, const AttentionGeometry& g,
                               const AttentionMask& mask, const DeviceDropout& dropout, float* dq, float* dk, float* dv,
                               cudaStream_t s);

// dtable[ids[r]] += scale sum of dout's rows positions[offsets[r]..offsets[r+1]) (math/embedding.hpp's IdPositions).
void launch_embedding_scatter(const int32_t* ids, const int32_t* offsets, const int32_t* positions, int distinct,
                              const float* dout, float scale, int n, float* dtable, cudaStream_t s);

// dst[i] = src[rows[i]] (to T: the lm_head product's input), and dst[rows[i]] += src[i] (rows distinct).
template <class T>
void launch_gather_rows(const float* src, const int64_t* rows, int count, int n, T* dst, cudaStream_t s);
void launch_scatter_add_rows(const float* src, const int64_t* rows, int count, int n, float* dst, cudaStream_t s);

// Cross-entropy of each row of logits [rows, vocab] (soft-capped by cap, 0: none) against targets: loss[i] =
// lse - z[target]; the logits become their gradient times scale.
void launch_cross_entropy(float* logits, const int32_t* targets, int rows, int vocab, float cap, float scale, float* loss,
                          cudaStream_t s);

// LoRA's dropout (math/dropout.hpp's mask, element i of the [rows, in] input numbered i, as the CPU's):
// out = x * factor, and dst += src * factor (the backward through the same mask).
template <class T>
void launch_dropout(const T* x, T* out, size_t count, const DeviceDropout& dropout, cudaStream_t s);
void launch_add_dropped(const float* src, float* dst, size_t count, const DeviceDropout& dropout, cudaStream_t s);

// One AdamW step over a flat buffer of parameters, gradients and moments (the whole model at once).
void launch_adamw(float* params, const float* grads, float* m, float* v, size_t count, const AdamWStep& step, cudaStream_t s);

}  // namespace bg2vec::cuda
