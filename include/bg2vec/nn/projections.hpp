#pragma once
// The seam between a decoder's math and the hardware that multiplies its matrices: the decoder's seven
// projections (q, k, v, o, gate, up, down) go through Projections, which computes
//   y (+)= x W^T      (forward)
//   dx (+)= dy W      (backward to the input)
//   dW += dy^T x      (backward to the weight, when the base model trains)
// in the compute type it was made for. Float32 runs on Eigen (nn/linear.hpp, the reference). bf16 keeps a
// bf16 copy of every projection weight, packed once for the AVX512-BF16 kernel (for W^T and, when made for
// training, for W), and accumulates in float32; the float32 weights stay the master copy (they are what
// trains), and the weight gradient, float32 too, is accumulated from bf16 products of dy and x (x packed per
// call). After the float32 weights change (an optimizer step on the base model, a merged adapter), refresh()
// repacks them.
// The lm_head's two products (logits = h W^T, and dh = dZ W when training) go through it too: its bf16 copies
// are packed on first use (an encoder never computes logits, and SimCSE never trains through them), 2 bytes per
// weight each (Gemma-3-270M: 335 MB + 352 MB), counted in packed_bytes(); its weight gradient as the projections'.
// The embedding and LoRA's low-rank products stay float32 in this version.
// For inference the float32 projections need not exist at all: packed(...) makes the bf16 copies one projection
// at a time while a model loads without them (nn/inference_model.hpp), and such a Projections cannot refresh.
#include <bg2vec/backend/compute.hpp>
#include <bg2vec/nn/linear.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <array>
#include <memory>
#include <mutex>
#include <vector>

namespace bg2vec {

inline constexpr int kProjections = 7;   // q, k, v, o, gate, up, down: the order of nn/lora.hpp's LoraModule

class Projections {
 public:
  Projections() = default;   // float32
  Projections(const DecoderTensors& weights, backend::Compute compute, bool for_training = false)
      : compute_(compute), for_training_(for_training) {
    backend::require_supported(compute);
    if (compute == backend::Compute::Bf16) refresh(weights);
  }

  // bf16 copies of `num_layers` layers' projections for encoding (no W packing), from weights handed over
  // once each and not kept: `feed(sink)` calls sink(layer, module, W [out, in]) for every projection.
  template <class Feed>
  static Projections packed(int num_layers, Feed&& feed) {
    backend::require_supported(backend::Compute::Bf16);
    Projections p;
    p.compute_ = backend::Compute::Bf16;
    p.lm_head_ = std::make_shared<LmHeadPacks>();
    auto packs = std::make_shared<Packs>();
    packs->forward.resize(size_t(num_layers));
    feed([&](int layer, int module, const Eigen::Ref<const Matrix>& w) {
      require(layer >= 0 && layer < num_layers && module >= 0 && module < kProjections, "projection index out of range");
      packs->forward[size_t(layer)][size_t(module)] = backend::cpu::PackedB::for_x_wt(w);
    });
    for (const auto& layer : packs->forward)
      for (const auto& m : layer) require(!m.empty(), "a projection was not handed over to be packed");
    p.packs_ = std::move(packs);
    return p;
  }

  backend::Compute compute() const { return compute_; }
  bool bf16() const { return compute_ == backend::Compute::Bf16; }
  // Whether every projection's forward product has a bf16 copy (then the float32 weights are never read by forward).
  bool packs_every_projection(size_t num_layers) const { return packs_ && packs_->forward.size() == num_layers; }

  // Repacks the bf16 copies from the float32 weights (the lm_head's: on its next use).
  void refresh(const DecoderTensors& weights) {
    if (compute_ != backend::Compute::Bf16) return;
    require(weights.has_projection_weights(),
            "cannot repack the bf16 projections: the model keeps no float32 copy of them (loaded for inference)");
    lm_head_ = std::make_shared<LmHeadPacks>();
    auto packs = std::make_shared<Packs>();
    packs->forward.resize(weights.layers.size());
    if (for_training_) packs->backward.resize(weights.layers.size());
    for (size_t l = 0; l < weights.layers.size(); ++l) {
      const auto w = matrices(weights.layers[l]);
      for (int m = 0; m < kProjections; ++m) {
        packs->forward[l][size_t(m)] = backend::cpu::PackedB::for_x_wt(*w[size_t(m)]);
        if (for_training_) packs->backward[l][size_t(m)] = backend::cpu::PackedB::for_x_w(*w[size_t(m)]);
      }
    }
    packs_ = std::move(packs);
  }

