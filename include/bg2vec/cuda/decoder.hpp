#pragma once
// The decoder on one GPU, the same graph as nn/decoder.hpp's: embedding -> L x [RMSNorm -> q, k, v (Gemma-3:
// per-head norms) -> RoPE -> attention -> o (+ Gemma's post-norm) -> residual -> RMSNorm -> gate, up -> gated
// activation -> down (+ post-norm) -> residual] -> final RMSNorm, each projection with its LoRA update where an
// adapter targets it; the forward pass for inference (encode with pooling, logits), and for training (full
// fine-tuning, or the adapter alone with the base frozen) the forward that keeps every layer's activations, the
// backward pass, token-prediction losses (MNTP, NTP) through the lm_head in chunks of rows, unsupervised SimCSE
// (two views with attention dropout, pooling, InfoNCE), and AdamW over the whole flat buffer of what trains in
// one kernel. Products through cuBLASLt (gemm.hpp), the rest
// through the kernels of kernels.hpp. Host code (the ordinary compiler builds it; link bg2vec::cuda).
//
// T is the storage type of the weights and of the activations that feed products: float (the float32 mode,
// for tests: float32 products without TF32) or Bf16 (bf16 products with float32 accumulation). The residual
// stream, the norms' statistics, every gradient, the master weights and AdamW's moments are float32 in both;
// in the bf16 mode a gradient is rounded to bf16 only as the input of a product.
//
// The parameters keep the flat layouts of bg2vec::Model (nn/parameters.hpp) and LoraAdapter (nn/lora.hpp): a
// tensor is at the same offset on the device as on the host, for weights, gradients and moments alike.
//
// Not here yet (issue #16): activation checkpointing, a tensor-core attention (the attention is a warp per query row, math/attention.hpp), fused LoRA
// products, CUDA graphs.
#include <bg2vec/cuda/gemm.hpp>
#include <bg2vec/cuda/kernels.hpp>
#include <bg2vec/cuda/math/embedding.hpp>
#include <bg2vec/cuda/runtime.hpp>
#include <bg2vec/core/batch.hpp>
#include <bg2vec/nn/attention_policy.hpp>
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/nn/rope.hpp>
#include <bg2vec/train/optimizer.hpp>

#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

namespace bg2vec::cuda {

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

// Counts the bytes of a set of buffers (arena null), or carves them from an arena sized by that count: one
// list of buffers serves both.
struct Carver {
  DeviceArena* arena = nullptr;
  size_t bytes = 0;
  template <class U>
  U* take(size_t count) {
    if (!arena) {
      bytes += DeviceArena::footprint<U>(count);
      return nullptr;
    }
    return arena->take<U>(count);
  }
};
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
  // trainable: also float32 master weights (the bf16 mode), gradients and AdamW moments of what trains: every
  // parameter, or with `lora` the adapter's alone (the base frozen: no master weights or gradients for it).
  // Without trainable, `lora` only adds its update to the projections (inference).
  explicit DeviceDecoder(const Model& model, bool trainable = false, const LoraAdapter* lora = nullptr)
      : config_(model.config()), count_(model.parameter_count()), lora_count_(lora ? lora->parameters().size() : 0),
        trainable_(trainable), train_base_(trainable && !lora) {
    model.require_projection_weights("uploading a model to the GPU");   // the device copies the flat buffer's layout
    const auto& c = config_;
    if (lora && lora->model_config().hidden_size != c.hidden_size)
      fail("the LoRA adapter was made for another model (hidden size " + std::to_string(lora->model_config().hidden_size) +
           ", the model has " + std::to_string(c.hidden_size) + ")");
    train_count_ = trainable ? (lora ? lora_count_ : count_) : 0;
    detail::Carver carve;
    for (int pass = 0; pass < 2; ++pass) {
      w_ = carve.take<T>(count_);
      lora_w_ = lora ? carve.take<T>(lora_count_) : nullptr;
      master_ = nullptr;
      if (trainable) {
        if constexpr (!std::is_same_v<T, float>) master_ = carve.take<float>(train_count_);
        grad_ = carve.take<float>(train_count_);
        m_ = carve.take<float>(train_count_);
        v_ = carve.take<float>(train_count_);
      }
      if (pass == 0) {
        params_ = DeviceArena(carve.bytes);
        carve = {&params_, 0};
      }
    }
    put(model.parameters(), w_);
    if (lora) put(lora->parameters(), lora_w_);
    if (trainable) {
      trained_ = lora ? lora_w_ : w_;
      if constexpr (std::is_same_v<float, T>) master_ = trained_;
      else upload(master_, (lora ? lora->parameters() : model.parameters()).data(), train_count_, stream_);
      zero_grad();
      check(cudaMemsetAsync(m_, 0, train_count_ * sizeof(float), stream_), "clearing AdamW's moments");
      check(cudaMemsetAsync(v_, 0, train_count_ * sizeof(float), stream_), "clearing AdamW's moments");
    }
    const float* base = model.parameters().data();
    const auto& w = model.weights();
    auto at = [base](const auto& view) { return size_t(view.data() - base); };
    auto at_opt = [&](const auto& view) { return view ? at(*view) : kNone; };
    embed_ = at(w.embed);
    final_norm_ = at(w.final_norm);
    lm_head_ = at(w.lm_head);   // the embedding's offset when tied: its gradient adds into the embedding's
    for (const auto& l : w.layers)
      layers_.push_back({at(l.attn_norm), at(l.mlp_norm), at(l.q), at(l.k), at(l.v), at(l.o), at(l.gate), at(l.up), at(l.down),
                         at_opt(l.attn_out_norm), at_opt(l.mlp_out_norm), at_opt(l.q_norm), at_opt(l.k_norm)});
    require(int(layers_.size()) == c.num_layers, "the model's layers disagree with its config");
    lora_pairs_.assign(size_t(c.num_layers) * kLoraModules, {});
    if (lora) {
      lora_scaling_ = lora->config().scaling();
      const float* lbase = lora->parameters().data();
      for (int l = 0; l < c.num_layers; ++l)
        for (int m = 0; m < kLoraModules; ++m)
          if (const auto* p = lora->tensors().find(l, m))
            lora_pairs_[size_t(l) * kLoraModules + m] = {size_t(p->A.data() - lbase), size_t(p->B.data() - lbase), int(p->A.rows())};
    }
    check(cudaStreamSynchronize(stream_), "uploading the weights");
  }

