#pragma once
// LoRA (low-rank adaptation): a frozen projection W [out, in] gains a trainable low-rank update,
//   y = x W^T + s * dropout(x) A^T B^T,   A [r, in], B [out, r], s = alpha / r,
// and its backward, with u = dropout(x) A^T and x_d = dropout(x):
//   dB += s dy^T u,  du = s dy B,  dA += du^T x_d,  dx += dropout'(du A)   (same mask as forward).
// Adapter tensors use PEFT's names and layout, so adapters move between PEFT and us unchanged.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace bg2vec {

// The projections LoRA can adapt, in the order of their dropout streams.
enum LoraModule : int { kQ, kK, kV, kO, kGate, kUp, kDown, kLoraModules };
inline constexpr std::array<std::string_view, kLoraModules> kLoraModuleNames = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

struct LoraConfig {
  int rank = 16;
  float alpha = 32;
  float dropout = 0.05f;
  std::vector<std::string> targets{kLoraModuleNames.begin(), kLoraModuleNames.end()};
  float scaling() const { return alpha / float(rank); }
};

// Names, shapes and offsets of the adapter tensors in one flat buffer (PEFT's saved names).
class LoraLayout {
 public:
  LoraLayout(const io::ModelConfig& c, const LoraConfig& lora) : config_(lora) {
    if (lora.rank <= 0) fail("LoRA rank must be positive, got " + std::to_string(lora.rank));
    if (lora.targets.empty()) fail("LoRA needs at least one target module");
    for (const auto& t : lora.targets) {
      const int m = module_index(t);
      if (m < 0)
        fail("LoRA target module '" + t + "' does not exist in " + c.architecture +
             " (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj)");
      targeted_[size_t(m)] = true;
    }
    const int64_t H = c.hidden_size, F = c.intermediate_size, r = lora.rank;
    const std::array<std::pair<int64_t, int64_t>, kLoraModules> in_out = {
        {{H, c.q_dim()}, {H, c.kv_dim()}, {H, c.kv_dim()}, {c.q_dim(), H}, {H, F}, {H, F}, {F, H}}};
    for (int l = 0; l < c.num_layers; ++l)
      for (int m = 0; m < kLoraModules; ++m) {
        if (!targeted_[size_t(m)]) continue;
        const auto [in, out] = in_out[size_t(m)];
        add(name(l, m, 'A'), {r, in});
        add(name(l, m, 'B'), {out, r});
      }
  }

  static int module_index(std::string_view name) {
    for (int m = 0; m < kLoraModules; ++m) if (kLoraModuleNames[size_t(m)] == name) return m;
    return -1;
  }
  // e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight
  static std::string name(int layer, int module, char which) {
    return "base_model.model.model.layers." + std::to_string(layer) + (module <= kO ? ".self_attn." : ".mlp.") +
           std::string(kLoraModuleNames[size_t(module)]) + ".lora_" + which + ".weight";
  }

  const LoraConfig& config() const { return config_; }
  bool targets(int module) const { return targeted_[size_t(module)]; }
  const std::vector<ParameterInfo>& tensors() const { return tensors_; }
  size_t total() const { return total_; }
  const ParameterInfo* find(const std::string& n) const {
    for (const auto& t : tensors_) if (t.name == n) return &t;
    return nullptr;
  }

 private:
  void add(std::string n, Shape shape) {
    tensors_.push_back({std::move(n), std::move(shape), total_});
    total_ += tensors_.back().size();
  }
  LoraConfig config_;
  std::array<bool, kLoraModules> targeted_{};
  std::vector<ParameterInfo> tensors_;
  size_t total_ = 0;
};

// Views of the A and B of every adapted projection inside a flat buffer (adapter weights or gradients).
class LoraTensors {
 public:
  struct Pair { MatrixView A, B; };
  LoraTensors(const io::ModelConfig& c, const LoraLayout& layout, float* buffer) : slot_(size_t(c.num_layers) * kLoraModules, -1) {
    for (int l = 0; l < c.num_layers; ++l)
      for (int m = 0; m < kLoraModules; ++m) {
        if (!layout.targets(m)) continue;
        const ParameterInfo& a = *layout.find(LoraLayout::name(l, m, 'A'));
        const ParameterInfo& b = *layout.find(LoraLayout::name(l, m, 'B'));
        slot_[size_t(l * kLoraModules + m)] = int(pairs_.size());
        pairs_.push_back({MatrixView(buffer + a.offset, a.shape[0], a.shape[1]), MatrixView(buffer + b.offset, b.shape[0], b.shape[1])});
      }
  }
  Pair* find(int layer, int module) {
    const int s = slot_[size_t(layer * kLoraModules + module)];
    return s < 0 ? nullptr : &pairs_[size_t(s)];
  }
  const Pair* find(int layer, int module) const { return const_cast<LoraTensors*>(this)->find(layer, module); }

