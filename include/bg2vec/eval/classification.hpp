#pragma once
// Classification on embeddings, scored by accuracy and macro-F1. Macro-F1 is the unweighted mean of
// the per-class F1 over the classes that occur in the gold or the predicted labels (scikit-learn's
// default); a class with no true positive has F1 0.
// kNN: cosine similarity to the training embeddings, majority vote of the k nearest; equal votes go
// to the class whose voters are more similar in sum.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/index/vector_index.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

namespace bg2vec::eval {

struct ClassificationScores {
  double accuracy = 0;
  double macro_f1 = 0;
};

inline ClassificationScores classification_scores(const std::vector<int>& gold, const std::vector<int>& predicted) {
  require(!gold.empty() && gold.size() == predicted.size(), "classification: one prediction per gold label expected");
  std::set<int> classes(gold.begin(), gold.end());
  classes.insert(predicted.begin(), predicted.end());
  ClassificationScores s;
  for (size_t i = 0; i < gold.size(); ++i) s.accuracy += gold[i] == predicted[i];
  s.accuracy /= double(gold.size());
  for (int c : classes) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < gold.size(); ++i) {
      tp += gold[i] == c && predicted[i] == c;
      fp += gold[i] != c && predicted[i] == c;
      fn += gold[i] == c && predicted[i] != c;
    }
    s.macro_f1 += tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
  }
  s.macro_f1 /= double(classes.size());
  return s;
}

inline std::vector<int> knn_predict(const Matrix& train, const std::vector<int>& train_labels, const Matrix& test,
                                    int k) {
  require(train.rows() > 0 && int64_t(train_labels.size()) == train.rows(), "kNN: one label per training row expected");
  require(train.cols() == test.cols(), "kNN: training and test embeddings differ in dimension");
  require(k > 0, "kNN: k must be positive");
  k = int(std::min<int64_t>(k, train.rows()));
  const int classes = *std::max_element(train_labels.begin(), train_labels.end()) + 1;
  const Matrix train_unit = index::normalized_rows(train);
  const Matrix test_unit = index::normalized_rows(test);
  std::vector<int> predicted;
  constexpr int64_t block = 512;   // bounds the similarity matrix to block x train
  for (int64_t first = 0; first < test_unit.rows(); first += block) {
    const int64_t n = std::min(block, test_unit.rows() - first);
    const Matrix similarity = test_unit.middleRows(first, n) * train_unit.transpose();
    std::vector<int64_t> order(size_t(train.rows()));
    for (int64_t q = 0; q < n; ++q) {
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int64_t a, int64_t b) { return similarity(q, a) > similarity(q, b); });
      std::vector<int> votes(size_t(classes), 0);
      std::vector<double> weight(size_t(classes), 0);
      for (int j = 0; j < k; ++j) {
        const int c = train_labels[size_t(order[size_t(j)])];
        ++votes[size_t(c)];
        weight[size_t(c)] += similarity(q, order[size_t(j)]);
      }
      int best = 0;
      for (int c = 1; c < classes; ++c)
        if (votes[size_t(c)] > votes[size_t(best)] ||
            (votes[size_t(c)] == votes[size_t(best)] && weight[size_t(c)] > weight[size_t(best)]))
          best = c;
      predicted.push_back(best);
    }
  }
  return predicted;
}

}  // namespace bg2vec::eval