  // LoRA's dropout in training (the CPU's masks: nn/dropout.hpp, lora_stream); 0 (the default) for none.
  void set_lora_dropout(float p, uint64_t seed) { lora_dropout_ = {p, seed}; }

  const io::ModelConfig& config() const { return config_; }
  size_t parameter_bytes() const { return params_.used(); }
  size_t activation_bytes() const { return passes_[0].arena.used() + passes_[1].arena.used(); }

  // Inference: runs the stack on `batch` (one layer's buffers, reused); afterwards hidden() holds the final
  // hidden states. `layer_outputs`, when given, receives the residual stream after the embedding and after each
  // layer, then the final hidden states (as Decoder::forward's).
  template <AttentionPolicy P>
  void forward(const TokenBatch& batch, std::vector<Matrix>* layer_outputs = nullptr) {
    p_ = &passes_[0];
    run_forward<P>(batch, false, layer_outputs);
  }

  // forward + pooling: [B, H] embeddings, as bg2vec::embed<P, Pool>.
  template <AttentionPolicy P, pool::Pooling Pool>
  Matrix embed(const TokenBatch& batch) {
    const Matrix weights = pool::pooling_weights<Pool>(batch);
    forward<P>(batch);
    upload(p_->s.pool_weights, weights.data(), size_t(weights.size()), stream_);
    launch_pool_forward(p_->s.hidden, p_->s.pool_weights, batch.batch, batch.seq_len, config_.hidden_size, p_->s.pooled, stream_);
    return download_matrix(p_->s.pooled, batch.batch, config_.hidden_size);
  }

  // The final hidden states of the last forward, [B*T, H].
  Matrix hidden() { return download_matrix(p_->s.hidden, p_->rows, config_.hidden_size); }

  // logits [B*T, V] = softcap(hidden lm_head^T) of the last forward (products in T, float32 out).
  Matrix logits() {
    const int N = p_->rows, H = config_.hidden_size, V = config_.vocab_size;
    DeviceArena out(DeviceArena::footprint<float>(size_t(N) * V) + DeviceArena::footprint<T>(size_t(N) * H));
    float* logits = out.take<float>(size_t(N) * V);
    const T* h = as_t(p_->s.hidden, size_t(N) * H, out.take<T>(size_t(N) * H));
    gemm_->linear(N, V, H, h, dtype_of<T>(), w_ + lm_head_, dtype_of<T>(), logits, Dtype::F32, 0.0f, stream_);
    if (const auto cap = config_.final_logit_softcapping) launch_softcap(logits, size_t(N) * V, float(*cap), stream_);
    return download_matrix(logits, N, V);
  }

  // Training (full fine-tuning; the decoder must be trainable): the mean cross-entropy of predicting labels[b, t]
  // (-100: nothing) from the output at (b, t-1) through the lm_head, as train::Mntp and train::Ntp; adds the
  // gradient of every parameter into the gradient buffer (zero_grad() clears it). Returns the loss.
  template <AttentionPolicy P>
  double token_prediction(const TokenBatch& batch, const std::vector<int32_t>& labels) {
    require(trainable_, "token_prediction needs a DeviceDecoder made trainable");
    require(labels.size() == size_t(batch.tokens()), "labels must be [B, T]");
    std::vector<int64_t> rows;
    std::vector<int32_t> targets;
    for (int b = 0; b < batch.batch; ++b)
      for (int t = 1; t < batch.seq_len; ++t) {
        const int32_t y = labels[size_t(b) * batch.seq_len + t];
        if (y == -100) continue;
        if (y < 0 || y >= config_.vocab_size)
          fail("label " + std::to_string(y) + " is out of the vocabulary (size " + std::to_string(config_.vocab_size) + ")");
        rows.push_back(int64_t(b) * batch.seq_len + t - 1);
        targets.push_back(y);
      }
    if (rows.empty()) fail("token prediction: the batch has no position to predict");
    p_ = &passes_[0];
    p_->attention_dropout = {};
    p_->lora_dropout = lora_dropout_;
    run_forward<P>(batch, true, nullptr);
    const int N = batch.tokens(), H = config_.hidden_size;
    check(cudaMemsetAsync(p_->s.d_hidden, 0, size_t(N) * H * sizeof(float), stream_), "clearing d_hidden");
    const double loss = lm_head_cross_entropy(rows, targets, 1.0f / float(rows.size()));
    run_backward<P>(batch);
    return loss / double(rows.size());
  }

  // Training: unsupervised SimCSE (train::SimCseWith<Pool>'s step): views a and b (b = a for the same ids under
  // another dropout mask) through the decoder with attention-probability dropout `dropout` (seeds 2 seed + 1 and
  // 2 seed + 2, as the CPU's), pooled, InfoNCE over cos / temperature with target j = i (nn/info_nce.hpp, on the
  // device); adds the gradients into the gradient buffer and returns the loss.
  template <AttentionPolicy P, pool::Pooling Pool>
  double simcse(const TokenBatch& a, const TokenBatch& b, float temperature, float dropout, uint64_t seed = 0) {
    require(trainable_, "simcse needs a DeviceDecoder made trainable");
    require(a.batch == b.batch, "simcse: the two views must hold the same number of texts");
    const TokenBatch* views[2] = {&a, &b};
    Matrix weights[2];
    for (int v = 0; v < 2; ++v) {
      p_ = &passes_[v];
      p_->attention_dropout = {dropout, seed * 2 + 1 + uint64_t(v)};
      p_->lora_dropout = {lora_dropout_.p, seed * 2 + 1 + uint64_t(v)};
      weights[v] = pool::pooling_weights<Pool>(*views[v]);
      run_forward<P>(*views[v], true, nullptr);
      upload(p_->s.pool_weights, weights[v].data(), size_t(weights[v].size()), stream_);
      launch_pool_forward(p_->s.hidden, p_->s.pool_weights, views[v]->batch, views[v]->seq_len, config_.hidden_size, p_->s.pooled,
                          stream_);
    }
    const double loss = info_nce(temperature);
    for (int v : {1, 0}) {                     // the CPU's order: view b's backward, then a's
      p_ = &passes_[v];
      const TokenBatch& t = *views[v];
      check(cudaMemsetAsync(p_->s.d_hidden, 0, size_t(t.tokens()) * config_.hidden_size * sizeof(float), stream_), "clearing d_hidden");
      launch_pool_backward(p_->s.pool_weights, p_->s.d_pooled, t.batch, t.seq_len, config_.hidden_size, p_->s.d_hidden, stream_);
      run_backward<P>(t);
    }
    return loss;
  }