 private:
  std::vector<int> slot_;
  std::vector<Pair> pairs_;
};

// An adapter: layout + weights. New adapters start as PEFT's do: A ~ kaiming-uniform (bound 1/sqrt(in)), B = 0,
// so the adapted model equals the base model until B trains.
class LoraAdapter {
 public:
  LoraAdapter(const io::ModelConfig& c, LoraConfig lora)
      : config_(c), layout_(c, lora), params_(layout_.total(), 0.0f), tensors_(config_, layout_, params_.data()) {}
  LoraAdapter(const LoraAdapter& o)
      : config_(o.config_), layout_(o.layout_), params_(o.params_), tensors_(config_, layout_, params_.data()) {}
  LoraAdapter& operator=(const LoraAdapter&) = delete;

  void initialise(uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (const auto& t : layout_.tensors()) {
      float* p = params_.data() + t.offset;
      if (t.name.find(".lora_A.") == std::string::npos) { std::fill(p, p + t.size(), 0.0f); continue; }
      const float bound = 1.0f / std::sqrt(float(t.shape[1]));
      std::uniform_real_distribution<float> u(-bound, bound);
      for (size_t i = 0; i < t.size(); ++i) p[i] = u(rng);
    }
  }

  const io::ModelConfig& model_config() const { return config_; }
  const LoraLayout& layout() const { return layout_; }
  const LoraConfig& config() const { return layout_.config(); }
  std::vector<float>& parameters() { return params_; }
  const std::vector<float>& parameters() const { return params_; }
  const LoraTensors& tensors() const { return tensors_; }
  LoraTensors& tensors() { return tensors_; }
  std::span<float> parameter(const ParameterInfo& t) { return {params_.data() + t.offset, t.size()}; }
  std::span<const float> parameter(const ParameterInfo& t) const { return {params_.data() + t.offset, t.size()}; }

 private:
  io::ModelConfig config_;
  LoraLayout layout_;
  std::vector<float> params_;
  LoraTensors tensors_;
};

