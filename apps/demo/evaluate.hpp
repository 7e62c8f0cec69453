#pragma once
// Scores the demo's stages on every held-out set: BM25 and the dense encoders, with the per-query
// metrics kept for the paired bootstrap, and linear-probe accuracy on the classification sets.
// Every distinct text of every set is encoded once per model folder and attention, with all the
// poolings its stages ask for from that one forward pass (the raw model's three causal rows cost one).
#include "corpus.hpp"

#include <bg2vec/eval/classification.hpp>
#include <bg2vec/eval/labels.hpp>
#include <bg2vec/eval/linear_probe.hpp>
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <chrono>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace bg2vec::demo {

// One row of the evaluation: a stage, or BM25 (empty model).
struct StageSpec {
  std::string name;
  std::filesystem::path model;         // empty for BM25
  EncoderSettings settings;
  std::string description;
};

// A user's classification set: DIR/train.tsv and DIR/test.tsv, label<TAB>text (as `eval classify`).
struct ClassifySet {
  std::string name;
  eval::LabelledTexts train, test;
};

struct StageScores {
  std::map<std::string, eval::Evaluation> retrieval;   // per set name
  std::map<std::string, double> accuracy;              // linear probe, per classification set name
};

struct EncodeStats {
  double seconds = 0;
  size_t texts = 0, tokens = 0;
};

// The held-out data, with every distinct text numbered once.
class EvalData {
 public:
  EvalData(const std::vector<EvalSet>& sets, std::vector<ClassifySet> classify) : sets_(sets), classify_(std::move(classify)) {
    for (const auto& set : sets_) {
      data_.push_back(eval::load_beir(set.dir));
      corpus_rows_.push_back(rows_of(eval::passage_texts(data_.back().corpus)));
      query_rows_.push_back(rows_of(eval::query_texts(data_.back().queries)));
    }
    for (const auto& c : classify_) { train_rows_.push_back(rows_of(c.train.texts)); test_rows_.push_back(rows_of(c.test.texts)); }
  }

  const std::vector<EvalSet>& sets() const { return sets_; }
  const eval::BeirDataset& data(size_t set) const { return data_[set]; }
  const std::vector<ClassifySet>& classify() const { return classify_; }

  StageScores bm25() const {
    StageScores out;
    for (size_t s = 0; s < sets_.size(); ++s) out.retrieval[sets_[s].name] = eval::evaluate(eval::bm25_run(data_[s]), data_[s].qrels);
    return out;
  }

  // The stages that share one model folder and attention, from one encoding of every text.
  std::vector<StageScores> score(const std::vector<StageSpec>& stages, int batch_size, backend::Compute compute,
                                 EncodeStats* stats = nullptr) const {
    std::vector<std::string> poolings;
    for (const auto& s : stages) {
      require(s.model == stages[0].model && s.settings.attention == stages[0].settings.attention &&
                  s.settings.skip_bos == stages[0].settings.skip_bos && s.settings.max_length == stages[0].settings.max_length,
              "stages scored together must share model, attention and truncation");
      poolings.push_back(s.settings.pooling);
    }
    const auto start = std::chrono::steady_clock::now();
    const TextEncoder encoder = TextEncoder::load(stages[0].model, stages[0].settings, compute);
    const std::vector<Matrix> vectors = encoder.encode_poolings(texts_, poolings, batch_size, /*progress=*/true);
    if (stats) {
      stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      stats->texts = texts_.size();
      stats->tokens = 0;
      for (const auto& t : texts_) stats->tokens += std::min(encoder.tokenizer().encode(t, true).size(), size_t(stages[0].settings.max_length));
    }
    std::vector<StageScores> out(stages.size());
    for (size_t p = 0; p < stages.size(); ++p) {
      for (size_t s = 0; s < sets_.size(); ++s) {
        const auto run = eval::dense_run(data_[s], gather(vectors[p], corpus_rows_[s]), gather(vectors[p], query_rows_[s]), "Flat");
        out[p].retrieval[sets_[s].name] = eval::evaluate(run.run, data_[s].qrels);
      }
      for (size_t c = 0; c < classify_.size(); ++c) out[p].accuracy[classify_[c].name] = probe_accuracy(c, vectors[p]);
    }
    return out;
  }

 private:
  std::vector<size_t> rows_of(const std::vector<std::string>& texts) {
    std::vector<size_t> rows;
    for (const auto& t : texts) {
      auto [it, added] = index_.try_emplace(t, texts_.size());
      if (added) texts_.push_back(t);
      rows.push_back(it->second);
    }
    return rows;
  }

  static Matrix gather(const Matrix& all, const std::vector<size_t>& rows) {
    Matrix m(Eigen::Index(rows.size()), all.cols());
    for (size_t i = 0; i < rows.size(); ++i) m.row(Eigen::Index(i)) = all.row(Eigen::Index(rows[i]));
    return m;
  }

  double probe_accuracy(size_t c, const Matrix& vectors) const {
    eval::LabelSet labels;
    std::vector<int> train, test;
    for (const auto& l : classify_[c].train.labels) train.push_back(labels.add(l));
    const int classes = labels.size();
    for (const auto& l : classify_[c].test.labels) test.push_back(labels.add(l));   // unseen labels: always wrong
    const eval::LinearProbe probe(gather(vectors, train_rows_[c]), train, classes);
    return eval::classification_scores(test, probe.predict(gather(vectors, test_rows_[c]))).accuracy;
  }

  std::vector<EvalSet> sets_;
  std::vector<eval::BeirDataset> data_;
  std::vector<ClassifySet> classify_;
  std::vector<std::string> texts_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::vector<size_t>> corpus_rows_, query_rows_, train_rows_, test_rows_;
};

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