  void zero_grad() { check(cudaMemsetAsync(grad_, 0, train_count_ * sizeof(float), stream_), "clearing the gradients"); }

  // One torch.optim.AdamW step of what trains (train::AdamW's arithmetic); in the bf16 mode its bf16 copy is
  // then rounded afresh from the float32 master weights.
  void adamw_step(float lr, const train::AdamWConfig& config = {}) {
    require(trainable_, "adamw_step needs a DeviceDecoder made trainable");
    ++steps_;
    launch_adamw(master_, grad_, m_, v_, train_count_,
                 AdamWStep::at(config.beta1, config.beta2, config.eps, config.weight_decay, lr, steps_), stream_);
    if constexpr (std::is_same_v<T, Bf16>) launch_to_bf16(master_, trained_, train_count_, stream_);
  }

  // The flat float32 buffers of what trains (the Model's layout, or the adapter's with LoRA).
  std::vector<float> gradients() { return download_flat(grad_, train_count_); }
  std::vector<float> parameters() {
    require(trainable_, "parameters() reads back what trains: make the DeviceDecoder trainable");
    return download_flat(master_, train_count_);
  }
  void set_gradients(std::span<const float> g) {
    require(trainable_ && g.size() == train_count_, "set_gradients: a trainable decoder and a buffer of all it trains");
    upload(grad_, g.data(), train_count_, stream_);
    check(cudaStreamSynchronize(stream_), "uploading the gradients");
  }

  void synchronize() { check(cudaStreamSynchronize(stream_), "running the decoder"); }

 private:
  static constexpr size_t kNone = size_t(-1);

  // Offsets of a layer's tensors in the flat buffers (kNone: the architecture has no such tensor).
  struct Layer {
    size_t attn_norm, mlp_norm, q, k, v, o, gate, up, down;
    size_t attn_out_norm, mlp_out_norm, q_norm, k_norm;
  };
  // What one layer's forward writes (and its backward reads). Inference has one set, whose x_in, x_mid and
  // output are one buffer (the residual stream, updated in place) and act = gate; training has one per layer.
  struct LayerActs {
    float *x_in = nullptr, *x_mid = nullptr, *out = nullptr;
    float *rstd_attn = nullptr, *rstd_mlp = nullptr, *rstd_q = nullptr, *rstd_k = nullptr, *rstd_attn_out = nullptr,
          *rstd_mlp_out = nullptr, *lse = nullptr, *attn_out = nullptr, *mlp_out = nullptr;
    T *xn_attn = nullptr, *xn_mlp = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *q_proj = nullptr, *k_proj = nullptr,
      *att = nullptr, *gate = nullptr, *up = nullptr, *act = nullptr;
  };
  // What a pass shares: the batch, the rotary tables, the final norm, pooling, and the backward's workspace.
  struct Shared {
    int32_t* ids = nullptr;
    uint8_t* key_real = nullptr;
    float *hidden = nullptr, *rstd_final = nullptr, *pool_weights = nullptr, *pooled = nullptr, *d_pooled = nullptr;
    int rows_pooled = 0;               // B
    float *cos = nullptr, *sin = nullptr, *local_cos = nullptr, *local_sin = nullptr;
    // backward only
    float *d_hidden = nullptr, *dx = nullptr, *d_branch = nullptr, *d_xn = nullptr, *d_act = nullptr, *d_gate = nullptr,
          *d_up = nullptr, *d_att = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr, *dq_proj = nullptr, *dk_proj = nullptr,
          *delta = nullptr;
    T* scratch = nullptr;              // a gradient rounded to T as a product's input (the bf16 mode)
    // LoRA: the dropped-out input of a projection, and (backward) the gradient of u, as float32 and as T, and
    // the gradient through A before the dropout mask
    T* xd = nullptr;
    float *du = nullptr, *dxd = nullptr;
    T* du_t = nullptr;
  };
  // One pass: its arena and what was carved from it, and the dropout masks it draws.
  struct Pass {
    DeviceArena arena;
    std::vector<LayerActs> acts;
    Shared s;
    std::vector<T*> lora_u;            // u = dropout(x) A^T of each adapted projection
    float* x_out = nullptr;
    int rows = 0;
    Dropout attention_dropout, lora_dropout;
  };

  // A LoRA pair's offsets in the adapter's flat buffers (rank 0: the projection has none).
  struct LoraPair {
    size_t A = 0, B = 0;
    int rank = 0;
  };

  T* W(size_t offset) const { return w_ + offset; }
  // The base parameter's gradient, null when the base is frozen (LoRA, inference).
  float* G(size_t offset) const { return train_base_ ? grad_ + offset : nullptr; }
  const LoraPair& pair(int l, int module) const { return lora_pairs_[size_t(l) * kLoraModules + module]; }
  float* lora_grad(size_t offset) const { return trainable_ && !train_base_ ? grad_ + offset : nullptr; }

  // Host float32 parameters into a device buffer of T.
  void put(const std::vector<float>& host, T* device) {
    if constexpr (std::is_same_v<T, float>) {
      upload(device, host.data(), host.size(), stream_);
    } else {
      std::vector<Bf16> converted(host.size());
      for (size_t i = 0; i < host.size(); ++i) converted[i] = to_bf16(host[i]);
      upload(device, converted.data(), host.size(), stream_);
      check(cudaStreamSynchronize(stream_), "uploading the weights");   // `converted` dies here
    }
  }

