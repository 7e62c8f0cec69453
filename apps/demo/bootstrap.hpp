#pragma once
// Paired bootstrap over queries (Efron & Tibshirani; as used to compare IR systems): resample the
// queries with replacement, average the per-query difference of two systems, repeat, take percentiles.
// With several training seeds per system, the per-query difference is first averaged over the seeds;
// the interval is then over the sampling of queries for that seed-averaged difference.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace bg2vec::demo {

struct Interval {
  double mean = 0, low = 0, high = 0;  // mean difference and its 95% percentile interval
};

// differences[s][q]: system A minus system B on query q, for seed s (same queries for every seed).
inline Interval paired_bootstrap(const std::vector<std::vector<double>>& differences, int resamples = 2000, uint64_t seed = 7) {
  Interval out;
  if (differences.empty() || differences[0].empty()) return out;
  const size_t queries = differences[0].size();
  std::vector<double> per_query(queries, 0.0);
  for (const auto& seed_diffs : differences)
    for (size_t q = 0; q < queries; ++q) per_query[q] += seed_diffs[q] / double(differences.size());
  for (double d : per_query) out.mean += d / double(queries);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, queries - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double sum = 0;
    for (size_t i = 0; i < queries; ++i) sum += per_query[pick(rng)];
    m = sum / double(queries);
  }
  std::sort(means.begin(), means.end());
  out.low = means[size_t(0.025 * double(resamples))];
  out.high = means[size_t(0.975 * double(resamples)) - 1];
  return out;
}

}  // namespace bg2vec::demo
