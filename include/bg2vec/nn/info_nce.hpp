#pragma once
// Contrastive loss over cosine similarities (unsupervised SimCSE): with a_i, b_j the two views,
//   S_ij = cos(a_i, b_j) / tau,  loss = mean_i [ logsumexp_j S_ij - S_ii ]
// (in-batch negatives, target j = i, one direction). Backward, with n = x/|x| the unit vectors:
//   dS = (softmax(S) - I) / B,  d a_n = dS b_n / tau,  d b_n = dS^T a_n / tau,
//   dx = (d x_n - x_n (x_n . d x_n)) / |x|   (the projection of a normalisation).
#include <bg2vec/core/tensor.hpp>

#include <algorithm>
#include <cmath>

namespace bg2vec::layers {

namespace detail {
// Unit rows and the norms (clamped as torch's cosine_similarity does, eps 1e-8).
inline Vector normalise_rows(const Eigen::Ref<const Matrix>& x, Matrix& unit) {
  Vector norm = x.rowwise().norm().cwiseMax(1e-8f);
  unit = x.array().colwise() / norm.array();
  return norm;
}
inline void normalise_backward(const Matrix& unit, const Vector& norm, const Matrix& d_unit, Matrix& dx) {
  const Vector dots = unit.cwiseProduct(d_unit).rowwise().sum();
  dx += ((d_unit - (unit.array().colwise() * dots.array()).matrix()).array().colwise() / norm.array()).matrix();
}
}  // namespace detail

// Returns the mean loss; with da, db given (same shapes as a, b), adds the gradients into them.
inline double info_nce(const Eigen::Ref<const Matrix>& a, const Eigen::Ref<const Matrix>& b, float temperature,
                       Matrix* da = nullptr, Matrix* db = nullptr) {
  Matrix an, bn;
  const Vector a_norm = detail::normalise_rows(a, an), b_norm = detail::normalise_rows(b, bn);
  const Eigen::Index B = a.rows();
  Matrix S = (an * bn.transpose()) / temperature;
  double loss = 0;
  for (Eigen::Index i = 0; i < B; ++i) {
    const float max = S.row(i).maxCoeff();
    double sum = 0;
    for (Eigen::Index j = 0; j < B; ++j) sum += std::exp(double(S(i, j) - max));
    const double lse = double(max) + std::log(sum);
    loss += lse - double(S(i, i));
    for (Eigen::Index j = 0; j < B; ++j) S(i, j) = float(std::exp(double(S(i, j)) - lse));   // softmax
    S(i, i) -= 1.0f;
  }
  if (da && db) {
    S /= float(B);                                                // dS
    detail::normalise_backward(an, a_norm, (S * bn) / temperature, *da);
    detail::normalise_backward(bn, b_norm, (S.transpose() * an) / temperature, *db);
  }
  return loss / double(B);
}

}  // namespace bg2vec::layers
