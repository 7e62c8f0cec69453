#pragma once
// The seam between a decoder's math and the hardware that multiplies its matrices: the decoder's seven
// projections (q, k, v, o, gate, up, down) go through Projections, which computes
//   y (+)= x W^T      (forward)
//   dx (+)= dy W      (backward to the input)
//   dW += dy^T x      (backward to the weight, when the base model trains)
// in the compute type it was made for. Float32 runs on Eigen (nn/linear.hpp, the reference). bf16 keeps a
// bf16 copy of every projection weight, packed once for the AVX512-BF16 kernel (for W^T and, when made for
// training, for W), and accumulates in float32; the float32 weights stay the master copy (they are what
// trains), and the weight gradient is computed in float32 from float32 activations. After the float32
// weights change (an optimizer step on the base model, a merged adapter), refresh() repacks them.
// The lm_head, the embedding and LoRA's low-rank products stay float32 in this version.
#include <bg2vec/backend/compute.hpp>
#include <bg2vec/nn/linear.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <array>
#include <memory>
#include <vector>

namespace bg2vec::backend {

inline constexpr int kProjections = 7;   // q, k, v, o, gate, up, down: the order of nn/lora.hpp's LoraModule

class Projections {
 public:
  Projections() = default;   // float32
  Projections(const DecoderTensors& weights, Compute compute, bool for_training = false)
      : compute_(compute), for_training_(for_training) {
    require_supported(compute);
    if (compute == Compute::Bf16) refresh(weights);
  }

  Compute compute() const { return compute_; }
  bool bf16() const { return compute_ == Compute::Bf16; }

  // Repacks the bf16 copies from the float32 weights.
  void refresh(const DecoderTensors& weights) {
    if (compute_ != Compute::Bf16) return;
    auto packs = std::make_shared<Packs>();
    packs->forward.resize(weights.layers.size());
    if (for_training_) packs->backward.resize(weights.layers.size());
    for (size_t l = 0; l < weights.layers.size(); ++l) {
      const auto w = matrices(weights.layers[l]);
      for (int m = 0; m < kProjections; ++m) {
        packs->forward[l][size_t(m)] = cpu::PackedB::for_x_wt(*w[size_t(m)]);
        if (for_training_) packs->backward[l][size_t(m)] = cpu::PackedB::for_x_w(*w[size_t(m)]);
      }
    }
    packs_ = std::move(packs);
  }

  // Bytes of the bf16 copies (0 for float32).
  size_t packed_bytes() const {
    size_t n = 0;
    if (packs_)
      for (const auto* side : {&packs_->forward, &packs_->backward})
        for (const auto& layer : *side)
          for (const auto& p : layer) n += p.bytes();
    return n;
  }

  // y (+)= x W^T, W = projection `module` of layer `layer`.
  void forward(int layer, int module, const Eigen::Ref<const Matrix>& x, const MatrixView& weight, Eigen::Ref<Matrix> y,
               bool accumulate) const {
    if (const cpu::PackedB* p = packed(packs_ ? &packs_->forward : nullptr, layer, module)) {
      cpu::gemm_bf16(x, *p, y, accumulate);
      return;
    }
    if (accumulate) layers::linear_forward_accumulate(x, weight, y);
    else layers::linear_forward(x, weight, y);
  }

  // dx (+)= dy W. A bf16 Projections made without for_training computes this in float32.
  void backward_input(int layer, int module, const Eigen::Ref<const Matrix>& dy, const MatrixView& weight,
                      Eigen::Ref<Matrix> dx, bool accumulate) const {
    if (const cpu::PackedB* p = packed(packs_ ? &packs_->backward : nullptr, layer, module)) {
      cpu::gemm_bf16(dy, *p, dx, accumulate);
      return;
    }
    layers::linear_backward(dy, weight, dx, accumulate);
  }

  // dW += dy^T x, in float32 (gradients stay float32).
  void backward_weight(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dweight) const {
    layers::linear_backward_weight(x, dy, dweight);
  }

 private:
  using LayerPacks = std::array<cpu::PackedB, kProjections>;
  struct Packs { std::vector<LayerPacks> forward, backward; };

  static std::array<const MatrixView*, kProjections> matrices(const LayerTensors& w) {
    return {&w.q, &w.k, &w.v, &w.o, &w.gate, &w.up, &w.down};
  }
  static const cpu::PackedB* packed(const std::vector<LayerPacks>* side, int layer, int module) {
    if (!side || size_t(layer) >= side->size()) return nullptr;
    const cpu::PackedB& p = (*side)[size_t(layer)][size_t(module)];
    return p.empty() ? nullptr : &p;
  }

  Compute compute_ = Compute::F32;
  bool for_training_ = false;
  std::shared_ptr<const Packs> packs_;   // shared: copies of a Projections (and of a Decoder) share one packing
};

}  // namespace bg2vec::backend
