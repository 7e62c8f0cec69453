#pragma once
// The decoder's forward pass on one GPU (inference: encode with pooling, logits), the same graph as
// nn/decoder.hpp's: embedding -> L x [RMSNorm -> q, k, v (Gemma-3: per-head norms) -> RoPE -> attention ->
// o (+ Gemma's post-norm) -> residual -> RMSNorm -> gate, up -> gated activation -> down (+ post-norm) ->
// residual] -> final RMSNorm. Products through cuBLASLt (gemm.hpp), the rest through the kernels of
// kernels.hpp. Host code (the ordinary compiler builds it; link bg2vec::cuda).
//
// T is the storage type of the weights and of the activations that feed products: float (the float32 mode,
// for tests: float32 products without TF32) or Bf16 (bf16 products with float32 accumulation). The residual
// stream, the norms' statistics, the final hidden states and the logits are float32 in both.
//
// Not here yet (issue #16): the backward pass, LoRA, the optimizers and the objectives on the device, and a
// tensor-core attention kernel (the attention is one warp per query row, math/attention.hpp).
#include <bg2vec/backend/cuda/gemm.hpp>
#include <bg2vec/backend/cuda/kernels.hpp>
#include <bg2vec/backend/cuda/runtime.hpp>
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/attention_policy.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/nn/rope.hpp>

#include <optional>
#include <type_traits>
#include <vector>

namespace bg2vec::backend::cuda {

namespace detail {
// Whether P sees exactly the keys of the causal (or of the bidirectional) mask, checked on a grid at compile time.
// (A row-aware policy, whose mask depends on the row, is neither.)
template <AttentionPolicy P>
constexpr bool sees_like(bool causal) {
  if constexpr (requires { { P::sees(0, 0) } -> std::convertible_to<bool>; }) {
    for (int q = 0; q < 8; ++q)
      for (int k = 0; k < 8; ++k)
        if (P::sees(q, k) != (!causal || k <= q)) return false;
    return true;
  } else {
    return false;
  }
}
}  // namespace detail

// The kernel's mask for policy P on a layer with `window`.
template <AttentionPolicy P>
AttentionMask device_mask(const std::optional<int>& window) {
  constexpr bool causal = detail::sees_like<P>(true), bidirectional = detail::sees_like<P>(false);
  static_assert(causal || bidirectional,
                "the CUDA attention kernel knows the causal and the bidirectional masks (each with key padding and an "
                "optional sliding window); this policy sees other keys");
  return {causal, P::honours_sliding_window && window ? *window : 0};
}

template <class T>
constexpr Dtype dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, Bf16>, "the CUDA decoder stores float or Bf16");
  return std::is_same_v<T, Bf16> ? Dtype::Bf16 : Dtype::F32;
}

template <class T>
class DeviceDecoder {
 public:
  explicit DeviceDecoder(const Model& model) : config_(model.config()) {
    const auto& w = model.weights();
    size_t bytes = 0;
    auto count = [&bytes](const auto& t) { bytes += DeviceArena::footprint<T>(size_t(t.size())); };
    count(w.embed);
    count(w.final_norm);
    if (!tied(w)) count(w.lm_head);
    for (const auto& l : w.layers) {
      for (const auto* m : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) count(*m);
      for (const auto* v : {&l.attn_norm, &l.mlp_norm}) count(*v);
      for (const auto* v : {&l.attn_out_norm, &l.mlp_out_norm, &l.q_norm, &l.k_norm})
        if (*v) count(**v);
    }
    params_ = DeviceArena(bytes);
    embed_ = put(w.embed);
    final_norm_ = put(w.final_norm);
    lm_head_ = tied(w) ? embed_ : put(w.lm_head);
    for (const auto& l : w.layers) {
      Layer d{put(l.attn_norm), put(l.mlp_norm), put(l.q), put(l.k), put(l.v), put(l.o), put(l.gate), put(l.up), put(l.down)};
      if (l.attn_out_norm) d.attn_out_norm = put(*l.attn_out_norm);
      if (l.mlp_out_norm) d.mlp_out_norm = put(*l.mlp_out_norm);
      if (l.q_norm) d.q_norm = put(*l.q_norm);
      if (l.k_norm) d.k_norm = put(*l.k_norm);
      layers_.push_back(d);
    }
    check(cudaStreamSynchronize(nullptr), "uploading the weights");
  }

