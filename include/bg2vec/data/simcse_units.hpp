#pragma once
// articles.jsonl -> sentences.txt: the SimCSE training units, one per line, in article order, each
// unit once (duplicates across articles, such as boilerplate sentences, are written the first time).
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/data/split.hpp>
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/sentences.hpp>

#include <limits>
#include <unordered_set>

namespace bg2vec::data {

struct SentenceFileOptions {
  text::SentenceOptions limits;
  size_t max_units = std::numeric_limits<size_t>::max();
  std::unordered_set<std::string> exclude;     // article ids to skip (e.g. the retrieval set's)
  bool progress = true;
};

struct SentenceFileStats {
  uint64_t articles = 0, units = 0, duplicates = 0;
};

inline SentenceFileStats write_simcse_units(const std::filesystem::path& articles, const std::filesystem::path& out_path,
                                            const SentenceFileOptions& options = {}) {
  if (options.limits.min_chars > options.limits.max_chars) fail("--min-chars is larger than --max-chars");
  SentenceFileStats stats;
  AtomicFile out(out_path);
  Progress progress("data sentences", 0, "articles");
  std::unordered_set<uint64_t> seen;          // 8 bytes per unit, not the unit itself
  text::ArticleReader reader(articles);
  text::Article article;
  while (stats.units < options.max_units && reader.next(article)) {
    if (options.exclude.count(article.id)) continue;
    ++stats.articles;
    for (std::string_view unit : text::simcse_units(article.text, options.limits)) {
      if (!seen.insert(stable_hash(unit)).second) { ++stats.duplicates; continue; }
      out.stream() << unit << '\n';
      if (++stats.units == options.max_units) break;
    }
    if (options.progress) progress.update(double(stats.articles), std::to_string(stats.units) + " units");
  }
  out.commit();
  if (options.progress) progress.finish(std::to_string(stats.units) + " units");
  return stats;
}

}  // namespace bg2vec::data
