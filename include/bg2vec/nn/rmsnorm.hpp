#pragma once
// RMSNorm: y = (w + offset) * x * r with r = 1/sqrt(mean(x^2) + eps), per row. Keeps r per row for the
// backward pass. The offset is 0 for Llama/Mistral and 1 for Gemma, which stores its weights as
// offsets from 1 (y = x r (1 + w)); the weight gradient is the same either way.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>

#include <cmath>

namespace bg2vec::layers {

inline void rmsnorm_forward(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Vector>& weight, float eps,
                            Eigen::Ref<Matrix> y, Eigen::Ref<Vector> rstd, float weight_offset = 0.0f) {
  const Eigen::Index n = x.rows();
  const Eigen::RowVectorXf w = weight.transpose().array() + weight_offset;
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i) {
    const float mean_sq = x.row(i).squaredNorm() / float(x.cols());
    rstd[i] = 1.0f / std::sqrt(mean_sq + eps);
    y.row(i) = (x.row(i) * rstd[i]).cwiseProduct(w);
  }
}

// dx += r * (w'*dy) - x * r^3/H * sum(w'*dy*x), w' = w + offset: the input gradient, added to dx (the
// residual stream's).
inline void rmsnorm_backward(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Vector>& weight,
                             const Eigen::Ref<const Vector>& rstd, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dx,
                             float weight_offset = 0.0f) {
  const Eigen::Index n = x.rows();
  const float inv_h = 1.0f / float(x.cols());
  const Eigen::RowVectorXf w = weight.transpose().array() + weight_offset;
#pragma omp parallel for if (n > 64)
  for (Eigen::Index i = 0; i < n; ++i) {
    const float r = rstd[i];
    const float dot = dy.row(i).cwiseProduct(w).dot(x.row(i));
    dx.row(i) += r * dy.row(i).cwiseProduct(w) - (dot * r * r * r * inv_h) * x.row(i);
  }
}

// dw += sum over rows of dy * x * r (skipped when the norm is frozen, e.g. under LoRA).
inline void rmsnorm_backward_weight(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Vector>& rstd,
                                    const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Vector> dweight) {
  dweight.transpose() += (dy.cwiseProduct(x).array().colwise() * rstd.array()).matrix().colwise().sum();
}

// Per-head RMSNorm (Gemma-3's q_norm and k_norm): each head_dim-wide slice of a row of x [N, heads*d]
// is normalised on its own, with one weight [d] shared by the heads. Row-major x is [N*heads, d] in the
// same memory, so this is rmsnorm above on that view; rstd [N*heads] holds 1/rms of each (row, head).
namespace detail {
inline Eigen::Map<const Matrix> heads_view(const Eigen::Ref<const Matrix>& x, int head_dim) {
  require(x.outerStride() == x.cols() && x.cols() % head_dim == 0, "per-head RMSNorm needs contiguous rows of whole heads");
  return {x.data(), x.size() / head_dim, head_dim};
}
inline Eigen::Map<Matrix> heads_view(Eigen::Ref<Matrix> x, int head_dim) {
  require(x.outerStride() == x.cols() && x.cols() % head_dim == 0, "per-head RMSNorm needs contiguous rows of whole heads");
  return {x.data(), x.size() / head_dim, head_dim};
}
}  // namespace detail

inline void head_rmsnorm_forward(const Eigen::Ref<const Matrix>& x, int head_dim, const Eigen::Ref<const Vector>& weight,
                                 float eps, Eigen::Ref<Matrix> y, Eigen::Ref<Vector> rstd, float weight_offset = 0.0f) {
  rmsnorm_forward(detail::heads_view(x, head_dim), weight, eps, detail::heads_view(y, head_dim), rstd, weight_offset);
}

// dx += the input gradient (as rmsnorm_backward, per head).
inline void head_rmsnorm_backward(const Eigen::Ref<const Matrix>& x, int head_dim, const Eigen::Ref<const Vector>& weight,
                                  const Eigen::Ref<const Vector>& rstd, const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Matrix> dx,
                                  float weight_offset = 0.0f) {
  rmsnorm_backward(detail::heads_view(x, head_dim), weight, rstd, detail::heads_view(dy, head_dim),
                   detail::heads_view(dx, head_dim), weight_offset);
}

// dw += sum over rows and heads of dy * x * r.
inline void head_rmsnorm_backward_weight(const Eigen::Ref<const Matrix>& x, int head_dim, const Eigen::Ref<const Vector>& rstd,
                                         const Eigen::Ref<const Matrix>& dy, Eigen::Ref<Vector> dweight) {
  rmsnorm_backward_weight(detail::heads_view(x, head_dim), rstd, detail::heads_view(dy, head_dim), dweight);
}

}  // namespace bg2vec::layers
