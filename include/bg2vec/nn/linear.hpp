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

// dx (+)= dy W. `accumulate` adds into dx, for inputs shared by several projections (q, k, v).
inline void linear_backward(const Eigen::Ref<const Matrix>& dy, const Eigen::Ref<const Matrix>& weight,
                            Eigen::Ref<Matrix> dx, bool accumulate) {
  if (accumulate) dx.noalias() += dy * weight;
  else dx.noalias() = dy * weight;
}

// dW += dy^T x (skipped for frozen weights).
inline void linear_backward_weight(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& dy,
                                   Eigen::Ref<Matrix> dweight) {
  dweight.noalias() += dy.transpose() * x;
}

}  // namespace bg2vec::layers