  const io::ModelConfig& config() const { return config_; }
  size_t parameter_bytes() const { return params_.used(); }
  size_t activation_bytes() const { return acts_.used(); }

  // Runs the stack on `batch`; afterwards hidden() holds the final hidden states. `layer_outputs`, when given,
  // receives the residual stream after the embedding and after each layer, then the final hidden states (as
  // Decoder::forward's).
  template <AttentionPolicy P>
  void forward(const TokenBatch& batch, std::vector<Matrix>* layer_outputs = nullptr) {
    const auto& c = config_;
    layers::check_token_ids(batch, c.vocab_size);
    prepare(batch);
    const int N = batch.tokens(), H = c.hidden_size, F = c.intermediate_size, d = c.head_dim;
    const float eps = float(c.rms_norm_eps), offset = c.norm_weight_offset();
    constexpr Dtype t = dtype_of<T>();
    launch_embedding_gather(a_.ids, embed_, c.embedding_scale(), N, H, a_.x, stream_);
    if (layer_outputs) layer_outputs->push_back(download_matrix(a_.x, N, H));
    for (int l = 0; l < c.num_layers; ++l) {
      const Layer& w = layers_[size_t(l)];
      launch_rmsnorm(a_.x, w.attn_norm, offset, eps, N, H, a_.xn, a_.rstd, stream_);
      if (c.qk_norms()) {                                    // Gemma-3: q, k = norm(x W^T) per head
        gemm_->linear(N, c.q_dim(), H, a_.xn, t, w.q, t, a_.q_proj, t, 0.0f, stream_);
        gemm_->linear(N, c.kv_dim(), H, a_.xn, t, w.k, t, a_.k_proj, t, 0.0f, stream_);
        launch_rmsnorm(a_.q_proj, w.q_norm, offset, eps, N * c.num_heads, d, a_.q, a_.rstd, stream_);
        launch_rmsnorm(a_.k_proj, w.k_norm, offset, eps, N * c.num_kv_heads, d, a_.k, a_.rstd, stream_);
      } else {
        gemm_->linear(N, c.q_dim(), H, a_.xn, t, w.q, t, a_.q, t, 0.0f, stream_);
        gemm_->linear(N, c.kv_dim(), H, a_.xn, t, w.k, t, a_.k, t, 0.0f, stream_);
      }
      gemm_->linear(N, c.kv_dim(), H, a_.xn, t, w.v, t, a_.v, t, 0.0f, stream_);
      const bool local = a_.local_cos && c.rope_theta_of_layer(l) != c.rope_theta;
      const float* cos = local ? a_.local_cos : a_.cos;
      const float* sin = local ? a_.local_sin : a_.sin;
      launch_rope(a_.q, N, batch.seq_len, c.num_heads, d, cos, sin, +1, stream_);
      launch_rope(a_.k, N, batch.seq_len, c.num_kv_heads, d, cos, sin, +1, stream_);
      const auto cap = c.attn_logit_softcapping;
      const AttentionGeometry g{batch.seq_len, c.num_heads, c.num_kv_heads, d, c.attention_scale(), cap ? float(*cap) : 0.0f};
      launch_attention_forward(a_.q, a_.k, a_.v, a_.key_real, batch.batch, g, device_mask<P>(c.window_of_layer(l)),
                               DeviceDropout{}, a_.att, a_.lse, stream_);
      residual_branch(N, H, c.q_dim(), a_.att, w.o, w.attn_out_norm);

      launch_rmsnorm(a_.x, w.mlp_norm, offset, eps, N, H, a_.xn, a_.rstd, stream_);
      gemm_->linear(N, F, H, a_.xn, t, w.gate, t, a_.gate, t, 0.0f, stream_);
      gemm_->linear(N, F, H, a_.xn, t, w.up, t, a_.up, t, 0.0f, stream_);
      launch_gated_forward(c.activation() == io::Activation::GeluTanh ? GateKind::GeluTanh : GateKind::Silu, a_.gate, a_.up,
                           a_.gate, size_t(N) * F, stream_);     // act replaces gate: inference keeps neither
      residual_branch(N, H, F, a_.gate, w.down, w.mlp_out_norm);
      if (layer_outputs) layer_outputs->push_back(download_matrix(a_.x, N, H));
    }
    launch_rmsnorm(a_.x, final_norm_, offset, eps, N, H, a_.hidden, a_.rstd, stream_);
    if (layer_outputs) layer_outputs->push_back(download_matrix(a_.hidden, N, H));
  }