  // x as the T input of a product: itself in the float32 mode, rounded into `into` in the bf16 mode.
  const T* as_t(const float* x, size_t count, T* into) {
    if constexpr (std::is_same_v<T, float>) {
      (void)count;
      (void)into;
      return x;
    } else {
      launch_to_bf16(x, into, count, stream_);
      return into;
    }
  }

  // Sizes the arena for the batch (grown, never shrunk), carves it, and uploads ids, masks and rotary tables.
  void prepare(const TokenBatch& batch, bool training) {
    const auto& c = config_;
    const size_t N = size_t(batch.tokens()), H = size_t(c.hidden_size), F = size_t(c.intermediate_size);
    const size_t qd = size_t(c.q_dim()), kvd = size_t(c.kv_dim()), half = size_t(c.head_dim / 2), T_ = size_t(batch.seq_len);
    const size_t heads = size_t(std::max(c.num_heads, 1)), lse = size_t(batch.batch) * heads * T_;
    const bool local = c.rope_local_theta && *c.rope_local_theta != c.rope_theta;
    const bool post = c.post_norms(), qk = c.qk_norms();
    const int sets = training ? c.num_layers : 1;
    detail::Carver carve;
    for (int pass = 0; pass < 2; ++pass) {
      Shared& s = p_->s;
      s.ids = carve.take<int32_t>(N);
      s.key_real = carve.take<uint8_t>(N);
      s.hidden = carve.take<float>(N * H);
      s.rstd_final = carve.take<float>(N);
      s.pool_weights = carve.take<float>(N);
      s.pooled = carve.take<float>(size_t(batch.batch) * H);
      s.d_pooled = training ? carve.take<float>(size_t(batch.batch) * H) : nullptr;
      s.rows_pooled = batch.batch;
      s.cos = carve.take<float>(T_ * half);
      s.sin = carve.take<float>(T_ * half);
      s.local_cos = local ? carve.take<float>(T_ * half) : nullptr;
      s.local_sin = local ? carve.take<float>(T_ * half) : nullptr;
      // the residual stream: one buffer for inference, the input of every layer and the last output for training
      std::vector<float*> residual;
      for (int l = 0; l <= (training ? c.num_layers : 0); ++l) residual.push_back(carve.take<float>(N * H));
      p_->acts.assign(size_t(sets), {});
      for (int l = 0; l < sets; ++l) {
        LayerActs& a = p_->acts[size_t(l)];
        a.x_in = residual[size_t(l)];
        a.x_mid = training ? carve.take<float>(N * H) : a.x_in;
        a.out = training ? residual[size_t(l) + 1] : a.x_in;
        a.rstd_attn = carve.take<float>(N);
        a.rstd_mlp = carve.take<float>(N);
        a.lse = carve.take<float>(lse);
        a.xn_attn = carve.take<T>(N * H);
        a.xn_mlp = training ? carve.take<T>(N * H) : a.xn_attn;
        a.q = carve.take<T>(N * qd);
        a.k = carve.take<T>(N * kvd);
        a.v = carve.take<T>(N * kvd);
        a.att = carve.take<T>(N * qd);
        a.gate = carve.take<T>(N * F);
        a.up = carve.take<T>(N * F);
        a.act = training ? carve.take<T>(N * F) : a.gate;
        if (qk) {
          a.q_proj = carve.take<T>(N * qd);
          a.k_proj = carve.take<T>(N * kvd);
          a.rstd_q = carve.take<float>(N * heads);
          a.rstd_k = carve.take<float>(N * size_t(c.num_kv_heads));
        }
        if (post) {
          a.attn_out = carve.take<float>(N * H);
          a.mlp_out = training ? carve.take<float>(N * H) : a.attn_out;
          a.rstd_attn_out = carve.take<float>(N);
          a.rstd_mlp_out = carve.take<float>(N);
        }
      }
      // LoRA's u = dropout(x) A^T of each adapted projection: kept per layer for training, one for inference
      const size_t widest = std::max({H, F, qd});
      int rank = 0;
      for (const LoraPair& p : lora_pairs_) rank = std::max(rank, p.rank);
      p_->lora_u.assign(lora_pairs_.size(), nullptr);
      T* shared_u = rank > 0 && !training ? carve.take<T>(N * size_t(rank)) : nullptr;
      for (size_t i = 0; i < lora_pairs_.size(); ++i)
        if (lora_pairs_[i].rank > 0) p_->lora_u[i] = training ? carve.take<T>(N * size_t(lora_pairs_[i].rank)) : shared_u;
      s.xd = rank > 0 ? carve.take<T>(N * widest) : nullptr;
      if (training && rank > 0) {
        s.du = carve.take<float>(N * size_t(rank));
        s.du_t = carve.take<T>(N * size_t(rank));
        s.dxd = carve.take<float>(N * widest);
      }
      if (training) {
        for (float** g : {&s.d_hidden, &s.dx, &s.d_branch, &s.d_xn}) *g = carve.take<float>(N * H);
        for (float** g : {&s.d_act, &s.d_gate, &s.d_up}) *g = carve.take<float>(N * F);
        for (float** g : {&s.d_att, &s.dq, &s.dq_proj}) *g = carve.take<float>(N * qd);
        for (float** g : {&s.dk, &s.dv, &s.dk_proj}) *g = carve.take<float>(N * kvd);
        s.delta = carve.take<float>(lse);
        s.scratch = carve.take<T>(N * std::max({H, F, qd}));
      }
      if (pass == 0) {
        if (carve.bytes > p_->arena.capacity()) p_->arena = DeviceArena(carve.bytes);
        p_->arena.reset();
        carve = {&p_->arena, 0};
      }
    }
    p_->rows = int(N);
    upload(p_->s.ids, batch.ids.data(), N, stream_);
    upload(p_->s.key_real, batch.mask.data(), N, stream_);
    const layers::RopeTable rope(batch.seq_len, c.head_dim, c.rope_theta);
    upload(p_->s.cos, rope.cos.data(), T_ * half, stream_);
    upload(p_->s.sin, rope.sin.data(), T_ * half, stream_);
    if (local) {
      const layers::RopeTable local_rope(batch.seq_len, c.head_dim, *c.rope_local_theta);
      upload(p_->s.local_cos, local_rope.cos.data(), T_ * half, stream_);
      upload(p_->s.local_sin, local_rope.sin.data(), T_ * half, stream_);
      check(cudaStreamSynchronize(stream_), "uploading the rotary tables");   // the host tables die here
    }
    check(cudaStreamSynchronize(stream_), "uploading the batch");
  }

