#pragma once
// An index folder: the vectors (index.faiss), the passages they stand for (passages.jsonl) and what
// made them (meta.json: dimension, factory, encoder). Searching returns passages, not bare ids, and
// refuses queries from an encoder of another dimension with a message naming the one that built it.
//
//   DIR/index.faiss     faiss::write_index of an IndexIDMap2 (inner product); faiss.read_index reads it
//   DIR/passages.jsonl  {"_id","title","text"} per line; line i is FAISS id i
//   DIR/meta.json       {"format":"bg2vec-index","version":1,"dimension","factory","metric":"inner_product",
//                        "normalized":true,"passages","encoder":{"model","attention","pooling","description"}}
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/index/passage_store.hpp>
#include <bg2vec/index/vector_index.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bg2vec::index {

// The encoder whose embeddings an index holds; `model` empty when the vectors came from elsewhere.
struct EncoderInfo {
  std::string model;         // model folder
  std::string attention;     // "causal" | "bidirectional"
  std::string pooling;       // "mean" | "weighted-mean" | "last" | "bos"
  std::string description;
};

struct PassageHit {
  const Passage* passage;
  int64_t id;      // FAISS id (position in the store)
  float score;     // cosine similarity
};

class PassageIndex {
 public:
  // Embeds nothing itself: `vectors` row i is the embedding of passage i of `store`.
  static PassageIndex build(const std::string& factory, const Matrix& vectors, PassageStore store,
                            EncoderInfo encoder) {
    require(vectors.rows() == store.size(), std::to_string(vectors.rows()) + " vectors given for " +
                                                std::to_string(store.size()) + " passages");
    return PassageIndex(VectorIndex::build(factory, vectors), std::move(store), factory, std::move(encoder));
  }

  static PassageIndex load(const std::filesystem::path& dir) {
    if (!std::filesystem::is_directory(dir)) fail(dir, "no such index folder");
    const auto meta_file = dir / "meta.json";
    if (!std::filesystem::exists(meta_file)) fail(meta_file, "missing: not a bg2vec index folder");
    nlohmann::json meta;
    try {
      std::ifstream in(meta_file);
      meta = nlohmann::json::parse(in);
      if (meta.value("format", "") != "bg2vec-index") fail(meta_file, "not a bg2vec index meta file");
      EncoderInfo encoder;
      const auto& e = meta.at("encoder");
      encoder = {e.value("model", ""), e.value("attention", ""), e.value("pooling", ""), e.value("description", "")};
      PassageIndex loaded(VectorIndex::load(dir / "index.faiss"), PassageStore::load(dir / "passages.jsonl"),
                          meta.at("factory").get<std::string>(), std::move(encoder));
      // The three files are written one after another: make sure they belong together.
      if (meta.at("dimension").get<int>() != loaded.dimension() ||
          meta.at("passages").get<int64_t>() != loaded.vectors_.size() ||
          loaded.store_.size() != loaded.vectors_.size())
        fail(dir, "index.faiss, passages.jsonl and meta.json disagree (" + std::to_string(loaded.vectors_.size()) +
                      " vectors, " + std::to_string(loaded.store_.size()) + " passages); rebuild the index");
      return loaded;
    } catch (const nlohmann::json::exception& e) {
      fail(meta_file, std::string("bad meta file: ") + e.what());
    }
  }

  // Writes the three files, each atomically; meta.json last, so that a folder with a current meta
  // has the index and store it describes (load checks that they agree).
  void save(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    vectors_.save(dir / "index.faiss");
    store_.save(dir / "passages.jsonl");
    const nlohmann::json meta = {
        {"format", "bg2vec-index"}, {"version", 1}, {"dimension", dimension()}, {"factory", factory_},
        {"metric", "inner_product"}, {"normalized", true}, {"passages", store_.size()},
        {"encoder", {{"model", encoder_.model}, {"attention", encoder_.attention}, {"pooling", encoder_.pooling},
                     {"description", encoder_.description}}}};
    write_file_atomically(dir / "meta.json", meta.dump(2) + "\n");
  }

  // Appends passages with their embeddings (row i for passages[i]).
  void add(const Matrix& vectors, std::vector<Passage> passages) {
    require(vectors.rows() == int64_t(passages.size()), std::to_string(vectors.rows()) + " vectors given for " +
                                                            std::to_string(passages.size()) + " passages");
    check_query_dimension(int(vectors.cols()));
    vectors_.add(vectors, sequential_ids(store_.size(), vectors.rows()));
    for (Passage& p : passages) store_.add(std::move(p));
  }

  std::vector<std::vector<PassageHit>> search(const Matrix& queries, int k) const {
    check_query_dimension(int(queries.cols()));
    std::vector<std::vector<PassageHit>> results;
    for (const Hits& hits : vectors_.search(queries, k)) {
      std::vector<PassageHit> passages;
      for (const Hit& h : hits) passages.push_back({&store_.at(h.id), h.id, h.score});
      results.push_back(std::move(passages));
    }
    return results;
  }

  // A clear error for embeddings of the wrong size, naming the encoder the index was built with.
  void check_query_dimension(int dimension) const {
    if (dimension != this->dimension())
      fail("the index holds " + std::to_string(this->dimension()) + "-d vectors from " + encoder_name() +
           " but the query encoder gives " + std::to_string(dimension) + "-d vectors: use the same model");
  }

  void set_search_parameters(const std::string& parameters) { vectors_.set_search_parameters(parameters); }

  int dimension() const { return vectors_.dimension(); }
  int64_t size() const { return store_.size(); }
  const std::string& factory() const { return factory_; }
  const EncoderInfo& encoder() const { return encoder_; }
  const PassageStore& store() const { return store_; }
  const VectorIndex& vectors() const { return vectors_; }

 private:
  PassageIndex(VectorIndex vectors, PassageStore store, std::string factory, EncoderInfo encoder)
      : vectors_(std::move(vectors)), store_(std::move(store)), factory_(std::move(factory)),
        encoder_(std::move(encoder)) {}

  std::string encoder_name() const {
    if (!encoder_.description.empty()) return encoder_.description;
    return encoder_.model.empty() ? std::string("an unknown encoder") : "model " + encoder_.model;
  }

  VectorIndex vectors_;
  PassageStore store_;
  std::string factory_;
  EncoderInfo encoder_;
};

}  // namespace bg2vec::index
