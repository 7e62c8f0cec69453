// bg2vec::index: FAISS search over normalised embeddings, the passage store and the index folder.
#include <bg2vec/index.hpp>

#include <doctest/doctest.h>
#include <faiss/IndexHNSW.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace test_index {

using namespace bg2vec;
using namespace bg2vec::index;

namespace {

using test::random_matrix;

// Exact top-k by cosine similarity with Eigen: the reference FAISS must agree with.
std::vector<Hits> brute_force(const Matrix& base, const Matrix& queries, int k) {
  const Matrix scores = normalized_rows(queries) * normalized_rows(base).transpose();
  std::vector<Hits> out;
  for (int q = 0; q < scores.rows(); ++q) {
    std::vector<int64_t> order = sequential_ids(0, scores.cols());
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return scores(q, a) > scores(q, b); });
    Hits hits;
    for (int j = 0; j < k; ++j) hits.push_back({order[size_t(j)], scores(q, order[size_t(j)])});
    out.push_back(hits);
  }
  return out;
}

PassageStore numbered_passages(int n) {
  PassageStore store;
  for (int i = 0; i < n; ++i) store.add({"doc" + std::to_string(i), "Заглавие " + std::to_string(i), "текст"});
  return store;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() : path(std::filesystem::temp_directory_path() / ("bg2vec-test-index-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("exact (Flat) search returns the brute-force cosine top-k, scores included") {
  const Matrix base = random_matrix(2000, 32, 1), queries = random_matrix(40, 32, 2);
  const auto index = VectorIndex::build("Flat", base);
  const auto got = index.search(queries, 10);
  const auto want = brute_force(base, queries, 10);
  REQUIRE(got.size() == want.size());
  for (size_t q = 0; q < got.size(); ++q) {
    REQUIRE(got[q].size() == 10);
    for (size_t j = 0; j < 10; ++j) {
      CHECK(got[q][j].id == want[q][j].id);
      CHECK(got[q][j].score == doctest::Approx(want[q][j].score).epsilon(1e-5));
    }
  }
}

TEST_CASE("search batches queries without changing results") {
  const Matrix base = random_matrix(300, 16, 3), queries = random_matrix(25, 16, 4);
  const auto index = VectorIndex::build("Flat", base);
  const auto whole = index.search(queries, 5), batched = index.search(queries, 5, 7);
  for (size_t q = 0; q < whole.size(); ++q)
    for (size_t j = 0; j < 5; ++j) CHECK(whole[q][j].id == batched[q][j].id);
}

TEST_CASE("HNSW recall@10 against exact search is high on random data and grows with efSearch") {
  const Matrix base = random_matrix(5000, 32, 5), queries = random_matrix(200, 32, 6);
  auto hnsw = VectorIndex::build("HNSW32,Flat", base);
  const auto exact = VectorIndex::build("Flat", base).search(queries, 10);
  hnsw.set_search_parameters("efSearch=16");
  const double low = recall_against_exact(hnsw.search(queries, 10), exact);
  hnsw.set_search_parameters("efSearch=128");
  const double high = recall_against_exact(hnsw.search(queries, 10), exact);
  MESSAGE("HNSW32 recall@10 vs Flat on 5000 random 32-d vectors: efSearch=16 " << low << ", efSearch=128 " << high);
  CHECK(high >= 0.95);
  CHECK(high >= low);
  const auto* map = dynamic_cast<const faiss::IndexIDMap2*>(&hnsw.faiss_index());
  REQUIRE(map);
  CHECK(dynamic_cast<const faiss::IndexHNSW*>(map->index)->hnsw.efSearch == 128);
}

TEST_CASE("recall against exact search counts the exact top-k ids found") {
  const std::vector<Hits> exact{{{1, 0.9f}, {2, 0.8f}}, {{3, 0.7f}, {4, 0.6f}}};
  const std::vector<Hits> approx{{{2, 0.8f}, {5, 0.1f}}, {{4, 0.6f}, {3, 0.7f}}};
  CHECK(recall_against_exact(approx, exact) == 0.75);
}

TEST_CASE("vectors keep the caller's ids; fewer results than k when the index is small") {
  const Matrix base = random_matrix(3, 8, 7);
  auto index = VectorIndex::build("Flat", base, {100, 200, 300});
  const auto hits = index.search(base.row(1), 10);
  REQUIRE(hits[0].size() == 3);
  CHECK(hits[0][0].id == 200);
  CHECK(hits[0][0].score == doctest::Approx(1.0f));
  CHECK_THROWS_WITH_AS(index.add(random_matrix(1, 8, 8), {300}), "id 300 is already in the index", Error);
  index.add(random_matrix(1, 8, 8), {400});
  CHECK(index.size() == 4);
}

TEST_CASE("indexes that need training train on the vectors, or say how many they need") {
  const Matrix base = random_matrix(1000, 16, 9);
  const auto ivf = VectorIndex::build("IVF8,Flat", base);
  CHECK(ivf.size() == 1000);
  CHECK(VectorIndex(16, "IVF8,PQ4").minimum_training_size() == 256);
  CHECK_THROWS_WITH_AS(VectorIndex::build("IVF64,Flat", random_matrix(10, 16, 10)),
                       doctest::Contains("needs at least 64 training vectors, got 10"), Error);
  CHECK_THROWS_WITH_AS(VectorIndex::build("IVF4,PQ4", random_matrix(100, 16, 10)),
                       doctest::Contains("needs at least 256 training vectors, got 100"), Error);
  CHECK_THROWS_WITH_AS(VectorIndex(16, "NoSuchIndex"), doctest::Contains("index factory \"NoSuchIndex\""), Error);
}

TEST_CASE("queries of another dimension, k <= 0 and empty builds are refused") {
  const auto index = VectorIndex::build("Flat", random_matrix(10, 8, 11));
  CHECK_THROWS_WITH_AS(index.search(random_matrix(1, 12, 12), 5), doctest::Contains("dimension 12"), Error);
  CHECK_THROWS_AS(index.search(random_matrix(1, 8, 12), 0), Error);
  CHECK_THROWS_AS(VectorIndex::build("Flat", Matrix(0, 8)), Error);
}

TEST_CASE("an index folder round-trips: same passages, same search results") {
  TempDir dir;
  const Matrix base = random_matrix(500, 24, 13), queries = random_matrix(20, 24, 14);
  const auto built = PassageIndex::build("HNSW16,Flat", base, numbered_passages(500),
                                         {"models/x", "bidirectional", "mean", "model models/x, bidirectional, mean"});
  built.save(dir.path);
  for (const char* file : {"index.faiss", "passages.jsonl", "meta.json"}) CHECK(std::filesystem::exists(dir.path / file));
  const auto loaded = PassageIndex::load(dir.path);
  CHECK(loaded.size() == 500);
  CHECK(loaded.factory() == "HNSW16,Flat");
  CHECK(loaded.encoder().pooling == "mean");
  const auto a = built.search(queries, 10), b = loaded.search(queries, 10);
  for (size_t q = 0; q < a.size(); ++q)
    for (size_t j = 0; j < a[q].size(); ++j) {
      CHECK(a[q][j].id == b[q][j].id);
      CHECK(a[q][j].score == b[q][j].score);
      CHECK(a[q][j].passage->id == b[q][j].passage->id);
      CHECK(b[q][j].passage->title == "Заглавие " + std::to_string(b[q][j].id));
    }
}

TEST_CASE("an index folder refuses queries from an encoder of another dimension, naming its model") {
  TempDir dir;
  PassageIndex::build("Flat", random_matrix(4, 8, 15), numbered_passages(4), {"models/a", "causal", "mean", ""})
      .save(dir.path);
  const auto index = PassageIndex::load(dir.path);
  CHECK_THROWS_WITH_AS(index.search(random_matrix(1, 16, 16), 3),
                       "the index holds 8-d vectors from model models/a but the query encoder gives 16-d vectors: "
                       "use the same model",
                       Error);
}

TEST_CASE("index folders: missing or inconsistent files give errors naming them") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(PassageIndex::load(dir.path), doctest::Contains("no such index folder"), Error);
  PassageIndex::build("Flat", random_matrix(4, 8, 17), numbered_passages(4), {}).save(dir.path);
  std::filesystem::remove(dir.path / "index.faiss");
  CHECK_THROWS_WITH_AS(PassageIndex::load(dir.path), doctest::Contains("index.faiss: no such index file"), Error);
  PassageIndex::build("Flat", random_matrix(4, 8, 17), numbered_passages(4), {}).save(dir.path);
  std::ofstream(dir.path / "passages.jsonl") << R"({"_id":"doc0","title":"","text":""})" << "\n";
  CHECK_THROWS_WITH_AS(PassageIndex::load(dir.path), doctest::Contains("disagree"), Error);
  std::ofstream(dir.path / "passages.jsonl") << R"({"title":"no id"})" << "\n";
  CHECK_THROWS_WITH_AS(PassageIndex::load(dir.path), doctest::Contains("passages.jsonl:1: missing \"_id\""), Error);
}

TEST_CASE("passages added to a folder index are found") {
  auto index = PassageIndex::build("Flat", random_matrix(4, 8, 18), numbered_passages(4), {});
  const Matrix extra = random_matrix(1, 8, 19);
  index.add(extra, {{"new", "Нов", "пасаж"}});
  const auto hits = index.search(extra, 1);
  CHECK(hits[0][0].passage->id == "new");
  CHECK(hits[0][0].id == 4);
}

TEST_CASE("ThreadLimit sets the OpenMP (and OpenBLAS) thread count and restores it") {
  const int before = omp_get_max_threads();
  const int blas_before = openblas_get_num_threads ? openblas_get_num_threads() : 0;
  {
    ThreadLimit limit(1);
    CHECK(omp_get_max_threads() == 1);
    if (openblas_get_num_threads) CHECK(openblas_get_num_threads() == 1);
  }
  CHECK(omp_get_max_threads() == before);
  if (openblas_get_num_threads) CHECK(openblas_get_num_threads() == blas_before);
}

}  // namespace test_index
