#pragma once
// Definitions of kernels.hpp's launchers: the block- and warp-wide lanes that the row functions of math/ run
// with on the device, and the kernels. nvcc only, and in one translation unit of a program (it defines the
// launchers that are not templates): src/cuda/kernels.cu, which also instantiates the templates.
#include <bg2vec/cuda/kernels.hpp>
#include <bg2vec/cuda/math/adamw.hpp>
#include <bg2vec/cuda/math/attention.hpp>
#include <bg2vec/cuda/math/cross_entropy.hpp>
#include <bg2vec/cuda/math/embedding.hpp>
#include <bg2vec/cuda/math/gated.hpp>
#include <bg2vec/cuda/math/info_nce.hpp>
#include <bg2vec/cuda/math/pooling.hpp>
#include <bg2vec/cuda/math/rmsnorm.hpp>
#include <bg2vec/cuda/math/rope.hpp>
#include <bg2vec/cuda/runtime.hpp>

namespace bg2vec::cuda {

namespace device {

__device__ inline float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ inline float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// A row per block (blockDim.x a multiple of 32, at most 1024); sum and max reach every thread. Every thread of
// the block must call them (they synchronise).
struct BlockLane {
  float* scratch;                      // __shared__ float[32]
  __device__ int first() const { return int(threadIdx.x); }
  __device__ int stride() const { return int(blockDim.x); }
  // every warp reduces its values; the warps' results meet in scratch and every warp reduces those
  template <class WarpOp>
  __device__ float reduce(float x, float neutral, WarpOp op) const {
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32, warps = int(blockDim.x) / 32;
    x = op(x);
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    const float t = op(lane < warps ? scratch[lane] : neutral);
    __syncthreads();                   // before scratch is written again
    return t;
  }
  __device__ float sum(float x) const { return reduce(x, 0.0f, [](float v) { return warp_sum(v); }); }
  __device__ float max(float x) const { return reduce(x, -INFINITY, [](float v) { return warp_max(v); }); }
};

// A row per warp.
struct WarpLane {
  __device__ int first() const { return int(threadIdx.x) % 32; }
  __device__ int stride() const { return 32; }
  __device__ float sum(float x) const { return warp_sum(x); }
  __device__ float max(float x) const { return warp_max(x); }
};

constexpr int kRowThreads = 256;

inline int blocks_for(size_t count, int threads) { return int((count + size_t(threads) - 1) / size_t(threads)); }

template <class W>
__global__ void embedding_gather(const int32_t* ids, const W* table, float scale, int n, float* out) {
  const int row = blockIdx.x;
  const BlockLane lane{nullptr};
  embedding_gather_row(lane, table + size_t(ids[row]) * n, scale, n, out + size_t(row) * n);
}

template <class In, class W, class Out>
__global__ void rmsnorm(const In* x, const W* w, float offset, float eps, int n, Out* y, float* rstd) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const BlockLane lane{scratch};
  const float r = rmsnorm_forward_row(lane, x + size_t(row) * n, w, offset, eps, n, y + size_t(row) * n);
  if (threadIdx.x == 0 && rstd) rstd[row] = r;
}

template <class W>
__global__ void post_norm_residual(const float* branch, const W* w, float offset, float eps, int n, const float* residual,
                                   float* out, float* rstd) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const BlockLane lane{scratch};
  const size_t at = size_t(row) * n;
  const float r = post_norm_residual_row(lane, branch + at, w, offset, eps, n, residual + at, out + at);
  if (threadIdx.x == 0 && rstd) rstd[row] = r;
}

template <class T>
__global__ void rope(T* x, int seq_len, int heads, int head_dim, const float* cos, const float* sin, int direction) {
  const int row = blockIdx.x, p = row % seq_len, half = head_dim / 2;
  const BlockLane lane{nullptr};
  rope_row(lane, x + size_t(row) * heads * head_dim, heads, head_dim, cos + size_t(p) * half, sin + size_t(p) * half, direction);
}