  // forward + pooling: [B, H] embeddings, as bg2vec::embed<P, Pool>.
  template <AttentionPolicy P, pool::Pooling Pool>
  Matrix embed(const TokenBatch& batch) {
    const Matrix weights = pool::pooling_weights<Pool>(batch);
    forward<P>(batch);
    upload(a_.pool_weights, weights.data(), size_t(weights.size()), stream_);
    launch_pool_forward(a_.hidden, a_.pool_weights, batch.batch, batch.seq_len, config_.hidden_size, a_.pooled, stream_);
    return download_matrix(a_.pooled, batch.batch, config_.hidden_size);
  }

  // The final hidden states of the last forward, [B*T, H].
  Matrix hidden() { return download_matrix(a_.hidden, rows_, config_.hidden_size); }
  const float* hidden_device() const { return a_.hidden; }

  // logits [B*T, V] = softcap(hidden lm_head^T) of the last forward (products in T, float32 out).
  Matrix logits() {
    const int N = rows_, H = config_.hidden_size, V = config_.vocab_size;
    DeviceArena out(DeviceArena::footprint<float>(size_t(N) * V) + DeviceArena::footprint<Bf16>(size_t(N) * H));
    float* logits = out.take<float>(size_t(N) * V);
    const void* h = a_.hidden;
    if constexpr (std::is_same_v<T, Bf16>) {               // the product reads bf16
      Bf16* hb = out.take<Bf16>(size_t(N) * H);
      launch_to_bf16(a_.hidden, hb, size_t(N) * H, stream_);
      h = hb;
    }
    gemm_->linear(N, V, H, h, dtype_of<T>(), lm_head_, dtype_of<T>(), logits, Dtype::F32, 0.0f, stream_);
    if (const auto cap = config_.final_logit_softcapping) launch_softcap(logits, size_t(N) * V, float(*cap), stream_);
    return download_matrix(logits, N, V);
  }

  void synchronize() { check(cudaStreamSynchronize(stream_), "running the decoder"); }

 private:
  struct Layer {
    const T *attn_norm, *mlp_norm, *q, *k, *v, *o, *gate, *up, *down;
    const T *attn_out_norm = nullptr, *mlp_out_norm = nullptr, *q_norm = nullptr, *k_norm = nullptr;
  };
  // One batch shape's buffers (one layer's worth, reused by every layer: inference).
  struct Buffers {
    int32_t* ids = nullptr;
    uint8_t* key_real = nullptr;
    float *x = nullptr, *branch = nullptr, *hidden = nullptr, *rstd = nullptr, *lse = nullptr, *pool_weights = nullptr,
          *pooled = nullptr;
    T *xn = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *q_proj = nullptr, *k_proj = nullptr, *att = nullptr,
      *gate = nullptr, *up = nullptr;
    float *cos = nullptr, *sin = nullptr, *local_cos = nullptr, *local_sin = nullptr;
  };

  static bool tied(const DecoderTensors& w) { return w.lm_head.data() == w.embed.data(); }

  template <class Tensor>
  const T* put(const Tensor& host) {
    const size_t n = size_t(host.size());
    T* d = params_.take<T>(n);
    if constexpr (std::is_same_v<T, float>) {
      upload(d, host.data(), n);
    } else {
      std::vector<Bf16> converted(n);
      for (size_t i = 0; i < n; ++i) converted[i] = to_bf16(host.data()[i]);
      upload(d, converted.data(), n);
      check(cudaStreamSynchronize(nullptr), "uploading a weight");   // `converted` dies here
    }
    return d;
  }

  // out (the residual stream, a_.x) += branch, where branch = in W^T (Llama/Mistral: accumulated by the
  // product itself) or rmsnorm(in W^T) (Gemma's post-norm, fused with the add).
  void residual_branch(int N, int H, int K, const T* in, const T* weight, const T* post_norm) {
    constexpr Dtype t = dtype_of<T>();
    if (!post_norm) {
      gemm_->linear(N, H, K, in, t, weight, t, a_.x, Dtype::F32, 1.0f, stream_);
      return;
    }
    gemm_->linear(N, H, K, in, t, weight, t, a_.branch, Dtype::F32, 0.0f, stream_);
    launch_post_norm_residual(a_.branch, post_norm, config_.norm_weight_offset(), float(config_.rms_norm_eps), N, H, a_.x, a_.x,
                              a_.rstd, stream_);
  }

