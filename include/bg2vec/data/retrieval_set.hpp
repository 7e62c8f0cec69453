#pragma once
// A retrieval evaluation set in BEIR format, built from articles (see docs/data.md):
//   articles  the `max_articles` articles with the smallest stable hash of their id: a deterministic
//             sample that depends neither on the order of the input nor on the machine
//   corpus    every selected article cut into passages of about 100-200 words, on sentence and
//             paragraph boundaries; _id "<article id>-<k>", title = the article's title
//   queries   for each selected article: its first sentence (when long enough); that sentence is
//             taken out of the article, whose first passage (what followed it) is the one relevant
//             passage: the "inverse cloze task" of Lee et al. 2019, find the context a sentence was
//             taken from
//   qrels     query-id, corpus-id, 1
//   article_ids.txt  the ids of every selected article, for `data tokenize --exclude`
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/data/split.hpp>
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/sentences.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <queue>

namespace bg2vec::data {

struct RetrievalSetOptions {
  size_t max_articles = 5000;       // articles in the set (corpus and queries); 0 = all
  size_t min_words = 100, max_words = 200;
  size_t min_query_words = 5;       // a shorter lead sentence makes no query
  size_t min_context_words = 20;    // nor does a first passage left shorter than this without it
};

struct RetrievalSetStats {
  uint64_t articles = 0, passages = 0, queries = 0;
};

inline size_t word_count(std::string_view s) {
  size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    words += !space && !in_word;
    in_word = !space;
  }
  return words;
}

// Passages of about min..max words: sentences are gathered until a paragraph ends with at least
// `min_words`, or until the next sentence would pass `max_words`. Headings (short lines without a
// final full stop) are left out. A short remainder joins the passage before it.
inline std::vector<std::string> make_passages(std::string_view text, size_t min_words, size_t max_words) {
  std::vector<std::string> passages;
  std::string current;
  size_t current_words = 0;
  auto flush = [&] {
    if (current.empty()) return;
    if (current_words < min_words / 4 && !passages.empty()) passages.back() += " " + current;
    else passages.push_back(current);
    current.clear();
    current_words = 0;
  };
  for (std::string_view paragraph : text::paragraphs(text)) {
    const auto sentences = text::split_sentences(paragraph);
    const bool heading = sentences.size() == 1 && word_count(paragraph) < 8 && !paragraph.ends_with(".");
    if (heading) continue;
    for (std::string_view sentence : sentences) {
      const size_t words = word_count(sentence);
      if (current_words > 0 && current_words + words > max_words) flush();
      if (!current.empty()) current += ' ';
      current += sentence;
      current_words += words;
    }
    if (current_words >= min_words) flush();
  }
  flush();
  return passages;
}

namespace retrieval_detail {

struct Ranked {
  uint64_t hash;
  text::Article article;
  bool operator<(const Ranked& other) const {
    return hash != other.hash ? hash < other.hash : article.id < other.article.id;
  }
};

// The `limit` articles with the smallest id hash (all if limit is 0), in hash order; bounded memory.
inline std::vector<Ranked> select_articles(const std::filesystem::path& articles, size_t limit) {
  std::priority_queue<Ranked> kept;   // max-heap: the largest hash kept is on top
  text::ArticleReader reader(articles);
  text::Article article;
  while (reader.next(article)) {
    Ranked r{stable_hash(article.id), std::move(article)};
    if (limit == 0 || kept.size() < limit) kept.push(std::move(r));
    else if (r < kept.top()) { kept.pop(); kept.push(std::move(r)); }
  }
  std::vector<Ranked> sorted;
  sorted.reserve(kept.size());
  while (!kept.empty()) { sorted.push_back(kept.top()); kept.pop(); }
  std::reverse(sorted.begin(), sorted.end());
  return sorted;
}

}  // namespace retrieval_detail

inline RetrievalSetStats make_retrieval_set(const std::filesystem::path& articles, const std::filesystem::path& out_dir,
                                            const RetrievalSetOptions& options = {}) {
  if (options.min_words == 0 || options.min_words > options.max_words) fail("passage length: need 0 < min words <= max words");
  const auto selected = retrieval_detail::select_articles(articles, options.max_articles);
  if (selected.empty()) fail(articles, "no articles to build a retrieval set from");

  AtomicFile corpus(out_dir / "corpus.jsonl"), queries(out_dir / "queries.jsonl"), qrels(out_dir / "qrels/test.tsv"),
      ids(out_dir / "article_ids.txt");
  qrels.stream() << "query-id\tcorpus-id\tscore\n";
  RetrievalSetStats stats;
  for (const auto& [hash, article] : selected) {
    ++stats.articles;
    ids.stream() << article.id << '\n';
    const auto paragraphs = text::paragraphs(article.text);
    const auto lead_sentences = text::split_sentences(paragraphs.empty() ? std::string_view{} : paragraphs.front());
    std::string_view query;
    std::string_view after_query;
    if (!lead_sentences.empty() && word_count(lead_sentences[0]) >= options.min_query_words) {
      query = lead_sentences[0];
      after_query = std::string_view(article.text).substr(size_t(query.data() + query.size() - article.text.data()));
    }
    const auto passages = make_passages(query.empty() ? std::string_view(article.text) : after_query,
                                        options.min_words, options.max_words);
    for (size_t k = 0; k < passages.size(); ++k) {
      const nlohmann::ordered_json p = {{"_id", article.id + "-" + std::to_string(k)}, {"title", article.title},
                                        {"text", passages[k]}};
      corpus.stream() << p.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      ++stats.passages;
    }
    if (query.empty() || passages.empty() || word_count(passages[0]) < options.min_context_words) continue;
    const nlohmann::ordered_json q = {{"_id", "q" + article.id}, {"text", query}};
    queries.stream() << q.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    qrels.stream() << "q" << article.id << '\t' << article.id << "-0\t1\n";
    ++stats.queries;
  }
  if (stats.queries == 0) fail(articles, "no article has a lead long enough to make a query");
  corpus.commit();
  queries.commit();
  qrels.commit();
  ids.commit();
  return stats;
}

}  // namespace bg2vec::data
