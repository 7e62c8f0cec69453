#pragma once
// Token prediction through the lm_head: logits = h W^T for the rows that predict something, then
// cross-entropy against their targets. Forward and backward are fused per chunk of rows, so the
// [rows, vocab] logits never exist for the whole batch at once (vocab 32000 x 16k tokens would be 2 GB).
// The three products with the lm_head (logits = h W^T; dh = dZ W; dW += dZ^T h) go through a
// Projections: bf16 with float32 accumulation where it was made for bf16 (and, for dh and dW, for
// training), float32 on Eigen otherwise. The softmax, the loss and the gradients' storage stay float32.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/nn/projections.hpp>

#include <cmath>
#include <optional>
#include <span>
#include <vector>

namespace bg2vec::layers {

// loss_i = logsumexp(z_i) - z_i[y_i], with z = cap * tanh(raw / cap) under Gemma-2's
// final_logit_softcapping (z = raw without a cap). With `backward`, the raw logits become their
// gradient: scale * (softmax(z) - onehot(y)), times the cap's derivative 1 - (z / cap)^2.
// Returns the summed loss of the rows.
inline double cross_entropy(Eigen::Ref<Matrix> logits, std::span<const int32_t> targets, float scale, bool backward,
                            const std::optional<float>& softcap = {}) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) if (logits.rows() > 16)
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    auto z = logits.row(i);
    if (softcap) z = (z.array() / *softcap).tanh() * *softcap;
    // Eigen's vectorised float exp: the softmax over the vocabulary is a hot loop of training.
    const float max = z.maxCoeff();
    const float lse = max + std::log((z.array() - max).exp().sum());
    const int32_t y = targets[size_t(i)];
    total += double(lse) - double(z[y]);
    if (!backward) continue;
    if (softcap) {   // elementwise, so each z_j is read before it is overwritten
      const float cap_y = 1.0f - (z[y] / *softcap) * (z[y] / *softcap);
      z = scale * (z.array() - lse).exp() * (1.0f - (z.array() / *softcap).square());
      z[y] -= scale * cap_y;
    } else {
      z = scale * (z.array() - lse).exp();
      z[y] -= scale;
    }
  }
  return total;
}

// A prediction: row `row` of the hidden states must predict token `target`.
struct Prediction {
  Eigen::Index row;
  int32_t target;
};

inline constexpr Eigen::Index kCrossEntropyChunk = 1024;   // rows of logits at a time

// Summed cross-entropy of `predictions` through lm_head W [V, H] (and the final soft-cap, if any).
// With d_hidden, also the backward: d_hidden[row] += dZ W and dW += dZ^T h when given, where dZ is the
// scaled gradient of the raw logits (cross_entropy above). `products` computes h W^T, dZ W and dZ^T h.
inline double lm_head_cross_entropy(const Eigen::Ref<const Matrix>& hidden, const Eigen::Ref<const Matrix>& weight,
                                    std::span<const Prediction> predictions, float scale, Eigen::Ref<Matrix>* d_hidden,
                                    MatrixView* d_weight, const std::optional<float>& softcap = {},
                                    Eigen::Index chunk = kCrossEntropyChunk, const Projections& products = {}) {
  const Eigen::Index V = weight.rows(), H = hidden.cols();
  Matrix h, logits, dh;
  std::vector<int32_t> targets;
  double total = 0;
  for (size_t begin = 0; begin < predictions.size(); begin += size_t(chunk)) {
    const auto part = predictions.subspan(begin, std::min(predictions.size() - begin, size_t(chunk)));
    const Eigen::Index M = Eigen::Index(part.size());
    h.resize(M, H);
    targets.resize(part.size());
    for (Eigen::Index i = 0; i < M; ++i) {
      const auto& p = part[size_t(i)];
      if (p.target < 0 || p.target >= V)
        fail("label " + std::to_string(p.target) + " is out of the vocabulary (size " + std::to_string(V) + ")");
      h.row(i) = hidden.row(p.row);
      targets[size_t(i)] = p.target;
    }
    logits.resize(M, V);
    products.lm_head_forward(h, weight, logits);
    total += cross_entropy(logits, targets, scale, d_hidden != nullptr, softcap);
    if (!d_hidden) continue;
    dh.resize(M, H);
    products.lm_head_backward_input(logits, weight, dh);
    for (Eigen::Index i = 0; i < M; ++i) d_hidden->row(part[size_t(i)].row) += dh.row(i);
    if (d_weight) products.lm_head_backward_weight(logits, h, *d_weight);
  }
  return total;
}

}  // namespace bg2vec::layers