constexpr int kAttentionWarps = 4;     // query rows per block

template <int PerLane, class T>
__global__ void attention_forward(const T* q, const T* k, const T* v, const uint8_t* key_real, int batch, AttentionGeometry g,
                                  AttentionMask mask, DeviceDropout dropout, T* out, float* lse) {
  const int64_t unit = int64_t(blockIdx.x) * kAttentionWarps + threadIdx.x / 32;   // (b heads + h) T + query
  if (unit >= int64_t(batch) * g.heads * g.seq_len) return;                        // a whole warp leaves
  const int query = int(unit % g.seq_len), bh = int(unit / g.seq_len), b = bh / g.heads, h = bh % g.heads;
  const WarpLane lane;
  const float l = attention_row_forward<PerLane>(lane, q, k, v, key_real, g, mask, dropout, b, h, query, out);
  if (threadIdx.x % 32 == 0) lse[unit] = l;
}

template <class A, class T>
__global__ void gated_forward_kernel(const T* gate, const T* up, T* act, size_t count) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    act[i] = store<T>(gated_forward<A>(to_float(gate[i]), to_float(up[i])));
}

__global__ void pool_forward(const float* hidden, const float* weights, int seq_len, int n, float* pooled) {
  const int b = blockIdx.y, col = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (col < n) pooled[size_t(b) * n + col] = pool_column(hidden, weights, b, seq_len, n, col);
}

__global__ void pool_backward(const float* weights, const float* d_pooled, int seq_len, int n, float* d_hidden) {
  const int bt = blockIdx.x;   // b T + t
  for (int col = threadIdx.x; col < n; col += blockDim.x)
    pool_backward_element(weights, d_pooled, bt / seq_len, bt % seq_len, seq_len, n, col, d_hidden);
}

__global__ void normalise_rows(const float* x, int n, float* unit, float* norm) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const float r = normalise_row(BlockLane{scratch}, x + size_t(row) * n, n, unit + size_t(row) * n);
  if (threadIdx.x == 0) norm[row] = r;
}

__global__ void info_nce_rows(float* S, int B, float* loss) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const float l = info_nce_row(BlockLane{scratch}, S + size_t(row) * B, B, row);
  if (threadIdx.x == 0) loss[row] = l;
}

__global__ void normalise_backward(const float* unit, const float* norm, const float* d_unit, int n, float* dx) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const size_t at = size_t(row) * n;
  normalise_backward_row(BlockLane{scratch}, unit + at, norm[row], d_unit + at, n, dx + at);
}

__global__ void softcap_kernel(float* x, size_t count, float cap) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    x[i] = softcap(x[i], cap);
}

__global__ void to_bf16_kernel(const float* src, Bf16* dst, size_t count) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = to_bf16(src[i]);
}

template <class In, class W>
__global__ void rmsnorm_backward(const In* x, const W* w, float offset, const float* rstd, const float* dy, int n, float* dx) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const BlockLane lane{scratch};
  const size_t at = size_t(row) * n;
  rmsnorm_backward_row(lane, x + at, w, offset, rstd[row], dy + at, n, dx + at);
}

template <class In>
__global__ void rmsnorm_weight_grad(const In* x, const float* rstd, const float* dy, int rows, int n, float* dw) {
  const int col = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (col < n) dw[col] += rmsnorm_weight_grad_column(x, rstd, dy, rows, n, col);
}

template <class A, class T>
__global__ void gated_backward_kernel(const T* gate, const T* up, const float* d_act, float* d_gate, float* d_up, size_t count) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    gated_backward<A>(to_float(gate[i]), to_float(up[i]), d_act[i], d_gate[i], d_up[i]);
}

