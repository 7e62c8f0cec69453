#pragma once
// How close an approximate index comes to exact search: the fraction of the exact top-k ids that the
// approximate top-k also returns, averaged over queries (FAISS's "k-recall@k" / "intersection measure").
#include <bg2vec/core/error.hpp>
#include <bg2vec/index/vector_index.hpp>

#include <set>
#include <vector>

namespace bg2vec::index {

inline double recall_against_exact(const std::vector<Hits>& approximate, const std::vector<Hits>& exact) {
  require(approximate.size() == exact.size(), "recall: approximate and exact results differ in query count");
  double found = 0, total = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    std::set<int64_t> truth;
    for (const Hit& h : exact[q]) truth.insert(h.id);
    for (const Hit& h : approximate[q]) found += double(truth.count(h.id));
    total += double(truth.size());
  }
  return total > 0 ? found / total : 1.0;
}

}  // namespace bg2vec::index
