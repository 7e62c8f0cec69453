#pragma once
// RMSNorm: y = w * x / sqrt(mean(x^2) + eps), per row. Keeps 1/rms per row for the backward pass.
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

inline void rmsnorm_forward(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Vector>& weight, float eps,
                            Eigen::Ref<Matrix> y, Eigen::Ref<Vector> rstd) {
  const Eigen::Index n = x.rows();
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i) {
    const float mean_sq = x.row(i).squaredNorm() / float(x.cols());
    rstd[i] = 1.0f / std::sqrt(mean_sq + eps);
    y.row(i) = (x.row(i) * rstd[i]).cwiseProduct(weight.transpose());
  }
}

}  // namespace bg2vec::layers