template <int PerLane, class T>
__global__ void attention_delta(const T* q, const T* k, const T* v, const float* d_out, const float* lse, const uint8_t* key_real,
                                int batch, AttentionGeometry g, AttentionMask mask, DeviceDropout dropout, float* delta) {
  const int64_t unit = int64_t(blockIdx.x) * kAttentionWarps + threadIdx.x / 32;
  if (unit >= int64_t(batch) * g.heads * g.seq_len) return;
  const int query = int(unit % g.seq_len), bh = int(unit / g.seq_len);
  const float D = attention_row_delta<PerLane>(WarpLane{}, q, k, v, d_out, lse, key_real, g, mask, dropout, bh / g.heads,
                                               bh % g.heads, query);
  if (threadIdx.x % 32 == 0) delta[unit] = D;
}

template <int PerLane, class T>
__global__ void attention_backward_query(const T* q, const T* k, const T* v, const float* d_out, const float* lse,
                                         const float* delta, const uint8_t* key_real, int batch, AttentionGeometry g,
                                         AttentionMask mask, DeviceDropout dropout, float* dq) {
  const int64_t unit = int64_t(blockIdx.x) * kAttentionWarps + threadIdx.x / 32;
  if (unit >= int64_t(batch) * g.heads * g.seq_len) return;
  const int query = int(unit % g.seq_len), bh = int(unit / g.seq_len);
  attention_row_backward_query<PerLane>(WarpLane{}, q, k, v, d_out, lse, delta, key_real, g, mask, dropout, bh / g.heads,
                                        bh % g.heads, query, dq);
}

template <int PerLane, class T>
__global__ void attention_backward_key(const T* q, const T* k, const T* v, const float* d_out, const float* lse,
                                       const float* delta, const uint8_t* key_real, int batch, AttentionGeometry g,
                                       AttentionMask mask, DeviceDropout dropout, float* dk, float* dv) {
  const int64_t unit = int64_t(blockIdx.x) * kAttentionWarps + threadIdx.x / 32;   // (b kv_heads + kvh) T + key
  if (unit >= int64_t(batch) * g.kv_heads * g.seq_len) return;
  const int key = int(unit % g.seq_len), bk = int(unit / g.seq_len);
  attention_row_backward_key<PerLane>(WarpLane{}, q, k, v, d_out, lse, delta, key_real, g, mask, dropout, bk / g.kv_heads,
                                      bk % g.kv_heads, key, dk, dv);
}

__global__ void embedding_scatter(const int32_t* ids, const int32_t* offsets, const int32_t* positions, const float* dout,
                                  float scale, int n, float* dtable) {
  const int r = blockIdx.x;
  const BlockLane lane{nullptr};
  embedding_scatter_row(lane, positions + offsets[r], offsets[r + 1] - offsets[r], dout, scale, n, dtable + size_t(ids[r]) * n);
}

template <class T>
__global__ void gather_rows(const float* src, const int64_t* rows, int n, T* dst) {
  const int i = blockIdx.x;
  for (int j = threadIdx.x; j < n; j += blockDim.x) dst[size_t(i) * n + j] = store<T>(src[size_t(rows[i]) * n + j]);
}

__global__ void scatter_add_rows(const float* src, const int64_t* rows, int n, float* dst) {
  const int i = blockIdx.x;
  for (int j = threadIdx.x; j < n; j += blockDim.x) dst[size_t(rows[i]) * n + j] += src[size_t(i) * n + j];
}

__global__ void cross_entropy_kernel(float* logits, const int32_t* targets, int vocab, float cap, float scale, float* loss) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const BlockLane lane{scratch};
  float* z = logits + size_t(row) * vocab;
  OnlineLogSumExp state;
  const float z_target = cross_entropy_chunk(lane, z, 0, vocab, cap, targets[row], state);
  const float lse = state.value();
  cross_entropy_grad_chunk(lane, z, 0, vocab, cap, targets[row], lse, scale);
  if (threadIdx.x == 0) loss[row] = lse - z_target;
}

