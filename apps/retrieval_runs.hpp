#pragma once
// One evaluated system over a BEIR dataset, shared by `eval retrieval` and `eval compare`: BM25 over
// words or tokenizer pieces, or a dense encoder with a FAISS index.
#include "encoder_choice.hpp"

#include <bg2vec/eval/metrics.hpp>
#include <bg2vec/eval/report.hpp>
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/eval/words.hpp>
#include <bg2vec/text/tokenizer.hpp>

#include <fstream>
#include <memory>

namespace bg2vec::cli {

// BM25 terms: "words" (lower-cased words) or "tokenizer" (piece ids of the lower-cased text under the
// sentencepiece model `tokenizer_file`).
// `tokenizer`: a tokenizer.model, or a model (folder or GGUF file) whose tokenizer to use.
inline eval::Analyzer bm25_analyzer(const std::string& terms, const std::filesystem::path& tokenizer) {
  if (terms == "words") return eval::lowercase_words;
  if (terms != "tokenizer") fail("--bm25-terms must be words or tokenizer, got \"" + terms + "\"");
  if (tokenizer.empty()) fail("--bm25-terms tokenizer needs --tokenizer FILE or --model DIR");
  std::ifstream probe(tokenizer, std::ios::binary);
  char magic[4] = {};
  const bool is_model = std::filesystem::is_directory(tokenizer) || (probe.read(magic, 4) && std::string_view(magic, 4) == "GGUF");
  auto pieces = std::make_shared<const text::Tokenizer>(is_model ? load_tokenizer(tokenizer) : text::Tokenizer(tokenizer));
  return [pieces](const std::string& text) {
    std::vector<std::string> terms;
    for (int32_t id : pieces->encode(eval::lowercase(text), /*add_bos=*/false)) terms.push_back(std::to_string(id));
    return terms;
  };
}

inline eval::ReportRow evaluate_bm25(const eval::BeirDataset& data, const std::string& name,
                                     const eval::Analyzer& analyzer, eval::Run* run_out = nullptr) {
  const eval::Run run = eval::bm25_run(data, 100, analyzer);
  if (run_out) *run_out = run;
  return {name, eval::evaluate(run, data.qrels).mean, std::nullopt};
}

struct DenseSettings {
  int batch_size = 16;
  std::string factory = "Flat";
  std::string search_parameters;
};

inline eval::ReportRow evaluate_dense(const eval::BeirDataset& data, const std::string& name, const EncoderChoice& choice,
                                      const DenseSettings& settings, eval::Run* run_out = nullptr) {
  const Embedder embedder(choice, settings.batch_size);
  std::fprintf(stderr, "%s: %s\n", name.c_str(), embedder.info(choice.model).description.c_str());
  const Matrix corpus = embedder.embed(eval::passage_texts(data.corpus));
  const Matrix queries = embedder.embed(eval::query_texts(data.queries));
  eval::DenseRun dense = eval::dense_run(data, corpus, queries, settings.factory, settings.search_parameters);
  eval::ReportRow row{name, eval::evaluate(dense.run, data.qrels).mean, dense.recall_vs_exact};
  if (run_out) *run_out = std::move(dense.run);
  return row;
}

}  // namespace bg2vec::cli
