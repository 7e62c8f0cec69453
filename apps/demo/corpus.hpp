#pragma once
// The demo's data, from what the repository ships (data/README.md): the WikiANN sentences of the
// Bulgarian Wikipedia (CC BY-SA) and a real bgwiki dump excerpt. The sentences are split by a stable
// hash into training text and held-out text; the held-out text becomes two retrieval sets of different
// kinds that no stage ever trains on (nor does the tokenizer):
//   wiki-fragments      query = a contiguous half of a sentence's words; relevant = the whole sentence
//                       (lexical overlap: BM25's home ground, and what SimCSE's views teach)
//   wiki-continuations  query = the first half of a sentence; relevant = its second half (no shared
//                       words to lean on: the inverse cloze task at sentence level)
// A third slice of held-out sentences makes `dev-fragments`, built like wiki-fragments: the demo's
// settings are chosen on it, so the two test sets stay untouched by tuning.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/data/split.hpp>
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/bz2_stream.hpp>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace bg2vec::demo {

struct CorpusOptions {
  double held_out_fraction = 0.12;     // of the sentences, kept out of every stage: the test sets
  double dev_fraction = 0.04;          // of the sentences, kept out of every stage: the dev set
  size_t max_queries = 500;            // per retrieval set
  size_t max_documents = 0;            // per retrieval set (0: every held-out sentence it is given)
  size_t min_query_sentence_words = 8; // a shorter sentence makes no query
};

struct EvalSet {
  std::string name, description;
  std::filesystem::path dir;           // BEIR layout
  size_t queries = 0, documents = 0;
};

struct DemoCorpus {
  std::filesystem::path train_text;    // articles.jsonl: one training "article" per sentence
  size_t train_sentences = 0, held_out_sentences = 0, dropped_lines = 0;
  std::vector<EvalSet> eval_sets;      // the test sets, the primary one first
  EvalSet dev_set;                     // for choosing settings
};

namespace corpus_detail {

inline std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

inline std::string join(const std::vector<std::string>& w, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) out += (i > begin ? " " : "") + w[i];
  return out;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Every line of a text file, plain or bz2.
inline std::vector<std::string> read_lines(const std::filesystem::path& file) {
  text::DumpSource source(file);
  std::vector<std::string> lines;
  std::string pending;
  std::vector<char> buffer(1 << 16);
  for (size_t n; (n = source.read(buffer.data(), buffer.size())) > 0;) {
    pending.append(buffer.data(), n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) lines.push_back(pending.substr(start, nl - start));
    pending.erase(0, start);
  }
  if (!pending.empty()) lines.push_back(pending);
  return lines;
}

// WikiANN keeps some wiki debris as "sentences": redirect targets and see-also lines.
inline bool is_debris(const std::string& line, size_t word_count) {
  return word_count < 3 || line.rfind("пренасочване", 0) == 0 || line.rfind("виж ", 0) == 0;
}

struct BeirWriter {
  AtomicFile corpus, queries, qrels;
  explicit BeirWriter(const std::filesystem::path& dir)
      : corpus(dir / "corpus.jsonl"), queries(dir / "queries.jsonl"), qrels(dir / "qrels" / "test.tsv") {
    qrels.stream() << "query-id\tcorpus-id\tscore\n";
  }
  void document(const std::string& id, const std::string& text) {
    corpus.stream() << nlohmann::json{{"_id", id}, {"title", ""}, {"text", text}}.dump() << "\n";
  }
  void query(const std::string& id, const std::string& text, const std::vector<std::string>& relevant) {
    queries.stream() << nlohmann::json{{"_id", id}, {"text", text}}.dump() << "\n";
    for (const auto& r : relevant) qrels.stream() << id << "\t" << r << "\t1\n";
  }
  void query(const std::string& id, const std::string& text, const std::string& relevant) {
    query(id, text, std::vector<std::string>{relevant});
  }
  void commit() { corpus.commit(); queries.commit(); qrels.commit(); }
};

}  // namespace corpus_detail

// Builds the training text and the two retrieval sets under `out` from the shipped sentence file.
// `extra_articles` (articles.jsonl files, e.g. from `bg2vec wiki extract`) join the training text whole.
inline DemoCorpus build_demo_corpus(const std::filesystem::path& sentences_file,
                                    const std::vector<std::filesystem::path>& extra_articles, const std::filesystem::path& out,
                                    const CorpusOptions& options = {}) {
  using namespace corpus_detail;
  const auto lines = read_lines(sentences_file);
  DemoCorpus result;
  result.train_text = out / "train-articles.jsonl";
  AtomicFile train(result.train_text);
  EvalSet fragments{"wiki-fragments", "query: a contiguous half of a held-out Wikipedia sentence; relevant: the sentence",
                    out / "eval" / "wiki-fragments"};
  EvalSet continuations{"wiki-continuations", "query: the first half of a held-out Wikipedia sentence; relevant: its second half",
                        out / "eval" / "wiki-continuations"};
  EvalSet dev{"dev-fragments", "like wiki-fragments, from other held-out sentences: where the settings were chosen",
             out / "eval" / "dev-fragments"};
  BeirWriter fragment_set(fragments.dir), continuation_set(continuations.dir), dev_writer(dev.dir);
  auto full = [&](const EvalSet& set) { return options.max_documents > 0 && set.documents >= options.max_documents; };
  // A fragment-set document; when long enough, a query: a contiguous half of its words at a hashed offset.
  auto add_fragment = [&](EvalSet& set, BeirWriter& writer, const std::string& id, const std::string& line,
                          const std::vector<std::string>& w, uint64_t h) {
    if (full(set)) return;
    writer.document(id, line);
    ++set.documents;
    if (w.size() >= options.min_query_sentence_words && set.queries < options.max_queries) {
      const size_t span = (w.size() + 1) / 2, start = (h >> 8) % (w.size() - span + 1);
      writer.query("q" + id, join(w, start, start + span), id);
      ++set.queries;
    }
  };

  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const auto w = words(line);
    if (is_debris(line, w.size())) { ++result.dropped_lines; continue; }
    const uint64_t h = data::stable_hash(line);
    const double u = double(h >> 11) * 0x1.0p-53;
    const std::string id = "s" + std::to_string(i);
    if (u >= options.held_out_fraction + options.dev_fraction) {
      train.stream() << text::article_json_line({id, "", line});
      ++result.train_sentences;
      continue;
    }
    ++result.held_out_sentences;
    const bool long_enough = w.size() >= options.min_query_sentence_words;
    if (u >= options.held_out_fraction) {
      add_fragment(dev, dev_writer, id, line, w, h);
    } else if (h & 1) {                // every such held-out sentence is a document of the fragment set
      add_fragment(fragments, fragment_set, id, line, w, h);
    } else if (long_enough && !full(continuations)) {   // long ones give a (first half, second half) pair
      const size_t half = w.size() / 2;
      continuation_set.document(id, join(w, half, w.size()));
      ++continuations.documents;
      if (continuations.queries < options.max_queries) {
        continuation_set.query("q" + id, join(w, 0, half), id);
        ++continuations.queries;
      }
    }
  }
  for (const auto& file : extra_articles) {
    text::ArticleReader reader(file);
    for (text::Article a; reader.next(a);) train.stream() << text::article_json_line(a);
  }
  if (result.train_sentences == 0) fail(sentences_file, "no training sentences (empty corpus?)");
  train.commit();
  fragment_set.commit();
  continuation_set.commit();
  dev_writer.commit();
  result.eval_sets = {fragments, continuations};
  result.dev_set = dev;
  return result;
}

}  // namespace bg2vec::demo
