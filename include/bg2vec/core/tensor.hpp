#pragma once
// Dense float32 matrices in row-major order, the layout of Hugging Face weights ([out, in]) and of
// activations ([tokens, features]). Views over external memory are Eigen::Map: no copies.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace bg2vec {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixView = Eigen::Map<Matrix>;
using ConstMatrixView = Eigen::Map<const Matrix>;
using Vector = Eigen::VectorXf;
using VectorView = Eigen::Map<Eigen::VectorXf>;
using ConstVectorView = Eigen::Map<const Eigen::VectorXf>;

using Shape = std::vector<int64_t>;

inline int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace bg2vec