  // Bytes of the bf16 copies made so far (0 for float32).
  size_t packed_bytes() const {
    size_t n = 0;
    if (packs_)
      for (const auto* side : {&packs_->forward, &packs_->backward})
        for (const auto& layer : *side)
          for (const auto& p : layer) n += p.bytes();
    if (lm_head_) n += lm_head_->bytes();
    return n;
  }

  // y (+)= x W^T, W = projection `module` of layer `layer`.
  void forward(int layer, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight, Eigen::Ref<Matrix> y,
               bool accumulate) const {
    if (const backend::cpu::PackedB* p = packed(packs_ ? &packs_->forward : nullptr, layer, module)) {
      backend::cpu::gemm_bf16(x, *p, y, accumulate);
      return;
    }
    if (accumulate) layers::linear_forward_accumulate(x, weight, y);
    else layers::linear_forward(x, weight, y);
  }

  // dx (+)= dy W. A bf16 Projections made without for_training computes this in float32.
  void backward_input(int layer, int module, const Eigen::Ref<const Matrix>& dy, const MatrixView& weight,
                      Eigen::Ref<Matrix> dx, bool accumulate) const {
    if (const backend::cpu::PackedB* p = packed(packs_ ? &packs_->backward : nullptr, layer, module)) {
      backend::cpu::gemm_bf16(dy, *p, dx, accumulate);
      return;
    }
    layers::linear_backward(dy, weight, dx, accumulate);
  }

  // dW += dy^T x into the float32 gradient: for bf16 made for training, from bf16 operands with float32
  // accumulation (as PyTorch's autocast computes weight gradients), else in float32.
  void backward_weight(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dweight) const {
    if (bf16() && for_training_) backend::cpu::gemm_bf16_at_b(dy, x, dweight, /*accumulate=*/true);
    else layers::linear_backward_weight(x, dy, dweight);
  }

  // logits = h W^T, W = the lm_head [V, H] (the same float32 weights on every call, between refreshes).
  void lm_head_forward(const Eigen::Ref<const Matrix>& h, const Eigen::Ref<const Matrix>& lm_head, Eigen::Ref<Matrix> logits) const {
    if (lm_head_) {
      std::call_once(lm_head_->forward_once, [&] { lm_head_->forward = backend::cpu::PackedB::for_x_wt(lm_head); });
      backend::cpu::gemm_bf16(h, lm_head_->forward, logits, false);
      return;
    }
    layers::linear_forward(h, lm_head, logits);
  }

  // dW += dZ^T h, the lm_head's weight gradient (as backward_weight).
  void lm_head_backward_weight(const Eigen::Ref<const Matrix>& dz, const Eigen::Ref<const Matrix>& h, Eigen::Ref<Matrix> dweight) const {
    backward_weight(h, dz, dweight);
  }

  // dh = dZ W (bf16 only when made for training, as backward_input).
  void lm_head_backward_input(const Eigen::Ref<const Matrix>& dz, const Eigen::Ref<const Matrix>& lm_head,
                              Eigen::Ref<Matrix> dh) const {
    if (lm_head_ && for_training_) {
      std::call_once(lm_head_->backward_once, [&] { lm_head_->backward = backend::cpu::PackedB::for_x_w(lm_head); });
      backend::cpu::gemm_bf16(dz, lm_head_->backward, dh, false);
      return;
    }
    layers::linear_backward(dz, lm_head, dh, false);
  }

 private:
  using LayerPacks = std::array<backend::cpu::PackedB, kProjections>;
  struct Packs { std::vector<LayerPacks> forward, backward; };
  struct LmHeadPacks {
    std::once_flag forward_once, backward_once;
    backend::cpu::PackedB forward, backward;   // W^T for h W^T; W for dZ W
    size_t bytes() const { return forward.bytes() + backward.bytes(); }
  };

  static std::array<const MatrixView*, kProjections> matrices(const LayerTensors& w) {
    return {&w.q, &w.k, &w.v, &w.o, &w.gate, &w.up, &w.down};
  }
  static const backend::cpu::PackedB* packed(const std::vector<LayerPacks>* side, int layer, int module) {
    if (!side || size_t(layer) >= side->size()) return nullptr;
    const backend::cpu::PackedB& p = (*side)[size_t(layer)][size_t(module)];
    return p.empty() ? nullptr : &p;
  }

  backend::Compute compute_ = backend::Compute::F32;
  bool for_training_ = false;
  std::shared_ptr<const Packs> packs_;   // shared: copies of a Projections (and of a Decoder) share one packing
  std::shared_ptr<LmHeadPacks> lm_head_;   // bf16 only; packed lazily, so mutable behind the const methods
};

}  // namespace bg2vec
