#pragma once
// Runs over a BEIR dataset: lexical (BM25) and dense (embeddings in a FAISS index). Documents are
// seen as title + " " + text (index::passage_text), as BEIR's own evaluation does. Runs keep the top
// `depth` documents per query (100: enough for recall@100).
#include <bg2vec/core/error.hpp>
#include <bg2vec/eval/beir.hpp>
#include <bg2vec/eval/bm25.hpp>
#include <bg2vec/eval/metrics.hpp>
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/index/recall.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bg2vec::eval {

inline std::vector<std::string> passage_texts(const std::vector<Passage>& corpus) {
  std::vector<std::string> texts;
  texts.reserve(corpus.size());
  for (const Passage& p : corpus) texts.push_back(index::passage_text(p));
  return texts;
}

inline std::vector<std::string> query_texts(const std::vector<Query>& queries) {
  std::vector<std::string> texts;
  texts.reserve(queries.size());
  for (const Query& q : queries) texts.push_back(q.text);
  return texts;
}

inline Run bm25_run(const BeirDataset& data, int depth = 100, Analyzer analyzer = lowercase_words) {
  const Bm25 bm25(passage_texts(data.corpus), std::move(analyzer));
  Run run;
  for (const Query& q : data.queries) {
    Ranking& ranking = run[q.id];
    for (const Bm25Hit& h : bm25.search(q.text, depth)) ranking.push_back({data.corpus[size_t(h.doc)].id, h.score});
  }
  return run;
}

struct DenseRun {
  Run run;
  // recall@10 of the index against exact (Flat) search over the same vectors; absent for "Flat".
  std::optional<double> recall_vs_exact;
};

// `corpus_vectors` row i embeds data.corpus[i], `query_vectors` row i embeds data.queries[i].
inline DenseRun dense_run(const BeirDataset& data, const Matrix& corpus_vectors, const Matrix& query_vectors,
                          const std::string& factory = "Flat", const std::string& search_parameters = "",
                          int depth = 100) {
  require(corpus_vectors.rows() == int64_t(data.corpus.size()) && query_vectors.rows() == int64_t(data.queries.size()),
          "dense run: one embedding per document and per query expected");
  auto index = index::VectorIndex::build(factory, corpus_vectors);
  if (!search_parameters.empty()) index.set_search_parameters(search_parameters);
  DenseRun result;
  const auto hits = index.search(query_vectors, depth);
  for (size_t q = 0; q < hits.size(); ++q) {
    Ranking& ranking = result.run[data.queries[q].id];
    for (const index::Hit& h : hits[q]) ranking.push_back({data.corpus[size_t(h.id)].id, h.score});
  }
  if (factory != "Flat") {
    const auto exact = index::VectorIndex::build("Flat", corpus_vectors).search(query_vectors, 10);
    result.recall_vs_exact = index::recall_against_exact(index.search(query_vectors, 10), exact);
  }
  return result;
}

}  // namespace bg2vec::eval
