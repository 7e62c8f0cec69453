#pragma once
// Clustering on embeddings: spherical k-means (FAISS's Clustering over L2-normalised vectors with
// inner-product assignment, fixed seed) scored against gold labels by V-measure (Rosenberg &
// Hirschberg 2007, as scikit-learn computes it):
//   homogeneity  h = 1 - H(class | cluster) / H(class)      (1 when H(class) = 0)
//   completeness c = 1 - H(cluster | class) / H(cluster)    (1 when H(cluster) = 0)
//   V = 2 h c / (h + c)                                     (0 when h + c = 0)
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/index/vector_index.hpp>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bg2vec::eval {

// The cluster (0..k-1) of each row.
inline std::vector<int> kmeans(const Matrix& embeddings, int k, int iterations = 25, int seed = 1234) {
  require(k >= 1, "k-means: k must be at least 1");
  if (embeddings.rows() < k)
    fail("k-means: " + std::to_string(embeddings.rows()) + " texts cannot form " + std::to_string(k) + " clusters");
  const auto d = size_t(embeddings.cols());
  const Matrix unit = index::normalized_rows(embeddings);
  faiss::ClusteringParameters parameters;
  parameters.niter = iterations;
  parameters.seed = seed;
  parameters.spherical = true;
  parameters.min_points_per_centroid = 1;   // small evaluation sets are fine; FAISS would warn otherwise
  faiss::Clustering clustering(int(d), k, parameters);
  faiss::IndexFlatIP centroids(static_cast<faiss::Index::idx_t>(d));
  clustering.train(unit.rows(), unit.data(), centroids);
  std::vector<float> scores(size_t(unit.rows()));
  std::vector<faiss::Index::idx_t> assignment(size_t(unit.rows()));
  centroids.search(unit.rows(), unit.data(), 1, scores.data(), assignment.data());
  return std::vector<int>(assignment.begin(), assignment.end());
}

struct VMeasure {
  double homogeneity = 0, completeness = 0, v_measure = 0;
};

inline VMeasure v_measure(const std::vector<int>& classes, const std::vector<int>& clusters) {
  require(!classes.empty() && classes.size() == clusters.size(), "V-measure: one cluster per labelled item expected");
  const double n = double(classes.size());
  std::map<std::pair<int, int>, double> joint;
  std::map<int, double> class_count, cluster_count;
  for (size_t i = 0; i < classes.size(); ++i) {
    ++joint[{classes[i], clusters[i]}];
    ++class_count[classes[i]];
    ++cluster_count[clusters[i]];
  }
  const auto entropy = [n](const std::map<int, double>& counts) {
    double h = 0;
    for (const auto& [label, c] : counts) h -= c / n * std::log(c / n);
    return h;
  };
  double class_given_cluster = 0, cluster_given_class = 0;
  for (const auto& [pair, c] : joint) {
    class_given_cluster -= c / n * std::log(c / cluster_count[pair.second]);
    cluster_given_class -= c / n * std::log(c / class_count[pair.first]);
  }
  const double h_class = entropy(class_count), h_cluster = entropy(cluster_count);
  VMeasure v;
  v.homogeneity = h_class > 0 ? 1 - class_given_cluster / h_class : 1;
  v.completeness = h_cluster > 0 ? 1 - cluster_given_class / h_cluster : 1;
  const double sum = v.homogeneity + v.completeness;
  v.v_measure = sum > 0 ? 2 * v.homogeneity * v.completeness / sum : 0;
  return v;
}

}  // namespace bg2vec::eval
