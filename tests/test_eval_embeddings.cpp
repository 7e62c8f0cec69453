// bg2vec::eval on embeddings: hard triples, classification (kNN, linear probe), clustering (V-measure).
#include <bg2vec/eval/classification.hpp>
#include <bg2vec/eval/clustering.hpp>
#include <bg2vec/eval/labels.hpp>
#include <bg2vec/eval/linear_probe.hpp>
#include <bg2vec/eval/triples.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace test_eval_embeddings {

using namespace bg2vec;
using namespace bg2vec::eval;
using doctest::Approx;

namespace {

// `per_class` points around each of `classes` random centres; `spread` is the noise relative to the
// distance between centres. An anisotropic offset shared by all points mimics LLM embeddings.
// The same `centres` seed with another `noise` seed gives held-out points of the same classes.
struct Blobs {
  Matrix points;
  std::vector<int> labels;
};

Blobs blobs(int classes, int per_class, int dim, float spread, unsigned centres_seed, unsigned noise_seed = 0) {
  std::mt19937 rng(centres_seed);
  std::normal_distribution<float> normal;
  Matrix centres(classes, dim);
  for (auto& x : centres.reshaped()) x = normal(rng);
  rng.seed(1000 + noise_seed);
  Blobs b{Matrix(classes * per_class, dim), {}};
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < per_class; ++i) {
      const int row = c * per_class + i;
      for (int j = 0; j < dim; ++j) b.points(row, j) = centres(c, j) + spread * normal(rng) + (j == 0 ? 20.0f : 0.0f);
      b.labels.push_back(c);
    }
  return b;
}

std::filesystem::path write_temp(const std::string& name, const std::string& contents) {
  const auto path = std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()));
  std::ofstream(path) << contents;
  return path;
}

}  // namespace

TEST_CASE("triples: margin is the mean of cos(original, paraphrase) - cos(original, opposite)") {
  Matrix originals(2, 2), paraphrases(2, 2), opposites(2, 2);
  originals << 1, 0, 1, 0;
  paraphrases << 1, 1, 0, 1;     // cos 1/sqrt(2), then 0
  opposites << 0, 1, 1, 0.1f;    // cos 0, then 1/sqrt(1.01)
  const TripleScores s = score_triples(originals, paraphrases, opposites);
  CHECK(s.margin == Approx((1 / std::sqrt(2.0) - 1 / std::sqrt(1.01)) / 2));
  CHECK(s.accuracy == 0.5);
}

TEST_CASE("triples and labelled TSV files: three / two fields per line, errors with line numbers") {
  const auto good = write_temp("triples.tsv", "Котката спи.\tКотката дреме.\tКотката не спи.\n\n");
  CHECK(load_triples(good).size() == 1);
  const auto bad = write_temp("bad-triples.tsv", "а\tб\tв\nа\tб\n");
  CHECK_THROWS_WITH_AS(load_triples(bad), doctest::Contains(":2: expected original<TAB>paraphrase<TAB>opposite, got 2"),
                       Error);
  const auto labelled = write_temp("labels.tsv", "спорт\tЛевски би ЦСКА.\nполитика\t\n");
  CHECK_THROWS_WITH_AS(load_labelled_tsv(labelled), doctest::Contains(":2: empty field"), Error);
  CHECK_THROWS_WITH_AS(load_labelled_tsv("/nonexistent/x.tsv"), "/nonexistent/x.tsv: no such file", Error);
  for (const auto& p : {good, bad, labelled}) std::filesystem::remove(p);
}

TEST_CASE("accuracy and macro-F1 equal a hand computation") {
  // class 0: tp 1 fp 1 fn 1 -> F1 1/2; class 1: tp 2 fp 1 -> F1 4/5; class 2: tp 0 -> F1 0
  const ClassificationScores s = classification_scores({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0});
  CHECK(s.accuracy == Approx(0.6));
  CHECK(s.macro_f1 == Approx((0.5 + 0.8 + 0) / 3));
}

TEST_CASE("kNN: majority of the k most similar; equal votes go to the more similar class") {
  Matrix train(3, 2), test(1, 2);
  train << 1, 0, 0.9f, 0.1f, 0, 1;
  test << 0.2f, 1;
  CHECK(knn_predict(train, {0, 0, 1}, test, 1) == std::vector<int>{1});
  CHECK(knn_predict(train, {0, 0, 1}, test, 3) == std::vector<int>{0});       // two votes to one
  CHECK(knn_predict(train, {0, 1, 1}, test, 2) == std::vector<int>{1});       // 1:1, class 1 is closer
  const Blobs b = blobs(3, 40, 16, 0.3f, 1), held_out = blobs(3, 10, 16, 0.3f, 1, 1);
  CHECK(classification_scores(held_out.labels, knn_predict(b.points, b.labels, held_out.points, 5)).accuracy == 1);
}

TEST_CASE("linear probe: gradient descent lowers the loss and separates separable classes") {
  const Blobs train = blobs(4, 50, 32, 0.5f, 2);
  const Blobs test = blobs(4, 20, 32, 0.5f, 2, 1);
  const LinearProbe brief(train.points, train.labels, 4, {5, 1e-4});
  const LinearProbe trained(train.points, train.labels, 4);
  CHECK(trained.loss(train.points, train.labels) < brief.loss(train.points, train.labels));
  CHECK(classification_scores(train.labels, trained.predict(train.points)).accuracy == 1);
  CHECK(classification_scores(test.labels, trained.predict(test.points)).accuracy >= 0.95);
}

TEST_CASE("V-measure equals scikit-learn's on its documented examples") {
  CHECK(v_measure({0, 0, 1, 1}, {1, 1, 0, 0}).v_measure == Approx(1));   // a relabelling is perfect
  const VMeasure split = v_measure({0, 0, 1, 1}, {0, 0, 1, 2});
  CHECK(split.homogeneity == Approx(1));
  CHECK(split.completeness == Approx(2.0 / 3));
  CHECK(split.v_measure == Approx(0.8));
  const VMeasure one_cluster = v_measure({0, 0, 1, 1}, {0, 0, 0, 0});
  CHECK(one_cluster.homogeneity == Approx(0));
  CHECK(one_cluster.completeness == Approx(1));
  CHECK(one_cluster.v_measure == Approx(0));
}

TEST_CASE("k-means finds well-separated groups; too few texts for k is an error") {
  const Blobs b = blobs(3, 30, 16, 0.2f, 3);
  CHECK(v_measure(b.labels, kmeans(b.points, 3)).v_measure == Approx(1));
  CHECK_THROWS_WITH_AS(kmeans(b.points.topRows(2), 3), doctest::Contains("2 texts cannot form 3 clusters"), Error);
}

TEST_CASE("labels become dense class numbers in order of first appearance") {
  LabelSet labels;
  CHECK(labels.add("спорт") == 0);
  CHECK(labels.add("политика") == 1);
  CHECK(labels.add("спорт") == 0);
  CHECK(labels.find("икономика") == -1);
  CHECK(labels.name(1) == "политика");
}

}  // namespace test_eval_embeddings
