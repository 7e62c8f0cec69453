#pragma once
// y = x W^T for a bias-free projection with W in Hugging Face's [out, in] layout.
#include <bg2vec/core/tensor.hpp>

namespace bg2vec::layers {

inline void linear_forward(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& weight, Eigen::Ref<Matrix> y) {
  y.noalias() = x * weight.transpose();
}

// y += x W^T (residual connections write straight into the stream).
inline void linear_forward_accumulate(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& weight,
                                      Eigen::Ref<Matrix> y) {
  y.noalias() += x * weight.transpose();
}

}  // namespace bg2vec::layers