  const float* cos_of(int l) const { return local_layer(l) ? p_->s.local_cos : p_->s.cos; }
  const float* sin_of(int l) const { return local_layer(l) ? p_->s.local_sin : p_->s.sin; }
  bool local_layer(int l) const { return p_->s.local_cos && config_.rope_theta_of_layer(l) != config_.rope_theta; }
  AttentionGeometry geometry(const TokenBatch& batch) const {
    const auto& c = config_;
    const auto cap = c.attn_logit_softcapping;
    return {batch.seq_len, c.num_heads, c.num_kv_heads, c.head_dim, c.attention_scale(), cap ? float(*cap) : 0.0f};
  }

  template <AttentionPolicy P>
  void run_forward(const TokenBatch& batch, bool training, std::vector<Matrix>* layer_outputs) {
    const auto& c = config_;
    layers::check_token_ids(batch, c.vocab_size);
    prepare(batch, training);
    const int N = batch.tokens(), H = c.hidden_size, F = c.intermediate_size, d = c.head_dim;
    const float eps = float(c.rms_norm_eps), offset = c.norm_weight_offset();
    constexpr Dtype t = dtype_of<T>();
    launch_embedding_gather(p_->s.ids, W(embed_), c.embedding_scale(), N, H, p_->acts[0].x_in, stream_);
    if (layer_outputs) layer_outputs->push_back(download_matrix(p_->acts[0].x_in, N, H));
    const AttentionGeometry g = geometry(batch);
    for (int l = 0; l < c.num_layers; ++l) {
      const Layer& w = layers_[size_t(l)];
      const LayerActs& a = p_->acts[training ? size_t(l) : 0];
      launch_rmsnorm(a.x_in, W(w.attn_norm), offset, eps, N, H, a.xn_attn, a.rstd_attn, stream_);
      if (c.qk_norms()) {                                    // Gemma-3: q, k = norm(x W^T) per head
        project(l, kQ, N, c.q_dim(), H, a.xn_attn, w.q, a.q_proj, t, 0.0f, training);
        project(l, kK, N, c.kv_dim(), H, a.xn_attn, w.k, a.k_proj, t, 0.0f, training);
        launch_rmsnorm(a.q_proj, W(w.q_norm), offset, eps, N * c.num_heads, d, a.q, a.rstd_q, stream_);
        launch_rmsnorm(a.k_proj, W(w.k_norm), offset, eps, N * c.num_kv_heads, d, a.k, a.rstd_k, stream_);
      } else {
        project(l, kQ, N, c.q_dim(), H, a.xn_attn, w.q, a.q, t, 0.0f, training);
        project(l, kK, N, c.kv_dim(), H, a.xn_attn, w.k, a.k, t, 0.0f, training);
      }
      project(l, kV, N, c.kv_dim(), H, a.xn_attn, w.v, a.v, t, 0.0f, training);
      launch_rope(a.q, N, batch.seq_len, c.num_heads, d, cos_of(l), sin_of(l), +1, stream_);
      launch_rope(a.k, N, batch.seq_len, c.num_kv_heads, d, cos_of(l), sin_of(l), +1, stream_);
      launch_attention_forward(a.q, a.k, a.v, p_->s.key_real, batch.batch, g, device_mask<P>(c.window_of_layer(l)),
                               attention_dropout(l, training), a.att, a.lse, stream_);
      residual_branch(l, kO, N, H, c.q_dim(), a.att, w.o, w.attn_out_norm, a.attn_out, a.rstd_attn_out, a.x_in, a.x_mid, training);

      launch_rmsnorm(a.x_mid, W(w.mlp_norm), offset, eps, N, H, a.xn_mlp, a.rstd_mlp, stream_);
      project(l, kGate, N, F, H, a.xn_mlp, w.gate, a.gate, t, 0.0f, training);
      project(l, kUp, N, F, H, a.xn_mlp, w.up, a.up, t, 0.0f, training);
      launch_gated_forward(gate_kind(), a.gate, a.up, a.act, size_t(N) * F, stream_);
      residual_branch(l, kDown, N, H, F, a.act, w.down, w.mlp_out_norm, a.mlp_out, a.rstd_mlp_out, a.x_mid, a.out, training);
      if (layer_outputs) layer_outputs->push_back(download_matrix(a.out, N, H));
    }
    p_->x_out = p_->acts[training ? size_t(c.num_layers - 1) : 0].out;
    launch_rmsnorm(p_->x_out, W(final_norm_), offset, eps, N, H, p_->s.hidden, p_->s.rstd_final, stream_);
    if (layer_outputs) layer_outputs->push_back(download_matrix(p_->s.hidden, N, H));
  }

  GateKind gate_kind() const {
    return config_.activation() == io::Activation::GeluTanh ? GateKind::GeluTanh : GateKind::Silu;
  }

  // The pass's attention dropout of layer l in training; none otherwise.
  DeviceDropout attention_dropout(int l, bool training) const {
    const Dropout& d = p_->attention_dropout;
    return training && d.active() ? DeviceDropout::of(d.p, d.seed, attention_stream(l)) : DeviceDropout{};
  }

  // The pass's LoRA dropout of projection (l, module) in training; none otherwise.
  DeviceDropout lora_dropout(int l, int module, bool training) const {
    const Dropout& d = p_->lora_dropout;
    return training && d.active() ? DeviceDropout::of(d.p, d.seed, lora_stream(l, module)) : DeviceDropout{};
  }

