#pragma once
// Okapi BM25, the lexical baseline. For a query q and a document d:
//   score(q, d) = sum over query terms t (repeats count again, as in Lucene) of
//                 idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
//   idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))       (Lucene's, never negative)
// with k1 = 1.2, b = 0.75, N documents, |d| the document's term count and avgdl the mean |d|.
// The (k1 + 1) factor is classic Okapi (Lucene >= 8 drops it: same ranking); document lengths are
// exact (Lucene rounds them to one byte), so scores match a hand computation, not Lucene's bit for bit.
// Terms come from an Analyzer: lower-cased words by default, or e.g. the model's tokenizer pieces.
#include <bg2vec/core/error.hpp>
#include <bg2vec/eval/words.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bg2vec::eval {

using Analyzer = std::function<std::vector<std::string>(const std::string&)>;

struct Bm25Params {
  double k1 = 1.2;
  double b = 0.75;
};

struct Bm25Hit {
  int64_t doc;     // position of the document in the indexed list
  double score;
};

class Bm25 {
 public:
  explicit Bm25(const std::vector<std::string>& documents, Analyzer analyzer = lowercase_words, Bm25Params params = {})
      : analyzer_(std::move(analyzer)), params_(params) {
    require(!documents.empty(), "BM25 needs at least one document");
    double total_length = 0;
    for (size_t doc = 0; doc < documents.size(); ++doc) {
      std::unordered_map<std::string, int> counts;
      for (std::string& term : analyzer_(documents[doc])) ++counts[std::move(term)];
      int length = 0;
      for (auto& [term, tf] : counts) {
        auto [it, added] = term_ids_.try_emplace(term, int(postings_.size()));
        if (added) postings_.emplace_back();
        postings_[size_t(it->second)].push_back({int64_t(doc), tf});
        length += tf;
      }
      lengths_.push_back(length);
      total_length += length;
    }
    const double average_length = total_length / double(documents.size());
    for (int length : lengths_)
      length_norms_.push_back(params_.k1 * (1 - params_.b + params_.b * length / average_length));
  }

  int64_t size() const { return int64_t(lengths_.size()); }

  double idf(const std::string& term) const {
    auto it = term_ids_.find(term);
    const double df = it == term_ids_.end() ? 0 : double(postings_[size_t(it->second)].size());
    return std::log(1 + (double(size()) - df + 0.5) / (df + 0.5));
  }

  // The score of every document that shares a term with the query (others score 0 and are not listed).
  // Scores accumulate in a dense array over the collection: one cache-friendly add per posting.
  std::vector<Bm25Hit> score_all(const std::string& query) const {
    std::vector<double> scores(lengths_.size(), 0.0);
    std::vector<int64_t> touched;
    for (const std::string& term : analyzer_(query)) {
      auto it = term_ids_.find(term);
      if (it == term_ids_.end()) continue;
      const double weight = idf(term);
      for (const Posting& p : postings_[size_t(it->second)]) {
        double& score = scores[size_t(p.doc)];
        if (score == 0) touched.push_back(p.doc);
        score += weight * p.tf * (params_.k1 + 1) / (p.tf + length_norms_[size_t(p.doc)]);
      }
    }
    std::vector<Bm25Hit> hits;
    hits.reserve(touched.size());
    for (int64_t doc : touched) hits.push_back({doc, scores[size_t(doc)]});
    return hits;
  }

  double score(const std::string& query, int64_t doc) const {
    for (const Bm25Hit& h : score_all(query))
      if (h.doc == doc) return h.score;
    return 0;
  }

  // The k best documents, best first (equal scores: lower position first). Empty when no query
  // term occurs in the collection.
  std::vector<Bm25Hit> search(const std::string& query, int k) const {
    require(k > 0, "k must be positive, got " + std::to_string(k));
    std::vector<Bm25Hit> hits = score_all(query);
    const auto better = [](const Bm25Hit& a, const Bm25Hit& b) {
      return a.score != b.score ? a.score > b.score : a.doc < b.doc;
    };
    const size_t keep = std::min(hits.size(), size_t(k));
    std::partial_sort(hits.begin(), hits.begin() + long(keep), hits.end(), better);
    hits.resize(keep);
    return hits;
  }

 private:
  struct Posting {
    int64_t doc;
    int tf;
  };

  Analyzer analyzer_;
  Bm25Params params_;
  std::unordered_map<std::string, int> term_ids_;
  std::vector<std::vector<Posting>> postings_;   // term id -> documents containing it
  std::vector<int> lengths_;
  std::vector<double> length_norms_;   // k1 * (1 - b + b * |d| / avgdl) per document
};

}  // namespace bg2vec::eval