  // Sizes the activation arena for the batch (grown, never shrunk) and uploads ids, masks and rotary tables.
  void prepare(const TokenBatch& batch) {
    const auto& c = config_;
    const size_t N = size_t(batch.tokens()), H = size_t(c.hidden_size), F = size_t(c.intermediate_size);
    const size_t qd = size_t(c.q_dim()), kvd = size_t(c.kv_dim()), half = size_t(c.head_dim / 2), T_ = size_t(batch.seq_len);
    const bool local = c.rope_local_theta && *c.rope_local_theta != c.rope_theta;
    const size_t heads = size_t(std::max(c.num_heads, 1));
    using A = DeviceArena;
    const size_t bytes = A::footprint<int32_t>(N) + A::footprint<uint8_t>(N) + A::footprint<float>(N * H) * 3 +
                         A::footprint<float>(N * heads) + A::footprint<float>(size_t(batch.batch) * c.num_heads * T_) +
                         A::footprint<float>(N) + A::footprint<float>(size_t(batch.batch) * H) + A::footprint<T>(N * H) +
                         A::footprint<T>(N * qd) * 3 + A::footprint<T>(N * kvd) * 3 + A::footprint<T>(N * F) * 2 +
                         A::footprint<float>(T_ * half) * (local ? 4 : 2);
    if (bytes > acts_.capacity()) acts_ = DeviceArena(bytes);
    acts_.reset();
    Buffers& a = a_;
    a.ids = acts_.take<int32_t>(N);
    a.key_real = acts_.take<uint8_t>(N);
    a.x = acts_.take<float>(N * H);
    a.branch = acts_.take<float>(N * H);
    a.hidden = acts_.take<float>(N * H);
    a.rstd = acts_.take<float>(N * heads);   // written by every norm (q's: a row per head), read by none in inference
    a.lse = acts_.take<float>(size_t(batch.batch) * c.num_heads * T_);
    a.pool_weights = acts_.take<float>(N);
    a.pooled = acts_.take<float>(size_t(batch.batch) * H);
    a.xn = acts_.take<T>(N * H);
    a.q = acts_.take<T>(N * qd);
    a.q_proj = acts_.take<T>(N * qd);
    a.att = acts_.take<T>(N * qd);
    a.k = acts_.take<T>(N * kvd);
    a.k_proj = acts_.take<T>(N * kvd);
    a.v = acts_.take<T>(N * kvd);
    a.gate = acts_.take<T>(N * F);
    a.up = acts_.take<T>(N * F);
    a.cos = acts_.take<float>(T_ * half);
    a.sin = acts_.take<float>(T_ * half);
    a.local_cos = local ? acts_.take<float>(T_ * half) : nullptr;
    a.local_sin = local ? acts_.take<float>(T_ * half) : nullptr;
    rows_ = int(N);

    upload(a.ids, batch.ids.data(), N, stream_);
    upload(a.key_real, batch.mask.data(), N, stream_);
    const layers::RopeTable rope(batch.seq_len, c.head_dim, c.rope_theta);
    upload(a.cos, rope.cos.data(), T_ * half, stream_);
    upload(a.sin, rope.sin.data(), T_ * half, stream_);
    if (local) {
      const layers::RopeTable local_rope(batch.seq_len, c.head_dim, *c.rope_local_theta);
      upload(a.local_cos, local_rope.cos.data(), T_ * half, stream_);
      upload(a.local_sin, local_rope.sin.data(), T_ * half, stream_);
      check(cudaStreamSynchronize(stream_), "uploading the rotary tables");   // the host tables die here
    }
    check(cudaStreamSynchronize(stream_), "uploading the batch");
  }

  Matrix download_matrix(const float* device, int rows, int cols) {
    Matrix m(rows, cols);
    download(m.data(), device, size_t(m.size()), stream_);
    return m;
  }

  io::ModelConfig config_;
  DeviceArena params_, acts_;
  const T *embed_ = nullptr, *final_norm_ = nullptr, *lm_head_ = nullptr;
  std::vector<Layer> layers_;
  Buffers a_;
  int rows_ = 0;
  cudaStream_t stream_ = nullptr;      // the default stream
  std::unique_ptr<Gemm> gemm_ = std::make_unique<Gemm>();
};

}  // namespace bg2vec::backend::cuda