namespace layers {

// LoRA's products go over blocks of kLoraRowBlock rows, the blocks shared out among the OpenMP threads: a block's
// dropped-out input (and, backward, the gradient through the adapter) stays in cache between the products that
// read it, its mask is drawn once for both, and the buffers are a block's size, where whole [N, in] copies were
// fresh (page-faulted) allocations on every call. The weight gradients are summed per block, then in block
// order: the same result for any thread count.
inline constexpr Eigen::Index kLoraRowBlock = 128;

namespace detail {

// Rows [r0, r0 + xd.rows()) of dropout(x) into xd, and the factors into mask (element (r, j) of x is index
// r * in + j of the stream, as a whole-matrix dropout would number it).
inline void lora_dropped_rows(const Eigen::Ref<const Matrix>& x, Eigen::Index r0, const Dropout& dropout, uint64_t stream,
                              Matrix& xd, Matrix& mask) {
  const Eigen::Index in = x.cols();
  const Dropout d = dropout;   // a local: the stores into mask cannot alias it, so the loop vectorises
  for (Eigen::Index i = 0; i < xd.rows(); ++i) {
    const uint64_t first = uint64_t(r0 + i) * uint64_t(in);
    float* m = mask.row(i).data();
    for (Eigen::Index j = 0; j < in; ++j) m[j] = d.factor(stream, first + uint64_t(j));
  }
  xd = x.middleRows(r0, xd.rows()).cwiseProduct(mask);
}

// A block's buffers, one set per thread.
struct LoraScratch {
  Matrix xd, mask, u, du, dxd;
};

// body(scratch, b) for every block b, the blocks shared out among the OpenMP threads. A single block runs outside
// any parallel region: inside one (even a one-thread, inactive one) Eigen's products open a nested team on every
// call, new threads each time, which made SimCSE steps of short sentences (N <= 128 rows) 8x slower.
template <class Body>
void for_each_row_block(Eigen::Index blocks, Body&& body) {
  if (blocks == 1) {
    LoraScratch scratch;
    body(scratch, Eigen::Index(0));
    return;
  }
#pragma omp parallel
  {
    LoraScratch scratch;
#pragma omp for schedule(static)
    for (Eigen::Index b = 0; b < blocks; ++b) body(scratch, b);
  }
}

}  // namespace detail

// y += s * dropout(x) A^T B^T
inline void lora_forward(const Eigen::Ref<const Matrix>& x, const LoraTensors::Pair& w, float scaling, const Dropout& dropout,
                         uint64_t stream, Eigen::Ref<Matrix> y) {
  if (!dropout.active()) {                                     // no copy of x: u = x A^T, [N, r]
    const Matrix u = scaling * (x * w.A.transpose());
    y.noalias() += u * w.B.transpose();
    return;
  }
  const Eigen::Index N = x.rows(), blocks = (N + kLoraRowBlock - 1) / kLoraRowBlock;
  detail::for_each_row_block(blocks, [&](detail::LoraScratch& s, Eigen::Index b) {
    const Eigen::Index r0 = b * kLoraRowBlock, n = std::min(kLoraRowBlock, N - r0);
    s.xd.resize(n, x.cols());
    s.mask.resize(n, x.cols());
    detail::lora_dropped_rows(x, r0, dropout, stream, s.xd, s.mask);
    s.u.noalias() = scaling * (s.xd * w.A.transpose());
    y.middleRows(r0, n).noalias() += s.u * w.B.transpose();
  });
}

// The backward above; dA, dB may be null (a frozen adapter still passes the gradient to x).
inline void lora_backward(const Eigen::Ref<const Matrix>& x, const LoraTensors::Pair& w, float scaling, const Dropout& dropout,
                          uint64_t stream, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dx, LoraTensors::Pair* grad) {
  const Eigen::Index N = x.rows(), in = x.cols(), out = dy.cols(), r = w.A.rows();
  const Eigen::Index blocks = (N + kLoraRowBlock - 1) / kLoraRowBlock;
  // Per-block weight gradients: dA_b [r, in] and dB_b [out, r] side by side in one row per block.
  Matrix partial(grad ? blocks : 0, r * in + out * r);
  detail::for_each_row_block(blocks, [&](detail::LoraScratch& s, Eigen::Index b) {
    const Eigen::Index r0 = b * kLoraRowBlock, n = std::min(kLoraRowBlock, N - r0);
    if (dropout.active()) {
      s.xd.resize(n, in);
      s.mask.resize(n, in);
      detail::lora_dropped_rows(x, r0, dropout, stream, s.xd, s.mask);
    }
    const Eigen::Ref<const Matrix> xin = dropout.active() ? Eigen::Ref<const Matrix>(s.xd) : x.middleRows(r0, n);
    const auto dy_b = dy.middleRows(r0, n);
    s.du.noalias() = scaling * (dy_b * w.B);                   // [n, r]
    if (grad) {
      s.u.noalias() = xin * w.A.transpose();
      MatrixView dA(partial.row(b).data(), r, in), dB(partial.row(b).data() + r * in, out, r);
      dB.noalias() = scaling * (dy_b.transpose() * s.u);
      dA.noalias() = s.du.transpose() * xin;
    }
    if (dropout.active()) {
      s.dxd.noalias() = s.du * w.A;
      dx.middleRows(r0, n) += s.dxd.cwiseProduct(s.mask);
    } else {
      dx.middleRows(r0, n).noalias() += s.du * w.A;
    }
  });
  if (!grad) return;
  for (Eigen::Index b = 0; b < blocks; ++b) {
    grad->A += MatrixView(partial.row(b).data(), r, in);
    grad->B += MatrixView(partial.row(b).data() + r * in, out, r);
  }
}

}  // namespace layers

// W += s * B A for every adapted projection: the adapter becomes part of the base weights
// (the recipe merges the MNTP adapter before training SimCSE).
inline void merge_lora(DecoderTensors& weights, const LoraAdapter& adapter) {
  require(weights.has_projection_weights(), "cannot merge a LoRA adapter into a model loaded without its float32 projections");
  const auto& c = adapter.model_config();
  const float s = adapter.config().scaling();
  for (int l = 0; l < c.num_layers; ++l) {
    LayerTensors& w = weights.layers[size_t(l)];
    const std::array<MatrixView*, kLoraModules> base = {&w.q, &w.k, &w.v, &w.o, &w.gate, &w.up, &w.down};
    for (int m = 0; m < kLoraModules; ++m)
      if (const auto* p = adapter.tensors().find(l, m)) base[size_t(m)]->noalias() += s * (p->B * p->A);
  }
}

}  // namespace bg2vec
