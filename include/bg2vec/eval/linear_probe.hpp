#pragma once
// A linear probe: multinomial logistic regression on frozen embeddings, trained by full-batch
// gradient descent. Features are L2-normalised, then standardised with the training mean and
// deviation, plus a constant 1 for the bias. The step is 1/L, with L = lambda_max(X^T X / N) / 2 + l2
// an upper bound of the loss's curvature (estimated by power iteration), so the loss decreases
// monotonically without a tuned learning rate, whatever the scale of the embeddings.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/index/vector_index.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace bg2vec::eval {

struct ProbeOptions {
  int iterations = 300;
  double l2 = 1e-4;   // weight decay on the weights (not the bias)
};

class LinearProbe {
 public:
  LinearProbe(const Matrix& train, const std::vector<int>& labels, int classes, ProbeOptions options = {}) {
    require(train.rows() > 0 && int64_t(labels.size()) == train.rows(), "linear probe: one label per row expected");
    require(classes >= 2, "linear probe: at least two classes needed");
    const Matrix unit = index::normalized_rows(train);
    mean_ = unit.colwise().mean();
    deviation_ = ((unit.rowwise() - mean_).array().square().colwise().mean().sqrt() + 1e-6f).matrix();
    const Matrix x = features(train);
    const auto n = float(x.rows());
    Matrix targets = Matrix::Zero(x.rows(), classes);
    for (size_t i = 0; i < labels.size(); ++i) {
      require(labels[i] >= 0 && labels[i] < classes, "linear probe: label out of range");
      targets(int64_t(i), labels[i]) = 1;
    }
    const float step = float(1.0 / (largest_eigenvalue(x) / n / 2 + options.l2));
    weights_ = Matrix::Zero(x.cols(), classes);
    Matrix decay = Matrix::Ones(x.cols(), classes) * float(options.l2);
    decay.row(x.cols() - 1).setZero();   // the bias is not regularised
    for (int it = 0; it < options.iterations; ++it) {
      const Matrix gradient = x.transpose() * (softmax(x * weights_) - targets) / n + decay.cwiseProduct(weights_);
      weights_ -= step * gradient;
    }
  }

  std::vector<int> predict(const Matrix& embeddings) const {
    require(embeddings.cols() == mean_.cols(), "linear probe: embeddings of another dimension");
    const Matrix scores = features(embeddings) * weights_;
    std::vector<int> out(size_t(scores.rows()));
    for (int64_t i = 0; i < scores.rows(); ++i) scores.row(i).maxCoeff(&out[size_t(i)]);
    return out;
  }

  // Mean cross-entropy of the probe on labelled embeddings (training progress, tests).
  double loss(const Matrix& embeddings, const std::vector<int>& labels) const {
    const Matrix p = softmax(features(embeddings) * weights_);
    double total = 0;
    for (size_t i = 0; i < labels.size(); ++i) total -= std::log(std::max(p(int64_t(i), labels[i]), 1e-30f));
    return total / double(labels.size());
  }

 private:
  Matrix features(const Matrix& embeddings) const {
    Matrix x(embeddings.rows(), embeddings.cols() + 1);
    x.leftCols(embeddings.cols()) =
        ((index::normalized_rows(embeddings).rowwise() - mean_).array().rowwise() / deviation_.array()).matrix();
    x.col(embeddings.cols()).setOnes();
    return x;
  }

  static Matrix softmax(Matrix logits) {
    for (int64_t i = 0; i < logits.rows(); ++i) {
      logits.row(i).array() -= logits.row(i).maxCoeff();
      logits.row(i) = logits.row(i).array().exp().matrix();
      logits.row(i) /= logits.row(i).sum();
    }
    return logits;
  }

  // lambda_max(X^T X) by power iteration (X^T X is symmetric positive semi-definite).
  static double largest_eigenvalue(const Matrix& x) {
    std::mt19937 rng(0);
    std::normal_distribution<float> normal;
    Vector v(x.cols());
    for (auto& e : v) e = normal(rng);
    double lambda = 0;
    for (int it = 0; it < 50; ++it) {
      const Vector w = x.transpose() * (x * v);
      lambda = w.norm();
      if (lambda == 0) return 1;
      v = w / float(lambda);
    }
    return lambda * 1.05;   // a little above the estimate: power iteration approaches from below
  }

  Eigen::RowVectorXf mean_, deviation_;
  Matrix weights_;   // [features + 1, classes]
};

}  // namespace bg2vec::eval