template <class T>
__global__ void dropout_kernel(const T* x, T* out, size_t count, DeviceDropout dropout) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    out[i] = store<T>(to_float(x[i]) * dropout.factor(i));
}

__global__ void add_dropped_kernel(const float* src, float* dst, size_t count, DeviceDropout dropout) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] += src[i] * dropout.factor(i);
}

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, size_t count, AdamWStep step) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    adamw_update(params[i], grads[i], m[i], v[i], step);
}

// Threads per row: the row's width rounded up to whole warps, at most kRowThreads.
inline int row_threads(int n) { return n >= kRowThreads ? kRowThreads : (n + 31) / 32 * 32; }
inline int grid_stride_blocks(size_t count) {
  const int b = blocks_for(count, 256);
  return b < 65535 * 8 ? b : 65535 * 8;
}

inline void launched(const char* what) { check(cudaGetLastError(), what); }

}  // namespace device

template <class W>
void launch_embedding_gather(const int32_t* ids, const W* table, float scale, int tokens, int n, float* out, cudaStream_t s) {
  device::embedding_gather<<<tokens, device::row_threads(n), 0, s>>>(ids, table, scale, n, out);
  device::launched("embedding gather");
}

template <class In, class W, class Out>
void launch_rmsnorm(const In* x, const W* w, float offset, float eps, int rows, int n, Out* y, float* rstd, cudaStream_t s) {
  device::rmsnorm<<<rows, device::row_threads(n), 0, s>>>(x, w, offset, eps, n, y, rstd);
  device::launched("rmsnorm");
}

template <class W>
void launch_post_norm_residual(const float* branch, const W* w, float offset, float eps, int rows, int n, const float* residual,
                               float* out, float* rstd, cudaStream_t s) {
  device::post_norm_residual<<<rows, device::row_threads(n), 0, s>>>(branch, w, offset, eps, n, residual, out, rstd);
  device::launched("post-norm + residual");
}

template <class T>
void launch_rope(T* x, int rows, int seq_len, int heads, int head_dim, const float* cos, const float* sin, int direction,
                 cudaStream_t s) {
  device::rope<<<rows, device::row_threads(heads * head_dim / 2), 0, s>>>(x, seq_len, heads, head_dim, cos, sin, direction);
  device::launched("rope");
}

template <class T>
void launch_attention_forward(const T* q, const T* k, const T* v, const uint8_t* key_real, int batch, const AttentionGeometry& g,
                              const AttentionMask& mask, const DeviceDropout& dropout, T* out, float* lse, cudaStream_t s) {
  const int64_t rows = int64_t(batch) * g.heads * g.seq_len;
  const int blocks = int((rows + device::kAttentionWarps - 1) / device::kAttentionWarps), threads = 32 * device::kAttentionWarps;
  if (g.head_dim <= 32) device::attention_forward<1><<<blocks, threads, 0, s>>>(q, k, v, key_real, batch, g, mask, dropout, out, lse);
  else if (g.head_dim <= 64) device::attention_forward<2><<<blocks, threads, 0, s>>>(q, k, v, key_real, batch, g, mask, dropout, out, lse);
  else if (g.head_dim <= 128) device::attention_forward<4><<<blocks, threads, 0, s>>>(q, k, v, key_real, batch, g, mask, dropout, out, lse);
  else if (g.head_dim <= 256) device::attention_forward<8><<<blocks, threads, 0, s>>>(q, k, v, key_real, batch, g, mask, dropout, out, lse);
  else fail("the CUDA attention kernel takes heads of at most 256, not " + std::to_string(g.head_dim));
  device::launched("attention forward");
}

template <class T>
void launch_gated_forward(GateKind kind, const T* gate, const T* up, T* act, size_t count, cudaStream_t s) {
  if (kind == GateKind::Silu) device::gated_forward_kernel<SiluGate><<<device::grid_stride_blocks(count), 256, 0, s>>>(gate, up, act, count);
  else device::gated_forward_kernel<GeluTanhGate><<<device::grid_stride_blocks(count), 256, 0, s>>>(gate, up, act, count);
  device::launched("gated activation");
}

