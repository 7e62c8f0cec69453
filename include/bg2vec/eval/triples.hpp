#pragma once
// Hard triples: does the encoder place a paraphrase closer to the original than a sentence that
// looks alike but means the opposite? TSV lines `original<TAB>paraphrase<TAB>opposite`.
//   margin   = mean over triples of cos(original, paraphrase) - cos(original, opposite)
//   accuracy = share of triples with cos(original, paraphrase) > cos(original, opposite)
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/eval/tsv.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace bg2vec::eval {

struct Triples {
  std::vector<std::string> originals, paraphrases, opposites;
  size_t size() const { return originals.size(); }
};

inline Triples load_triples(const std::filesystem::path& file) {
  Triples t;
  for (auto& row : read_tsv(file, 3, "original<TAB>paraphrase<TAB>opposite")) {
    t.originals.push_back(std::move(row[0]));
    t.paraphrases.push_back(std::move(row[1]));
    t.opposites.push_back(std::move(row[2]));
  }
  return t;
}

struct TripleScores {
  double margin = 0;
  double accuracy = 0;
};

// Row i of each matrix embeds the i-th original, paraphrase and opposite.
inline TripleScores score_triples(const Matrix& originals, const Matrix& paraphrases, const Matrix& opposites) {
  require(originals.rows() > 0 && originals.rows() == paraphrases.rows() && originals.rows() == opposites.rows() &&
              originals.cols() == paraphrases.cols() && originals.cols() == opposites.cols(),
          "triples: three embedding matrices of the same shape expected");
  const auto cosine = [](const auto& a, const auto& b) {
    const double norms = double(a.norm()) * double(b.norm());
    return norms > 0 ? double(a.dot(b)) / norms : 0.0;
  };
  TripleScores s;
  for (int64_t i = 0; i < originals.rows(); ++i) {
    const double margin = cosine(originals.row(i), paraphrases.row(i)) - cosine(originals.row(i), opposites.row(i));
    s.margin += margin;
    s.accuracy += margin > 0;
  }
  s.margin /= double(originals.rows());
  s.accuracy /= double(originals.rows());
  return s;
}

}  // namespace bg2vec::eval