  // y [N, out] (type y_type) = x W^T (+ beta y), plus the adapter's s dropout(x) A^T B^T where it targets (l, module).
  void project(int l, int module, int N, int out, int in, const T* x, size_t weight, void* y, Dtype y_type, float beta,
               bool training) {
    constexpr Dtype t = dtype_of<T>();
    gemm_->linear(N, out, in, x, t, W(weight), t, y, y_type, beta, stream_);
    const LoraPair& p = pair(l, module);
    if (p.rank == 0) return;
    const DeviceDropout drop = lora_dropout(l, module, training);
    const T* xin = x;
    if (drop.active()) {
      launch_dropout(x, p_->s.xd, size_t(N) * in, drop, stream_);
      xin = p_->s.xd;
    }
    T* u = p_->lora_u[size_t(l) * kLoraModules + module];
    gemm_->linear(N, p.rank, in, xin, t, lora_w_ + p.A, t, u, t, 0.0f, stream_);
    (*gemm_)(N, out, p.rank, {u, t, false, p.rank}, {lora_w_ + p.B, t, true, p.rank}, y, y_type, out, lora_scaling_, 1.0f, stream_);
  }

  // out = residual + branch, where branch = in W^T (Llama/Mistral: accumulated by the product itself) or
  // rmsnorm(in W^T) (Gemma's post-norm, which keeps in W^T and its 1/rms for the backward pass).
  void residual_branch(int l, int module, int N, int H, int K, const T* in, size_t weight, size_t post_norm, float* branch,
                       float* rstd, const float* residual, float* out, bool training) {
    if (post_norm == kNone) {
      if (out != residual)
        check(cudaMemcpyAsync(out, residual, size_t(N) * H * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copying the residual");
      project(l, module, N, H, K, in, weight, out, Dtype::F32, 1.0f, training);
      return;
    }
    project(l, module, N, H, K, in, weight, branch, Dtype::F32, 0.0f, training);
    launch_post_norm_residual(branch, W(post_norm), config_.norm_weight_offset(), float(config_.rms_norm_eps), N, H, residual, out,
                              rstd, stream_);
  }

  // The backward of project for dy [N, out]: d_in (+)= dy W (+ the adapter's path), dW += dy^T in when the base
  // trains, and the adapter's dB += s dy^T u, dA += (s dy B)^T dropout(in) when it trains.
  void project_backward(int l, int module, int N, int out, int in_dim, const float* dy, const T* in, size_t weight, float* d_in,
                        bool accumulate) {
    constexpr Dtype t = dtype_of<T>();
    const T* dy_t = as_t(dy, size_t(N) * out, p_->s.scratch);
    (*gemm_)(N, in_dim, out, {dy_t, t, false, out}, {W(weight), t, false, in_dim}, d_in, Dtype::F32, in_dim, 1.0f,
             accumulate ? 1.0f : 0.0f, stream_);
    if (float* dw = G(weight))
      (*gemm_)(out, in_dim, N, {dy_t, t, true, out}, {in, t, false, in_dim}, dw, Dtype::F32, in_dim, 1.0f, 1.0f, stream_);
    const LoraPair& p = pair(l, module);
    if (p.rank == 0) return;
    const int r = p.rank;
    const T* u = p_->lora_u[size_t(l) * kLoraModules + module];
    if (float* dB = lora_grad(p.B))
      (*gemm_)(out, r, N, {dy_t, t, true, out}, {u, t, false, r}, dB, Dtype::F32, r, lora_scaling_, 1.0f, stream_);
    (*gemm_)(N, r, out, {dy_t, t, false, out}, {lora_w_ + p.B, t, false, r}, p_->s.du, Dtype::F32, r, lora_scaling_, 0.0f, stream_);
    const T* du = as_t(p_->s.du, size_t(N) * r, p_->s.du_t);
    const DeviceDropout drop = lora_dropout(l, module, true);
    const T* xin = in;
    if (drop.active()) {
      launch_dropout(in, p_->s.xd, size_t(N) * in_dim, drop, stream_);
      xin = p_->s.xd;
    }
    if (float* dA = lora_grad(p.A))
      (*gemm_)(r, in_dim, N, {du, t, true, r}, {xin, t, false, in_dim}, dA, Dtype::F32, in_dim, 1.0f, 1.0f, stream_);
    if (!drop.active()) {
      (*gemm_)(N, in_dim, r, {du, t, false, r}, {lora_w_ + p.A, t, false, in_dim}, d_in, Dtype::F32, in_dim, 1.0f, 1.0f, stream_);
      return;
    }
    (*gemm_)(N, in_dim, r, {du, t, false, r}, {lora_w_ + p.A, t, false, in_dim}, p_->s.dxd, Dtype::F32, in_dim, 1.0f, 0.0f, stream_);
    launch_add_dropped(p_->s.dxd, d_in, size_t(N) * in_dim, drop, stream_);
  }

  // The backward of residual_branch: dx (the gradient of out) passes to the residual unchanged; the branch's
  // gradient goes through the post-norm, if any, and the projection into d_in.
  void residual_branch_backward(int l, int module, int N, int H, int K, const T* in, size_t weight, size_t post_norm,
                                const float* branch, const float* rstd, float* d_in) {
    const float* dy = p_->s.dx;
    if (post_norm != kNone) {
      check(cudaMemsetAsync(p_->s.d_branch, 0, size_t(N) * H * sizeof(float), stream_), "clearing a gradient");
      launch_rmsnorm_backward(branch, W(post_norm), config_.norm_weight_offset(), rstd, p_->s.dx, N, H, p_->s.d_branch, G(post_norm),
                              stream_);
      dy = p_->s.d_branch;
    }
    project_backward(l, module, N, H, K, dy, in, weight, d_in, false);
  }

  template <AttentionPolicy P>
  void run_backward(const TokenBatch& batch) {
    const auto& c = config_;
    const int N = batch.tokens(), H = c.hidden_size, F = c.intermediate_size, d = c.head_dim;
    const int qd = c.q_dim(), kvd = c.kv_dim();
    const float offset = c.norm_weight_offset();
    check(cudaMemsetAsync(p_->s.dx, 0, size_t(N) * H * sizeof(float), stream_), "clearing a gradient");
    launch_rmsnorm_backward(p_->x_out, W(final_norm_), offset, p_->s.rstd_final, p_->s.d_hidden, N, H, p_->s.dx, G(final_norm_), stream_);
    const AttentionGeometry g = geometry(batch);
    for (int l = c.num_layers - 1; l >= 0; --l) {
      const Layer& w = layers_[size_t(l)];
      const LayerActs& a = p_->acts[size_t(l)];
      // out = x_mid + [post-norm](down(act))
      residual_branch_backward(l, kDown, N, H, F, a.act, w.down, w.mlp_out_norm, a.mlp_out, a.rstd_mlp_out, p_->s.d_act);
      launch_gated_backward(gate_kind(), a.gate, a.up, p_->s.d_act, p_->s.d_gate, p_->s.d_up, size_t(N) * F, stream_);
      project_backward(l, kGate, N, F, H, p_->s.d_gate, a.xn_mlp, w.gate, p_->s.d_xn, false);
      project_backward(l, kUp, N, F, H, p_->s.d_up, a.xn_mlp, w.up, p_->s.d_xn, true);
      launch_rmsnorm_backward(a.x_mid, W(w.mlp_norm), offset, a.rstd_mlp, p_->s.d_xn, N, H, p_->s.dx, G(w.mlp_norm), stream_);

      // x_mid = x_in + [post-norm](o(attention(rope([norm](q(xn))), rope([norm](k(xn))), v(xn))))
      residual_branch_backward(l, kO, N, H, qd, a.att, w.o, w.attn_out_norm, a.attn_out, a.rstd_attn_out, p_->s.d_att);
      launch_attention_backward(a.q, a.k, a.v, p_->s.d_att, a.lse, p_->s.delta, p_->s.key_real, batch.batch, g,
                                device_mask<P>(c.window_of_layer(l)), attention_dropout(l, true), p_->s.dq, p_->s.dk, p_->s.dv,
                                stream_);
      launch_rope(p_->s.dq, N, batch.seq_len, c.num_heads, d, cos_of(l), sin_of(l), -1, stream_);
      launch_rope(p_->s.dk, N, batch.seq_len, c.num_kv_heads, d, cos_of(l), sin_of(l), -1, stream_);
      const float* dq = p_->s.dq;
      const float* dk = p_->s.dk;
      if (c.qk_norms()) {                                    // Gemma-3: through the per-head norms
        check(cudaMemsetAsync(p_->s.dq_proj, 0, size_t(N) * qd * sizeof(float), stream_), "clearing a gradient");
        check(cudaMemsetAsync(p_->s.dk_proj, 0, size_t(N) * kvd * sizeof(float), stream_), "clearing a gradient");
        launch_rmsnorm_backward(a.q_proj, W(w.q_norm), offset, a.rstd_q, p_->s.dq, N * c.num_heads, d, p_->s.dq_proj, G(w.q_norm), stream_);
        launch_rmsnorm_backward(a.k_proj, W(w.k_norm), offset, a.rstd_k, p_->s.dk, N * c.num_kv_heads, d, p_->s.dk_proj, G(w.k_norm),
                                stream_);
        dq = p_->s.dq_proj;
        dk = p_->s.dk_proj;
      }
      project_backward(l, kQ, N, qd, H, dq, a.xn_attn, w.q, p_->s.d_xn, false);
      project_backward(l, kK, N, kvd, H, dk, a.xn_attn, w.k, p_->s.d_xn, true);
      project_backward(l, kV, N, kvd, H, p_->s.dv, a.xn_attn, w.v, p_->s.d_xn, true);
      launch_rmsnorm_backward(a.x_in, W(w.attn_norm), offset, a.rstd_attn, p_->s.d_xn, N, H, p_->s.dx, G(w.attn_norm), stream_);
    }
    if (!train_base_) {
      check(cudaStreamSynchronize(stream_), "the backward pass");
      return;
    }
    // the embedding: a scatter-add by table row (deterministic)
    const IdPositions p = positions_of_ids(batch.ids.data(), N, c.vocab_size);
    DeviceArena csr(DeviceArena::footprint<int32_t>(p.ids.size()) + DeviceArena::footprint<int32_t>(p.offsets.size()) +
                    DeviceArena::footprint<int32_t>(p.positions.size()));
    int32_t* ids = csr.take<int32_t>(p.ids.size());
    int32_t* offsets = csr.take<int32_t>(p.offsets.size());
    int32_t* positions = csr.take<int32_t>(p.positions.size());
    upload(ids, p.ids.data(), p.ids.size(), stream_);
    upload(offsets, p.offsets.data(), p.offsets.size(), stream_);
    upload(positions, p.positions.data(), p.positions.size(), stream_);
    launch_embedding_scatter(ids, offsets, positions, int(p.ids.size()), p_->s.dx, c.embedding_scale(), H, G(embed_), stream_);
    check(cudaStreamSynchronize(stream_), "the backward pass");   // `p` and `csr` die here
  }

  // Summed cross-entropy of the predictions (hidden row rows[i] predicts targets[i]) through the lm_head, in
  // chunks of rows whose [rows, vocab] float32 logits take at most kLogitsBytes; with the gradient (times scale)
  // into p_->s.d_hidden and the lm_head's gradient.
  static constexpr size_t kLogitsBytes = size_t(256) << 20;
  double lm_head_cross_entropy(const std::vector<int64_t>& rows, const std::vector<int32_t>& targets, float scale) {
    const auto& c = config_;
    const int M = int(rows.size()), H = c.hidden_size, V = c.vocab_size;
    const int chunk = int(std::max<size_t>(1, std::min<size_t>(size_t(M), kLogitsBytes / (sizeof(float) * size_t(V)))));
    constexpr Dtype t = dtype_of<T>();
    using A = DeviceArena;
    DeviceArena work(A::footprint<int64_t>(size_t(M)) + A::footprint<int32_t>(size_t(M)) + A::footprint<float>(size_t(M)) +
                     A::footprint<T>(size_t(chunk) * H) + A::footprint<float>(size_t(chunk) * V) +
                     A::footprint<T>(size_t(chunk) * V) + A::footprint<float>(size_t(chunk) * H));
    int64_t* d_rows = work.take<int64_t>(size_t(M));
    int32_t* d_targets = work.take<int32_t>(size_t(M));
    float* loss = work.take<float>(size_t(M));
    T* h = work.take<T>(size_t(chunk) * H);
    float* logits = work.take<float>(size_t(chunk) * V);
    T* logits_t = work.take<T>(size_t(chunk) * V);
    float* dh = work.take<float>(size_t(chunk) * H);
    upload(d_rows, rows.data(), size_t(M), stream_);
    upload(d_targets, targets.data(), size_t(M), stream_);
    const float cap = c.final_logit_softcapping ? float(*c.final_logit_softcapping) : 0.0f;
    for (int r0 = 0; r0 < M; r0 += chunk) {
      const int R = std::min(chunk, M - r0);
      launch_gather_rows(p_->s.hidden, d_rows + r0, R, H, h, stream_);
      gemm_->linear(R, V, H, h, t, W(lm_head_), t, logits, Dtype::F32, 0.0f, stream_);
      launch_cross_entropy(logits, d_targets + r0, R, V, cap, scale, loss + r0, stream_);   // logits -> dZ
      const T* dz = as_t(logits, size_t(R) * V, logits_t);
      (*gemm_)(R, H, V, {dz, t, false, V}, {W(lm_head_), t, false, H}, dh, Dtype::F32, H, 1.0f, 0.0f, stream_);
      launch_scatter_add_rows(dh, d_rows + r0, R, H, p_->s.d_hidden, stream_);
      if (float* dw = G(lm_head_)) (*gemm_)(V, H, R, {dz, t, true, V}, {h, t, false, H}, dw, Dtype::F32, H, 1.0f, 1.0f, stream_);
    }
    std::vector<float> host(static_cast<size_t>(M));
    download(host.data(), loss, size_t(M), stream_);
    double total = 0;
    for (const float x : host) total += double(x);
    return total;
  }

  // InfoNCE between the pooled embeddings of passes 0 and 1 (their s.pooled, [B, H]); their s.d_pooled receive the
  // gradients. The products are float32 (they are [B, B, H]: small); the rows run math/info_nce.hpp.
  double info_nce(float temperature) {
    const int B = passes_[0].s.rows_pooled, H = config_.hidden_size;
    using A = DeviceArena;
    DeviceArena work(A::footprint<float>(size_t(B) * H) * 4 + A::footprint<float>(size_t(B)) * 3 + A::footprint<float>(size_t(B) * B));
    float* unit[2] = {work.take<float>(size_t(B) * H), work.take<float>(size_t(B) * H)};
    float* d_unit[2] = {work.take<float>(size_t(B) * H), work.take<float>(size_t(B) * H)};
    float* norm[2] = {work.take<float>(size_t(B)), work.take<float>(size_t(B))};
    float* loss = work.take<float>(size_t(B));
    float* S = work.take<float>(size_t(B) * B);
    for (int v = 0; v < 2; ++v) launch_normalise_rows(passes_[v].s.pooled, B, H, unit[v], norm[v], stream_);
    const float inv_t = 1.0f / temperature;
    (*gemm_)(B, B, H, {unit[0], Dtype::F32, false, H}, {unit[1], Dtype::F32, true, H}, S, Dtype::F32, B, inv_t, 0.0f, stream_);
    launch_info_nce_rows(S, B, loss, stream_);                                   // S becomes dS
    (*gemm_)(B, H, B, {S, Dtype::F32, false, B}, {unit[1], Dtype::F32, false, H}, d_unit[0], Dtype::F32, H, inv_t, 0.0f, stream_);
    (*gemm_)(B, H, B, {S, Dtype::F32, true, B}, {unit[0], Dtype::F32, false, H}, d_unit[1], Dtype::F32, H, inv_t, 0.0f, stream_);
    for (int v = 0; v < 2; ++v) {
      check(cudaMemsetAsync(passes_[v].s.d_pooled, 0, size_t(B) * H * sizeof(float), stream_), "clearing d_pooled");
      launch_normalise_backward(unit[v], norm[v], d_unit[v], B, H, passes_[v].s.d_pooled, stream_);
    }
    std::vector<float> host(static_cast<size_t>(B));
    download(host.data(), loss, size_t(B), stream_);   // synchronises: `work` may go
    double total = 0;
    for (const float x : host) total += double(x);
    return total / B;
  }

  Matrix download_matrix(const float* device, int rows, int cols) {
    Matrix m(rows, cols);
    download(m.data(), device, size_t(m.size()), stream_);
    return m;
  }
  std::vector<float> download_flat(const float* device, size_t count) {
    std::vector<float> out(count);
    download(out.data(), device, count, stream_);
    return out;
  }

  io::ModelConfig config_;
  size_t count_, lora_count_, train_count_ = 0;
  bool trainable_, train_base_;
  DeviceArena params_;
  T *w_ = nullptr, *lora_w_ = nullptr;
  T* trained_ = nullptr;               // what trains, in T: w_ or lora_w_
  float *master_ = nullptr, *grad_ = nullptr, *m_ = nullptr, *v_ = nullptr;   // of what trains
  std::vector<LoraPair> lora_pairs_;   // [layer * kLoraModules + module]
  float lora_scaling_ = 0;
  int64_t steps_ = 0;
  size_t embed_ = 0, final_norm_ = 0, lm_head_ = 0;
  std::vector<Layer> layers_;
  // Two passes' state, so that SimCSE's two views keep their activations for their backward passes; p_ is the
  // one the forward and backward work on.
  Pass passes_[2];
  Pass* p_ = &passes_[0];
  Dropout lora_dropout_;               // what set_lora_dropout gave: token prediction's
  cudaStream_t stream_ = nullptr;      // the default stream
  std::unique_ptr<Gemm> gemm_ = std::make_unique<Gemm>();
};

}  // namespace bg2vec::cuda