void launch_pool_forward(const float* hidden, const float* weights, int batch, int seq_len, int n, float* pooled,
                                cudaStream_t s) {
  device::pool_forward<<<dim3(unsigned(device::blocks_for(size_t(n), 128)), unsigned(batch)), 128, 0, s>>>(hidden, weights, seq_len, n, pooled);
  device::launched("pooling");
}

void launch_pool_backward(const float* weights, const float* d_pooled, int batch, int seq_len, int n, float* d_hidden, cudaStream_t s) {
  device::pool_backward<<<batch * seq_len, device::row_threads(n), 0, s>>>(weights, d_pooled, seq_len, n, d_hidden);
  device::launched("pooling backward");
}

void launch_normalise_rows(const float* x, int rows, int n, float* unit, float* norm, cudaStream_t s) {
  device::normalise_rows<<<rows, device::row_threads(n), 0, s>>>(x, n, unit, norm);
  device::launched("row normalisation");
}

void launch_info_nce_rows(float* S, int B, float* loss, cudaStream_t s) {
  device::info_nce_rows<<<B, device::row_threads(B), 0, s>>>(S, B, loss);
  device::launched("InfoNCE rows");
}

void launch_normalise_backward(const float* unit, const float* norm, const float* d_unit, int rows, int n, float* dx, cudaStream_t s) {
  device::normalise_backward<<<rows, device::row_threads(n), 0, s>>>(unit, norm, d_unit, n, dx);
  device::launched("row normalisation backward");
}

void launch_softcap(float* x, size_t count, float cap, cudaStream_t s) {
  device::softcap_kernel<<<device::grid_stride_blocks(count), 256, 0, s>>>(x, count, cap);
  device::launched("soft-cap");
}

void launch_to_bf16(const float* src, Bf16* dst, size_t count, cudaStream_t s) {
  device::to_bf16_kernel<<<device::grid_stride_blocks(count), 256, 0, s>>>(src, dst, count);
  device::launched("bf16 conversion");
}

template <class In, class W>
void launch_rmsnorm_backward(const In* x, const W* w, float offset, const float* rstd, const float* dy, int rows, int n, float* dx,
                             float* dw, cudaStream_t s) {
  device::rmsnorm_backward<<<rows, device::row_threads(n), 0, s>>>(x, w, offset, rstd, dy, n, dx);
  device::launched("rmsnorm backward");
  if (!dw) return;
  device::rmsnorm_weight_grad<<<device::blocks_for(size_t(n), 128), 128, 0, s>>>(x, rstd, dy, rows, n, dw);
  device::launched("rmsnorm weight gradient");
}

template <class T>
void launch_gated_backward(GateKind kind, const T* gate, const T* up, const float* d_act, float* d_gate, float* d_up,
                           size_t count, cudaStream_t s) {
  const int blocks = device::grid_stride_blocks(count);
  if (kind == GateKind::Silu) device::gated_backward_kernel<SiluGate><<<blocks, 256, 0, s>>>(gate, up, d_act, d_gate, d_up, count);
  else device::gated_backward_kernel<GeluTanhGate><<<blocks, 256, 0, s>>>(gate, up, d_act, d_gate, d_up, count);
  device::launched("gated activation backward");
}

