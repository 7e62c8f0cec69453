#pragma once
// SimCSE in both directions: the mean of InfoNCE(a against b) and InfoNCE(b against a), so that each view
// is the query of the other (the loss of CLIP; SimCSE and LLM2Vec train one direction). An objective is a
// name, the attention it trains and a call that returns the loss with its gradients; this one reuses
// SimCseWith's two views and pooling and changes only the loss (bg2vec::train::ContrastiveLoss).
#include <bg2vec/nn/info_nce.hpp>
#include <bg2vec/train/objectives.hpp>

#include <string_view>

namespace policies {

struct BothDirections {
  static double loss(const bg2vec::Matrix& a, const bg2vec::Matrix& b, float temperature, bg2vec::Matrix* da,
                     bg2vec::Matrix* db) {
    if (!da || !db) return 0.5 * (bg2vec::layers::info_nce(a, b, temperature) + bg2vec::layers::info_nce(b, a, temperature));
    // info_nce adds each direction's gradient of its own mean: half of each makes the gradient of the mean.
    bg2vec::Matrix ga = bg2vec::Matrix::Zero(a.rows(), a.cols()), gb = bg2vec::Matrix::Zero(b.rows(), b.cols());
    const double ab = bg2vec::layers::info_nce(a, b, temperature, &ga, &gb);
    const double ba = bg2vec::layers::info_nce(b, a, temperature, &gb, &ga);
    *da += 0.5f * ga;
    *db += 0.5f * gb;
    return 0.5 * (ab + ba);
  }
};

template <bg2vec::pool::Pooling Pool>
struct SymmetricSimCse : bg2vec::train::SimCseWith<Pool, BothDirections> {
  static constexpr std::string_view name = "symmetric-simcse";
};

}  // namespace policies
