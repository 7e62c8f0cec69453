// Host emulation of cuda/kernels.cuh's launchers (see cuda_runtime.h here): each "kernel" runs the same
// row function of cuda/math/ over the same rows, one row at a time (SerialLane instead of the block or
// warp lane), so that test_cuda_emulated checks the device decoder's use of them without a GPU. What it cannot
// check: the launch configurations, the block and warp reductions, and the real cuBLASLt.
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
#include <bg2vec/core/error.hpp>

#include <string>

namespace bg2vec::cuda {

namespace {
constexpr SerialLane lane;
constexpr int kMaxHead = 256;   // the kernels' limit; one lane holds the whole head here
void require_head(int d) {
  if (d > kMaxHead) fail("the CUDA attention kernel takes heads of at most 256, not " + std::to_string(d));
}
}  // namespace

template <class W>
void launch_embedding_gather(const int32_t* ids, const W* table, float scale, int tokens, int n, float* out, cudaStream_t) {
  for (int row = 0; row < tokens; ++row) embedding_gather_row(lane, table + size_t(ids[row]) * n, scale, n, out + size_t(row) * n);
}

template <class In, class W, class Out>
void launch_rmsnorm(const In* x, const W* w, float offset, float eps, int rows, int n, Out* y, float* rstd, cudaStream_t) {
  for (int row = 0; row < rows; ++row) {
    const float r = rmsnorm_forward_row(lane, x + size_t(row) * n, w, offset, eps, n, y + size_t(row) * n);
    if (rstd) rstd[row] = r;
  }
}

template <class W>
void launch_post_norm_residual(const float* branch, const W* w, float offset, float eps, int rows, int n, const float* residual,
                               float* out, float* rstd, cudaStream_t) {
  for (int row = 0; row < rows; ++row) {
    const size_t at = size_t(row) * n;
    const float r = post_norm_residual_row(lane, branch + at, w, offset, eps, n, residual + at, out + at);
    if (rstd) rstd[row] = r;
  }
}

template <class T>
void launch_rope(T* x, int rows, int seq_len, int heads, int head_dim, const float* cos, const float* sin, int direction,
                 cudaStream_t) {
  const int half = head_dim / 2;
  for (int row = 0; row < rows; ++row) {
    const int p = row % seq_len;
    rope_row(lane, x + size_t(row) * heads * head_dim, heads, head_dim, cos + size_t(p) * half, sin + size_t(p) * half, direction);
  }
}

template <class T>
void launch_attention_forward(const T* q, const T* k, const T* v, const uint8_t* key_real, int batch, const AttentionGeometry& g,
                              const AttentionMask& mask, const DeviceDropout& dropout, T* out, float* lse, cudaStream_t) {
  require_head(g.head_dim);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < g.heads; ++h)
      for (int i = 0; i < g.seq_len; ++i)
        lse[(size_t(b) * g.heads + h) * g.seq_len + i] =
            attention_row_forward<kMaxHead>(lane, q, k, v, key_real, g, mask, dropout, b, h, i, out);
}

template <class T>
void launch_gated_forward(GateKind kind, const T* gate, const T* up, T* act, size_t count, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) {
    const float z = to_float(gate[i]), u = to_float(up[i]);
    act[i] = store<T>(kind == GateKind::Silu ? gated_forward<SiluGate>(z, u) : gated_forward<GeluTanhGate>(z, u));
  }
}

void launch_pool_forward(const float* hidden, const float* weights, int batch, int seq_len, int n, float* pooled, cudaStream_t) {
  for (int b = 0; b < batch; ++b)
    for (int col = 0; col < n; ++col) pooled[size_t(b) * n + col] = pool_column(hidden, weights, b, seq_len, n, col);
}

void launch_pool_backward(const float* weights, const float* d_pooled, int batch, int seq_len, int n, float* d_hidden, cudaStream_t) {
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < seq_len; ++t)
      for (int col = 0; col < n; ++col) pool_backward_element(weights, d_pooled, b, t, seq_len, n, col, d_hidden);
}

void launch_normalise_rows(const float* x, int rows, int n, float* unit, float* norm, cudaStream_t) {
  for (int row = 0; row < rows; ++row) norm[row] = normalise_row(lane, x + size_t(row) * n, n, unit + size_t(row) * n);
}

void launch_info_nce_rows(float* S, int B, float* loss, cudaStream_t) {
  for (int row = 0; row < B; ++row) loss[row] = info_nce_row(lane, S + size_t(row) * B, B, row);
}

void launch_normalise_backward(const float* unit, const float* norm, const float* d_unit, int rows, int n, float* dx, cudaStream_t) {
  for (int row = 0; row < rows; ++row) {
    const size_t at = size_t(row) * n;
    normalise_backward_row(lane, unit + at, norm[row], d_unit + at, n, dx + at);
  }
}

