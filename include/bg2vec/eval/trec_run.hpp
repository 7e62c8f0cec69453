#pragma once
// A run in TREC format, one line per retrieved document: `qid Q0 docid rank score tag`, ranks from 1
// in trec_eval's order (score descending, then document id descending). Scores are written with 9
// significant digits, enough to keep float32 scores (and their ties) as they were.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/metrics.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

namespace bg2vec::eval {

inline std::string format_trec_run(const Run& run, const std::string& tag) {
  require(!tag.empty() && tag.find_first_of(" \t\n") == std::string::npos,
          "run tag must be one word, got \"" + tag + "\"");
  std::string out;
  char score[32];
  for (const auto& [query, documents] : run) {
    Ranking ranking = documents;
    sort_trec(ranking);
    for (size_t i = 0; i < ranking.size(); ++i) {
      std::snprintf(score, sizeof score, "%.9g", ranking[i].score);
      out += query + " Q0 " + ranking[i].id + " " + std::to_string(i + 1) + " " + score + " " + tag + "\n";
    }
  }
  return out;
}

inline void write_trec_run(const std::filesystem::path& file, const Run& run, const std::string& tag) {
  write_file_atomically(file, format_trec_run(run, tag));
}

}  // namespace bg2vec::eval
