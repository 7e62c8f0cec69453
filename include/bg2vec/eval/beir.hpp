#pragma once
// Retrieval data in the BEIR format:
//   DIR/corpus.jsonl      {"_id","title","text"} per line ("title" optional)
//   DIR/queries.jsonl     {"_id","text"} per line
//   DIR/qrels/SPLIT.tsv   query-id <TAB> corpus-id <TAB> score, after a header line
// Errors name the file and line: a missing file, bad JSON, a record without "_id", a duplicate id,
// an empty query, a qrels line that does not have three fields or an integer score.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/jsonl.hpp>
#include <bg2vec/eval/tsv.hpp>
#include <bg2vec/index/passage_store.hpp>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace bg2vec::eval {

using index::Passage;

struct Query {
  std::string id;
  std::string text;
};

// query id -> corpus id -> relevance grade (> 0 relevant; 0 or less judged not relevant)
using Qrels = std::map<std::string, std::map<std::string, int>>;

struct BeirDataset {
  std::vector<Passage> corpus;
  std::vector<Query> queries;   // those with judgments in the qrels, in file order (as BEIR's loader)
  Qrels qrels;
};

inline std::vector<Passage> load_corpus(const std::filesystem::path& file) {
  std::vector<Passage> corpus;
  std::set<std::string> ids;
  read_jsonl(file, [&](const nlohmann::json& record, size_t line) {
    Passage p{jsonl_string(record, "_id", file, line), jsonl_string(record, "title", file, line, false),
              jsonl_string(record, "text", file, line, false)};
    if (!ids.insert(p.id).second) fail(file.string() + ":" + std::to_string(line), "duplicate _id \"" + p.id + "\"");
    corpus.push_back(std::move(p));
  });
  if (corpus.empty()) fail(file, "no documents");
  return corpus;
}

inline std::vector<Query> load_queries(const std::filesystem::path& file) {
  std::vector<Query> queries;
  std::set<std::string> ids;
  read_jsonl(file, [&](const nlohmann::json& record, size_t line) {
    const std::string where = file.string() + ":" + std::to_string(line);
    Query q{jsonl_string(record, "_id", file, line), jsonl_string(record, "text", file, line)};
    if (q.text.find_first_not_of(" \t\r\n") == std::string::npos) fail(where, "empty query \"" + q.id + "\"");
    if (!ids.insert(q.id).second) fail(where, "duplicate _id \"" + q.id + "\"");
    queries.push_back(std::move(q));
  });
  return queries;
}

inline Qrels load_qrels(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) fail(file, "no such file");
  std::ifstream in(file);
  if (!in) fail(file, "cannot open for reading");
  Qrels qrels;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> fields = split_tabs(line);
    const std::string where = file.string() + ":" + std::to_string(number);
    if (fields.size() != 3) fail(where, "expected query-id<TAB>corpus-id<TAB>score, got " +
                                            std::to_string(fields.size()) + " field(s)");
    int score = 0;
    const auto [end, error] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), score);
    if (error != std::errc() || end != fields[2].data() + fields[2].size()) {
      if (number == 1) continue;   // the header line, "query-id corpus-id score"
      fail(where, "score \"" + fields[2] + "\" is not an integer");
    }
    if (!qrels[fields[0]].emplace(fields[1], score).second)
      fail(where, "query \"" + fields[0] + "\" judges document \"" + fields[1] + "\" twice");
  }
  return qrels;
}

// Loads DIR/corpus.jsonl, DIR/queries.jsonl and DIR/qrels/SPLIT.tsv. Every judged query must be in
// queries.jsonl (else the evaluation could not run it and would be silently off).
inline BeirDataset load_beir(const std::filesystem::path& dir, const std::string& split = "test") {
  if (!std::filesystem::is_directory(dir)) fail(dir, "no such BEIR folder");
  BeirDataset data;
  data.corpus = load_corpus(dir / "corpus.jsonl");
  data.qrels = load_qrels(dir / "qrels" / (split + ".tsv"));
  std::set<std::string> query_ids;
  for (Query& q : load_queries(dir / "queries.jsonl")) {
    query_ids.insert(q.id);
    if (data.qrels.count(q.id)) data.queries.push_back(std::move(q));
  }
  for (const auto& [query, judged] : data.qrels)
    if (!query_ids.count(query))
      fail(dir / "qrels" / (split + ".tsv"), "query \"" + query + "\" is not in queries.jsonl");
  return data;
}

}  // namespace bg2vec::eval
