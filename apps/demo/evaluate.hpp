#pragma once
// Scores every stage of the demo on each held-out retrieval set: BM25 and the dense encoders, with
// the per-query metrics kept for the paired bootstrap.
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace bg2vec::demo {

// One row of the evaluation: a stage, or BM25 (empty model).
struct StageSpec {
  std::string name;
  std::filesystem::path model;         // empty for BM25
  EncoderSettings settings;
  std::string description;
};

struct StageScores {
  eval::Evaluation evaluation;         // mean and per query
  double seconds = 0;
};

inline StageScores score_stage(const StageSpec& stage, const eval::BeirDataset& data, int batch_size) {
  const auto start = std::chrono::steady_clock::now();
  StageScores out;
  if (stage.model.empty()) {
    out.evaluation = eval::evaluate(eval::bm25_run(data), data.qrels);
  } else {
    const auto encoder = TextEncoder::load(stage.model, stage.settings);
    const Matrix corpus = encoder.encode(eval::passage_texts(data.corpus), batch_size);
    const Matrix queries = encoder.encode(eval::query_texts(data.queries), batch_size);
    out.evaluation = eval::evaluate(eval::dense_run(data, corpus, queries, "Flat").run, data.qrels);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

// Per-query nDCG@10 in the order of data.queries (0 for a query the run missed).
inline std::vector<double> per_query_ndcg(const eval::Evaluation& e, const eval::BeirDataset& data) {
  std::vector<double> out;
  for (const auto& q : data.queries) {
    auto it = e.per_query.find(q.id);
    out.push_back(it == e.per_query.end() ? 0.0 : it->second.ndcg_10);
  }
  return out;
}

}  // namespace bg2vec::demo
