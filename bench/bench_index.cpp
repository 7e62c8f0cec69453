// Retrieval benchmarks: FAISS search (Flat vs HNSW at several efSearch: QPS and recall@10 against
// exact search), BM25 indexing and QPS, and, with --model, encoding throughput of an index build.
//   bench_index [--vectors 20000] [--dim 256] [--queries 1000] [--threads 2] [--model DIR]
// Random Gaussian vectors are the hard case for HNSW (no cluster structure): real embeddings reach
// a given recall at a lower efSearch.
#include <bg2vec/eval/bm25.hpp>
#include <bg2vec/index/recall.hpp>
#include <bg2vec/index/threads.hpp>
#include <bg2vec/index/vector_index.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <boost/program_options.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

using namespace bg2vec;
namespace po = boost::program_options;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Matrix random_vectors(int rows, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix m(rows, dim);
  for (auto& x : m.reshaped()) x = normal(rng);
  return m;
}

void bench_faiss(int vectors, int dim, int queries) {
  const Matrix base = random_vectors(vectors, dim, 1), query = random_vectors(queries, dim, 2);
  auto start = std::chrono::steady_clock::now();
  const auto flat = index::VectorIndex::build("Flat", base);
  std::printf("Flat: build %.2f s\n", seconds_since(start));
  start = std::chrono::steady_clock::now();
  const auto exact = flat.search(query, 10);
  std::printf("Flat: %8.0f QPS (recall@10 1.000 by definition)\n", queries / seconds_since(start));

  start = std::chrono::steady_clock::now();
  auto hnsw = index::VectorIndex::build("HNSW32,Flat", base);
  std::printf("HNSW32,Flat: build %.2f s (%.0f vectors/s)\n", seconds_since(start), vectors / seconds_since(start));
  for (int ef : {16, 32, 64, 128, 256}) {
    hnsw.set_search_parameters("efSearch=" + std::to_string(ef));
    start = std::chrono::steady_clock::now();
    const auto approx = hnsw.search(query, 10);
    const double qps = queries / seconds_since(start);
    std::printf("HNSW32 efSearch=%-4d %8.0f QPS  recall@10 %.3f\n", ef, qps, index::recall_against_exact(approx, exact));
  }
}

// A synthetic corpus with Zipf-distributed words: the shape of natural text for an inverted index.
void bench_bm25(int documents, int words_per_document, int queries) {
  std::mt19937 rng(3);
  const int vocabulary = 50000;
  std::vector<double> weights(vocabulary);
  for (int i = 0; i < vocabulary; ++i) weights[size_t(i)] = 1.0 / (i + 1);
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  const auto text = [&](int words) {
    std::string t;
    for (int w = 0; w < words; ++w) t += "дума" + std::to_string(zipf(rng)) + " ";
    return t;
  };
  std::vector<std::string> corpus(static_cast<size_t>(documents));
  for (auto& d : corpus) d = text(words_per_document);
  auto start = std::chrono::steady_clock::now();
  const eval::Bm25 bm25(corpus);
  std::printf("BM25: index %d documents x %d words in %.2f s\n", documents, words_per_document, seconds_since(start));
  std::vector<std::string> qs(static_cast<size_t>(queries));
  for (auto& q : qs) q = text(5);
  start = std::chrono::steady_clock::now();
  size_t hits = 0;
  for (const auto& q : qs) hits += bm25.search(q, 100).size();
  std::printf("BM25: %8.0f QPS (5-word queries, top 100, one thread; %.0f hits/query)\n",
              queries / seconds_since(start), double(hits) / queries);
}

// What `bg2vec index build` spends most of its time on: encoding passages.
void bench_encode(const std::string& model, int texts, int batch_size) {
  const auto encoder = TextEncoder::load(model);
  const std::string passage = "София е столицата и най-големият град на България. Тя е разположена в Софийската "
                              "котловина в подножието на Витоша и е административен, културен и стопански център.";
  const std::vector<std::string> batch(size_t(texts), passage);
  const auto start = std::chrono::steady_clock::now();
  encoder.encode(batch, batch_size);
  const double s = seconds_since(start);
  std::printf("encode (%s, batch %d): %.1f passages/s, %.0f tokens/s\n", encoder.description().c_str(), batch_size,
              texts / s, double(texts) * double(encoder.tokenizer().encode(passage).size()) / s);
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("bench_index options");
  options.add_options()("help,h", "show this help")
      ("vectors", po::value<int>()->default_value(20000), "vectors in the index (100000 for the full run: minutes on 2 cores)")
      ("dim", po::value<int>()->default_value(256), "vector dimension")
      ("queries", po::value<int>()->default_value(1000), "queries")
      ("documents", po::value<int>()->default_value(20000), "BM25 documents")
      ("threads", po::value<int>()->default_value(2), "OpenMP threads")
      ("model", po::value<std::string>(), "also measure encoding throughput with this model folder")
      ("texts", po::value<int>()->default_value(256), "passages to encode with --model")
      ("batch-size", po::value<int>()->default_value(16), "encoding batch size");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "bench_index: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);   // figures as they come, also into a pipe
  const index::ThreadLimit threads(vm["threads"].as<int>());
  std::printf("%d threads; %d random %d-d vectors, %d queries\n", omp_get_max_threads(), vm["vectors"].as<int>(),
              vm["dim"].as<int>(), vm["queries"].as<int>());
  bench_faiss(vm["vectors"].as<int>(), vm["dim"].as<int>(), vm["queries"].as<int>());
  bench_bm25(vm["documents"].as<int>(), 100, vm["queries"].as<int>());
  if (vm.count("model")) bench_encode(vm["model"].as<std::string>(), vm["texts"].as<int>(), vm["batch-size"].as<int>());
  else std::printf("encode: give --model DIR to measure encoding throughput of an index build\n");
  return 0;
}