void launch_softcap(float* x, size_t count, float cap, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) x[i] = softcap(x[i], cap);
}

void launch_to_bf16(const float* src, Bf16* dst, size_t count, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) dst[i] = to_bf16(src[i]);
}

template <class In, class W>
void launch_rmsnorm_backward(const In* x, const W* w, float offset, const float* rstd, const float* dy, int rows, int n, float* dx,
                             float* dw, cudaStream_t) {
  for (int row = 0; row < rows; ++row) {
    const size_t at = size_t(row) * n;
    rmsnorm_backward_row(lane, x + at, w, offset, rstd[row], dy + at, n, dx + at);
  }
  if (dw)
    for (int col = 0; col < n; ++col) dw[col] += rmsnorm_weight_grad_column(x, rstd, dy, rows, n, col);
}

template <class T>
void launch_gated_backward(GateKind kind, const T* gate, const T* up, const float* d_act, float* d_gate, float* d_up, size_t count,
                           cudaStream_t) {
  for (size_t i = 0; i < count; ++i) {
    const float z = to_float(gate[i]), u = to_float(up[i]);
    if (kind == GateKind::Silu) gated_backward<SiluGate>(z, u, d_act[i], d_gate[i], d_up[i]);
    else gated_backward<GeluTanhGate>(z, u, d_act[i], d_gate[i], d_up[i]);
  }
}

template <class T>
void launch_attention_backward(const T* q, const T* k, const T* v, const float* d_out, const float* lse, float* delta,
                               const uint8_t* key_real, int batch, const AttentionGeometry& g, const AttentionMask& mask,
                               const DeviceDropout& dropout, float* dq, float* dk, float* dv, cudaStream_t) {
  require_head(g.head_dim);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < g.heads; ++h)
      for (int i = 0; i < g.seq_len; ++i)
        delta[(size_t(b) * g.heads + h) * g.seq_len + i] =
            attention_row_delta<kMaxHead>(lane, q, k, v, d_out, lse, key_real, g, mask, dropout, b, h, i);
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < g.heads; ++h)
      for (int i = 0; i < g.seq_len; ++i)
        attention_row_backward_query<kMaxHead>(lane, q, k, v, d_out, lse, delta, key_real, g, mask, dropout, b, h, i, dq);
    for (int kvh = 0; kvh < g.kv_heads; ++kvh)
      for (int j = 0; j < g.seq_len; ++j)
        attention_row_backward_key<kMaxHead>(lane, q, k, v, d_out, lse, delta, key_real, g, mask, dropout, b, kvh, j, dk, dv);
  }
}

void launch_embedding_scatter(const int32_t* ids, const int32_t* offsets, const int32_t* positions, int distinct, const float* dout,
                              float scale, int n, float* dtable, cudaStream_t) {
  for (int r = 0; r < distinct; ++r)
    embedding_scatter_row(lane, positions + offsets[r], offsets[r + 1] - offsets[r], dout, scale, n, dtable + size_t(ids[r]) * n);
}

template <class T>
void launch_gather_rows(const float* src, const int64_t* rows, int count, int n, T* dst, cudaStream_t) {
  for (int i = 0; i < count; ++i)
    for (int j = 0; j < n; ++j) dst[size_t(i) * n + j] = store<T>(src[size_t(rows[i]) * n + j]);
}

void launch_scatter_add_rows(const float* src, const int64_t* rows, int count, int n, float* dst, cudaStream_t) {
  for (int i = 0; i < count; ++i)
    for (int j = 0; j < n; ++j) dst[size_t(rows[i]) * n + j] += src[size_t(i) * n + j];
}

void launch_cross_entropy(float* logits, const int32_t* targets, int rows, int vocab, float cap, float scale, float* loss, cudaStream_t) {
  for (int row = 0; row < rows; ++row) {
    float* z = logits + size_t(row) * vocab;
    OnlineLogSumExp state;
    const float z_target = cross_entropy_chunk(lane, z, 0, vocab, cap, targets[row], state);
    cross_entropy_grad_chunk(lane, z, 0, vocab, cap, targets[row], state.value(), scale);
    loss[row] = state.value() - z_target;
  }
}

template <class T>
void launch_dropout(const T* x, T* out, size_t count, const DeviceDropout& dropout, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) out[i] = store<T>(to_float(x[i]) * dropout.factor(i));
}

void launch_add_dropped(const float* src, float* dst, size_t count, const DeviceDropout& dropout, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) dst[i] += src[i] * dropout.factor(i);
}

void launch_adamw(float* params, const float* grads, float* m, float* v, size_t count, const AdamWStep& step, cudaStream_t) {
  for (size_t i = 0; i < count; ++i) adamw_update(params[i], grads[i], m[i], v[i], step);
}

}  // namespace bg2vec::cuda

#include "instantiate.inc"
