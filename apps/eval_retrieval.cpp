// bg2vec eval retrieval: Recall@1/10/100, MRR@10 and nDCG@10 of one system on a BEIR dataset.
#include "retrieval_runs.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/beir.hpp>
#include <bg2vec/eval/trec_run.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>

namespace bg2vec::cli {
namespace {

int eval_retrieval(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/false);
  options.add_options()
      ("beir", po::value<std::string>()->required(), "BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
      ("split", po::value<std::string>()->default_value("test"), "qrels split")
      ("bm25", po::bool_switch(), "evaluate BM25 instead of a model")
      ("bm25-terms", po::value<std::string>()->default_value("words"), "BM25 terms: words (lower-cased) | tokenizer (pieces)")
      ("tokenizer", po::value<std::string>(), "sentencepiece model for --bm25-terms tokenizer (default: the --model's own)")
      ("factory", po::value<std::string>()->default_value("Flat"), "FAISS index factory for dense retrieval (Flat = exact)")
      ("search-params", po::value<std::string>()->default_value(""), "FAISS search parameters, e.g. efSearch=128")
      ("run-out", po::value<std::string>(), "write the run in TREC format (qid Q0 docid rank score tag)")
      ("tag", po::value<std::string>(), "run tag for --run-out (default: bm25 or the model folder's name)")
      ("json", po::value<std::string>(), "write the metrics as JSON");
  po::variables_map vm;
  if (!parse("eval retrieval", "Evaluate a model (dense, through a FAISS index) or BM25 on a BEIR dataset with "
                               "trec_eval's definitions.", options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const bool bm25 = vm["bm25"].as<bool>();
  const EncoderChoice choice = encoder_choice(vm);
  if (!bm25 && choice.model.empty()) fail("give --model DIR (a dense model) or --bm25");
  if (bm25 && !choice.model.empty() && vm["bm25-terms"].as<std::string>() != "tokenizer")
    fail("--model goes with --bm25 only to supply the tokenizer of --bm25-terms tokenizer");
  const eval::BeirDataset data = eval::load_beir(vm["beir"].as<std::string>(), vm["split"].as<std::string>());

  eval::Run run;
  eval::ReportRow row;
  if (bm25) {
    std::filesystem::path tokenizer = vm.count("tokenizer") ? vm["tokenizer"].as<std::string>() : "";
    if (tokenizer.empty() && !choice.model.empty()) tokenizer = choice.model;   // the model's own
    row = evaluate_bm25(data, "bm25", bm25_analyzer(vm["bm25-terms"].as<std::string>(), tokenizer), &run);
  } else {
    const std::string name = std::filesystem::path(choice.model).filename().string();
    row = evaluate_dense(data, name.empty() ? "dense" : name, choice,
                         {vm["batch-size"].as<int>(), vm["factory"].as<std::string>(),
                          vm["search-params"].as<std::string>()},
                         &run);
  }

  std::printf("%zu queries, %zu passages\n%s", data.queries.size(), data.corpus.size(), eval::text_table({row}).c_str());
  if (vm.count("run-out"))
    eval::write_trec_run(vm["run-out"].as<std::string>(), run, vm.count("tag") ? vm["tag"].as<std::string>() : row.name);
  if (vm.count("json")) {
    nlohmann::json j = eval::report_json(row);
    j["queries"] = data.queries.size();
    j["passages"] = data.corpus.size();
    write_file_atomically(vm["json"].as<std::string>(), j.dump(2) + "\n");
  }
  return 0;
}

const Command registered_eval_retrieval{"eval retrieval", "Recall@k, MRR@10, nDCG@10 of a model or BM25 on a BEIR dataset",
                         eval_retrieval};

}  // namespace
}  // namespace bg2vec::cli
