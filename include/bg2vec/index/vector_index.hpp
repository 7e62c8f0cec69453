#pragma once
// Cosine-similarity search over embeddings: a FAISS index made by the index factory ("Flat",
// "HNSW32,Flat", "IVF256,Flat", "IVF256,PQ16", ...) with METRIC_INNER_PRODUCT over L2-normalised
// vectors, wrapped in IndexIDMap2 so that every vector carries the caller's 64-bit id.
// The verbs are FAISS's: build (create + train + add), add, search, save, load.
// The file is FAISS's own format (faiss::write_index), so Python's faiss.read_index reads it too.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>

#include <faiss/AutoTune.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace bg2vec::index {

struct Hit {
  int64_t id;
  float score;   // cosine similarity (inner product of normalised vectors; approximate for PQ)
};
using Hits = std::vector<Hit>;   // best first

// Rows scaled to unit length (zero rows stay zero), so that inner product is cosine similarity.
inline Matrix normalized_rows(const Matrix& vectors) {
  Matrix out = vectors;
  faiss::fvec_renorm_L2(size_t(out.cols()), size_t(out.rows()), out.data());
  return out;
}

inline std::vector<int64_t> sequential_ids(int64_t first, int64_t count) {
  std::vector<int64_t> ids(static_cast<size_t>(count));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

class VectorIndex {
 public:
  // An empty, possibly untrained index of `dimension`-d vectors.
  VectorIndex(int dimension, const std::string& factory) {
    require(dimension > 0, "index dimension must be positive, got " + std::to_string(dimension));
    require(!factory.empty(), "empty index factory string (try \"Flat\" or \"HNSW32,Flat\")");
    faiss::Index* inner = nullptr;
    faiss_call("index factory \"" + factory + "\"",
               [&] { inner = faiss::index_factory(dimension, factory.c_str(), faiss::METRIC_INNER_PRODUCT); });
    auto map = std::make_unique<faiss::IndexIDMap2>(inner);
    map->own_fields = true;
    index_ = std::move(map);
  }

  // create, train on `vectors` when the factory needs it, and add them with `ids` (default 0..n-1).
  static VectorIndex build(const std::string& factory, const Matrix& vectors, std::vector<int64_t> ids = {}) {
    require(vectors.rows() > 0, "cannot build an index from no vectors");
    VectorIndex index(int(vectors.cols()), factory);
    if (ids.empty()) ids = sequential_ids(0, vectors.rows());
    const Matrix unit = normalized_rows(vectors);
    if (!index.is_trained()) index.train_normalized(unit, factory);
    index.add_normalized(unit, ids);
    return index;
  }

  static VectorIndex load(const std::filesystem::path& file) {
    if (!std::filesystem::exists(file)) fail(file, "no such index file");
    faiss::Index* raw = nullptr;
    faiss_call(file.string(), [&] { raw = faiss::read_index(file.c_str()); });
    std::unique_ptr<faiss::Index> loaded(raw);
    if (loaded->metric_type != faiss::METRIC_INNER_PRODUCT)
      fail(file, "index does not use inner product (cosine) similarity; rebuild it with bg2vec");
    return VectorIndex(std::move(loaded));
  }

  // faiss::write_index to a temporary file renamed over `file`: never a half-written index.
  void save(const std::filesystem::path& file) const {
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
    const std::filesystem::path temp = file.string() + ".tmp." + std::to_string(::getpid());
    try {
      faiss_call(file.string(), [&] { faiss::write_index(index_.get(), temp.c_str()); });
      std::filesystem::rename(temp, file);
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw;
    }
  }

  int dimension() const { return int(index_->d); }
  int64_t size() const { return int64_t(index_->ntotal); }
  bool is_trained() const { return index_->is_trained; }

  // Fewest training vectors the quantizers need: IVF needs one per list, PQ one per centroid
  // (FAISS warns below ~39 per centroid: fewer train, but cluster poorly).
  int64_t minimum_training_size() const {
    int64_t needed = 1;
    const faiss::Index* inner = innermost();
    if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(inner)) needed = std::max<int64_t>(needed, ivf->nlist);
    if (auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(inner))
      needed = std::max<int64_t>(needed, int64_t(ivfpq->pq.ksub));
    if (auto* pq = dynamic_cast<const faiss::IndexPQ*>(inner)) needed = std::max<int64_t>(needed, int64_t(pq->pq.ksub));
    return needed;
  }

  void train(const Matrix& vectors) {
    check_dimension(vectors, "training vectors");
    train_normalized(normalized_rows(vectors), "this index");
  }

  // Adds vectors under `ids` (unique, not yet in the index). The index must be trained.
  void add(const Matrix& vectors, const std::vector<int64_t>& ids) {
    check_dimension(vectors, "vectors to add");
    add_normalized(normalized_rows(vectors), ids);
  }

  // The k most similar vectors for each query row, best first; fewer than k when the index holds
  // fewer (or, for IVF, when the probed lists do). Queries go to FAISS in batches of `batch_size`
  // so that the result buffers stay small; FAISS parallelises within a batch.
  std::vector<Hits> search(const Matrix& queries, int k, int batch_size = 4096) const {
    check_dimension(queries, "queries");
    require(k > 0, "k must be positive, got " + std::to_string(k));
    require(batch_size > 0, "batch size must be positive");
    const Matrix unit = normalized_rows(queries);
    std::vector<Hits> results;
    results.reserve(size_t(unit.rows()));
    std::vector<float> scores;
    std::vector<faiss::Index::idx_t> labels;
    for (int64_t first = 0; first < unit.rows(); first += batch_size) {
      const int64_t n = std::min<int64_t>(batch_size, unit.rows() - first);
      scores.assign(size_t(n * k), 0.0f);
      labels.assign(size_t(n * k), -1);
      faiss_call("search", [&] { index_->search(n, unit.row(first).data(), k, scores.data(), labels.data()); });
      for (int64_t q = 0; q < n; ++q) {
        Hits hits;
        for (int j = 0; j < k; ++j) {
          const size_t at = size_t(q * k + j);
          if (labels[at] >= 0) hits.push_back({int64_t(labels[at]), scores[at]});   // -1: no more results
        }
        results.push_back(std::move(hits));
      }
    }
    return results;
  }

  // FAISS's own parameter syntax, e.g. "efSearch=128" (HNSW) or "nprobe=16" (IVF).
  void set_search_parameters(const std::string& parameters) {
    faiss_call("search parameters \"" + parameters + "\"",
               [&] { faiss::ParameterSpace().set_index_parameters(index_.get(), parameters.c_str()); });
  }

  const faiss::Index& faiss_index() const { return *index_; }

 private:
  explicit VectorIndex(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}

  // FAISS reports misuse by exceptions with its source location; ours name the input instead.
  template <class F>
  static void faiss_call(const std::string& context, F&& call) {
    try {
      call();
    } catch (const faiss::FaissException& e) {
      fail(context + ": FAISS: " + e.msg);
    }
  }

  const faiss::Index* innermost() const {
    if (auto* map = dynamic_cast<const faiss::IndexIDMap*>(index_.get())) return map->index;   // also IDMap2
    return index_.get();
  }

  void check_dimension(const Matrix& vectors, const std::string& what) const {
    if (vectors.cols() != dimension())
      fail(what + " have dimension " + std::to_string(vectors.cols()) + " but the index holds " +
           std::to_string(dimension()) + "-d vectors (built with another model?)");
  }

  void train_normalized(const Matrix& unit, const std::string& factory) {
    const int64_t needed = minimum_training_size();
    if (unit.rows() < needed)
      fail("index \"" + factory + "\" needs at least " + std::to_string(needed) + " training vectors, got " +
           std::to_string(unit.rows()) + " (use fewer IVF lists / PQ bits, or \"Flat\" / \"HNSW32,Flat\")");
    faiss_call("training", [&] { index_->train(unit.rows(), unit.data()); });
  }

  void add_normalized(const Matrix& unit, const std::vector<int64_t>& ids) {
    require(int64_t(ids.size()) == unit.rows(), std::to_string(ids.size()) + " ids given for " +
                                                    std::to_string(unit.rows()) + " vectors");
    require(is_trained(), "the index must be trained before vectors are added");
    check_new_ids(ids);
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
    faiss_call("add", [&] {
      index_->add_with_ids(unit.rows(), unit.data(), reinterpret_cast<const faiss::Index::idx_t*>(ids.data()));
    });
  }

  // IndexIDMap2 would silently shadow a repeated id; refuse it instead.
  void check_new_ids(const std::vector<int64_t>& ids) const {
    std::unordered_set<int64_t> seen;
    const auto* map2 = dynamic_cast<const faiss::IndexIDMap2*>(index_.get());
    for (int64_t id : ids) {
      require(id >= 0, "ids must be non-negative, got " + std::to_string(id));
      if (!seen.insert(id).second || (map2 && map2->rev_map.count(faiss::Index::idx_t(id))))
        fail("id " + std::to_string(id) + " is already in the index");
    }
  }

  std::unique_ptr<faiss::Index> index_;
};

}  // namespace bg2vec::index