namespace device {
template <int PerLane, class T>
void attention_backward_with(const T* q, const T* k, const T* v, const float* d_out, const float* lse, float* delta,
                             const uint8_t* key_real, int batch, const AttentionGeometry& g, const AttentionMask& mask,
                             const DeviceDropout& dropout, float* dq, float* dk, float* dv, cudaStream_t s) {
  const int threads = 32 * kAttentionWarps;
  const int query_blocks = int((int64_t(batch) * g.heads * g.seq_len + kAttentionWarps - 1) / kAttentionWarps);
  const int key_blocks = int((int64_t(batch) * g.kv_heads * g.seq_len + kAttentionWarps - 1) / kAttentionWarps);
  attention_delta<PerLane><<<query_blocks, threads, 0, s>>>(q, k, v, d_out, lse, key_real, batch, g, mask, dropout, delta);
  attention_backward_query<PerLane><<<query_blocks, threads, 0, s>>>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dq);
  attention_backward_key<PerLane><<<key_blocks, threads, 0, s>>>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dk, dv);
}
}  // namespace device

template <class T>
void launch_attention_backward(const T* q, const T* k, const T* v, const float* d_out, const float* lse,
                               float* delta, const uint8_t* key_real, int batch, const AttentionGeometry& g,
                               const AttentionMask& mask, const DeviceDropout& dropout, float* dq, float* dk, float* dv,
                               cudaStream_t s) {
  if (g.head_dim <= 32) device::attention_backward_with<1>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dq, dk, dv, s);
  else if (g.head_dim <= 64) device::attention_backward_with<2>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dq, dk, dv, s);
  else if (g.head_dim <= 128) device::attention_backward_with<4>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dq, dk, dv, s);
  else if (g.head_dim <= 256) device::attention_backward_with<8>(q, k, v, d_out, lse, delta, key_real, batch, g, mask, dropout, dq, dk, dv, s);
  else fail("the CUDA attention kernel takes heads of at most 256, not " + std::to_string(g.head_dim));
  device::launched("attention backward");
}

void launch_embedding_scatter(const int32_t* ids, const int32_t* offsets, const int32_t* positions, int distinct,
                              const float* dout, float scale, int n, float* dtable, cudaStream_t s) {
  if (distinct == 0) return;
  device::embedding_scatter<<<distinct, device::row_threads(n), 0, s>>>(ids, offsets, positions, dout, scale, n, dtable);
  device::launched("embedding scatter-add");
}

template <class T>
void launch_gather_rows(const float* src, const int64_t* rows, int count, int n, T* dst, cudaStream_t s) {
  if (count == 0) return;
  device::gather_rows<<<count, device::row_threads(n), 0, s>>>(src, rows, n, dst);
  device::launched("row gather");
}

void launch_scatter_add_rows(const float* src, const int64_t* rows, int count, int n, float* dst, cudaStream_t s) {
  if (count == 0) return;
  device::scatter_add_rows<<<count, device::row_threads(n), 0, s>>>(src, rows, n, dst);
  device::launched("row scatter-add");
}

void launch_cross_entropy(float* logits, const int32_t* targets, int rows, int vocab, float cap, float scale, float* loss,
                          cudaStream_t s) {
  if (rows == 0) return;
  device::cross_entropy_kernel<<<rows, device::kRowThreads, 0, s>>>(logits, targets, vocab, cap, scale, loss);
  device::launched("cross-entropy");
}

template <class T>
void launch_dropout(const T* x, T* out, size_t count, const DeviceDropout& dropout, cudaStream_t s) {
  device::dropout_kernel<<<device::grid_stride_blocks(count), 256, 0, s>>>(x, out, count, dropout);
  device::launched("dropout");
}

void launch_add_dropped(const float* src, float* dst, size_t count, const DeviceDropout& dropout, cudaStream_t s) {
  device::add_dropped_kernel<<<device::grid_stride_blocks(count), 256, 0, s>>>(src, dst, count, dropout);
  device::launched("dropout backward");
}

void launch_adamw(float* params, const float* grads, float* m, float* v, size_t count, const AdamWStep& step, cudaStream_t s) {
  device::adamw_kernel<<<device::grid_stride_blocks(count), 256, 0, s>>>(params, grads, m, v, count, step);
  device::launched("AdamW");
}

}  // namespace bg2vec::cuda
