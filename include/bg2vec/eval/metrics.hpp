#pragma once
// Retrieval metrics as trec_eval (and pytrec_eval, which BEIR uses) define them:
//   ranking      a query's documents sorted by score descending, ties by document id descending
//                (trec_eval's order: it ignores the rank column and re-sorts the same way)
//   relevant     a document judged with grade >= 1 (unjudged documents are not relevant)
//   recall@k     relevant documents in the top k / relevant documents in the qrels ("recall_k")
//   mrr@10       1 / rank of the first relevant document within the top 10, else 0 ("recip_rank" cut at 10)
//   ndcg@10      DCG@10 / ideal DCG@10 with gain = grade and discount log2(rank + 1); the ideal DCG sorts
//                the query's judged grades (not the retrieved ones) descending ("ndcg_cut_10")
// Averages are over the queries of the qrels, so a query the system returns nothing for scores 0
// (trec_eval -c; without it a system could skip hard queries). A query whose judgments are all
// non-relevant is kept and scores 0, as in trec_eval. Run queries without judgments are ignored.
#include <bg2vec/core/error.hpp>
#include <bg2vec/eval/beir.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bg2vec::eval {

struct ScoredDoc {
  std::string id;
  double score;
};

using Ranking = std::vector<ScoredDoc>;
using Run = std::map<std::string, Ranking>;   // query id -> retrieved documents (any order)

struct Metrics {
  double recall_1 = 0, recall_10 = 0, recall_100 = 0, mrr_10 = 0, ndcg_10 = 0;

  // The report's names (also the JSON keys) with their values, in report order.
  std::vector<std::pair<std::string, double>> named() const {
    return {{"recall@1", recall_1}, {"recall@10", recall_10}, {"recall@100", recall_100},
            {"mrr@10", mrr_10}, {"ndcg@10", ndcg_10}};
  }
};

struct Evaluation {
  Metrics mean;
  std::map<std::string, Metrics> per_query;
};

// trec_eval's order: score descending, then document id descending.
inline void sort_trec(Ranking& ranking) {
  std::sort(ranking.begin(), ranking.end(), [](const ScoredDoc& a, const ScoredDoc& b) {
    return a.score != b.score ? a.score > b.score : a.id > b.id;
  });
}

inline Metrics evaluate_query(Ranking ranking, const std::map<std::string, int>& judged) {
  sort_trec(ranking);
  std::set<std::string> seen;
  for (const ScoredDoc& d : ranking)
    if (!seen.insert(d.id).second) fail("document \"" + d.id + "\" is retrieved twice for one query");

  const auto grade = [&](const std::string& doc) {
    auto it = judged.find(doc);
    return it == judged.end() ? 0 : it->second;
  };
  std::vector<int> ideal;
  for (const auto& [doc, g] : judged)
    if (g > 0) ideal.push_back(g);
  std::sort(ideal.rbegin(), ideal.rend());
  const double relevant = double(ideal.size());

  const auto relevant_in_top = [&](size_t k) {
    double n = 0;
    for (size_t i = 0; i < ranking.size() && i < k; ++i) n += grade(ranking[i].id) > 0;
    return n;
  };
  Metrics m;
  if (relevant > 0) {
    m.recall_1 = relevant_in_top(1) / relevant;
    m.recall_10 = relevant_in_top(10) / relevant;
    m.recall_100 = relevant_in_top(100) / relevant;
  }
  double dcg = 0, ideal_dcg = 0;
  for (size_t i = 0; i < ranking.size() && i < 10; ++i) {
    const int g = grade(ranking[i].id);
    if (g <= 0) continue;
    dcg += g / std::log2(double(i) + 2);
    if (m.mrr_10 == 0) m.mrr_10 = 1.0 / double(i + 1);
  }
  for (size_t i = 0; i < ideal.size() && i < 10; ++i) ideal_dcg += ideal[i] / std::log2(double(i) + 2);
  m.ndcg_10 = ideal_dcg > 0 ? dcg / ideal_dcg : 0;
  return m;
}

inline Evaluation evaluate(const Run& run, const Qrels& qrels) {
  require(!qrels.empty(), "no judged queries to evaluate");
  Evaluation e;
  for (const auto& [query, judged] : qrels) {
    auto it = run.find(query);
    const Metrics m = evaluate_query(it == run.end() ? Ranking{} : it->second, judged);
    e.per_query[query] = m;
    e.mean.recall_1 += m.recall_1;
    e.mean.recall_10 += m.recall_10;
    e.mean.recall_100 += m.recall_100;
    e.mean.mrr_10 += m.mrr_10;
    e.mean.ndcg_10 += m.ndcg_10;
  }
  const double n = double(qrels.size());
  for (double* v : {&e.mean.recall_1, &e.mean.recall_10, &e.mean.recall_100, &e.mean.mrr_10, &e.mean.ndcg_10})
    *v /= n;
  return e;
}

}  // namespace bg2vec::eval
