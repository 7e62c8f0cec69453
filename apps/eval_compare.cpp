// bg2vec eval compare: several systems (models x attention x pooling, and BM25) on one BEIR dataset,
// in one table.
//   --run name=causal-mean,model=DIR,attention=causal,pooling=mean   (repeatable; name optional)
//   --run name=bm25-pieces,bm25=tokenizer,model=DIR                  (BM25 over the model's pieces)
//   --config FILE                                                    (one such spec per line, # comments)
// Rows come in this order: --bm25, the config file's runs, then the --run specs.
#include "retrieval_runs.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/beir.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>
#include <fstream>
#include <map>

namespace bg2vec::cli {
namespace {

struct SystemSpec {
  std::string name;
  EncoderChoice encoder;
  std::string bm25_terms;   // "words" | "tokenizer"; empty for a dense system
};

SystemSpec parse_spec(const std::string& text, const std::string& where) {
  std::map<std::string, std::string> fields;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string field = text.substr(start, comma - start);
    const size_t eq = field.find('=');
    if (field == "bm25") fields["bm25"] = "words";
    else if (eq == std::string::npos || eq == 0) fail(where + ": \"" + field + "\" is not key=value");
    else fields[field.substr(0, eq)] = field.substr(eq + 1);
    start = comma + 1;
  }
  for (const auto& [key, value] : fields)
    if (key != "name" && key != "model" && key != "attention" && key != "pooling" && key != "bm25")
      fail(where + ": unknown key \"" + key + "\" (name, model, attention, pooling, bm25)");
  SystemSpec spec{fields["name"], {fields["model"], fields["attention"], fields["pooling"]}, fields["bm25"]};
  if (spec.bm25_terms.empty() && spec.encoder.model.empty()) fail(where + ": a run needs model=DIR (or bm25)");
  if (spec.name.empty()) {
    if (!spec.bm25_terms.empty()) spec.name = spec.bm25_terms == "words" ? "bm25" : "bm25-" + spec.bm25_terms;
    else {
      spec.name = std::filesystem::path(spec.encoder.model).filename().string();
      for (const std::string& part : {spec.encoder.attention, spec.encoder.pooling})
        if (!part.empty()) spec.name += "-" + part;
    }
  }
  return spec;
}

std::vector<SystemSpec> read_specs(const po::variables_map& vm) {
  std::vector<SystemSpec> specs;
  if (vm["bm25"].as<bool>()) specs.push_back({"bm25", {}, "words"});
  if (vm.count("config")) {
    const std::filesystem::path file = vm["config"].as<std::string>();
    std::ifstream in(file);
    if (!in) fail(file, "cannot open the config file");
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
      specs.push_back(parse_spec(line, file.string() + ":" + std::to_string(number)));
    }
  }
  if (vm.count("run"))
    for (const std::string& text : vm["run"].as<std::vector<std::string>>()) specs.push_back(parse_spec(text, "--run"));
  if (specs.empty()) fail("nothing to compare: give --run specs, --config FILE or --bm25");
  std::map<std::string, int> names;
  for (const SystemSpec& s : specs)
    if (++names[s.name] > 1) fail("two runs are named \"" + s.name + "\": give them name=... keys");
  return specs;
}

int eval_compare(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("beir", po::value<std::string>()->required(), "BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
      ("split", po::value<std::string>()->default_value("test"), "qrels split")
      ("run", po::value<std::vector<std::string>>(), "a system: name=N,model=DIR,attention=A,pooling=P (or bm25=words|tokenizer); repeatable")
      ("config", po::value<std::string>(), "a file of run specs, one per line (# comments)")
      ("bm25", po::bool_switch(), "add BM25 over lower-cased words")
      ("factory", po::value<std::string>()->default_value("Flat"), "FAISS index factory for the dense systems")
      ("search-params", po::value<std::string>()->default_value(""), "FAISS search parameters, e.g. efSearch=128")
      ("batch-size", po::value<int>()->default_value(16), "texts per forward pass")
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: OMP_NUM_THREADS or all cores)")
      ("markdown", po::value<std::string>(), "write the table as Markdown")
      ("json", po::value<std::string>(), "write the results as JSON");
  po::variables_map vm;
  if (!parse("eval compare", "Compare models, attention and pooling settings (and BM25) on one BEIR dataset.",
             options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const std::vector<SystemSpec> specs = read_specs(vm);
  const std::string beir = vm["beir"].as<std::string>();
  const eval::BeirDataset data = eval::load_beir(beir, vm["split"].as<std::string>());
  const DenseSettings dense{vm["batch-size"].as<int>(), vm["factory"].as<std::string>(),
                            vm["search-params"].as<std::string>()};

  std::vector<eval::ReportRow> rows;
  nlohmann::json results = nlohmann::json::array();
  for (const SystemSpec& s : specs) {
    if (!s.bm25_terms.empty()) {
      const std::filesystem::path tokenizer = s.encoder.model;   // the model's own (folder or GGUF)
      rows.push_back(evaluate_bm25(data, s.name, bm25_analyzer(s.bm25_terms, tokenizer)));
    } else {
      rows.push_back(evaluate_dense(data, s.name, s.encoder, dense));
    }
    nlohmann::json j = eval::report_json(rows.back());
    if (s.bm25_terms.empty()) j.update({{"model", s.encoder.model}, {"attention", s.encoder.attention}, {"pooling", s.encoder.pooling}});
    else j["bm25"] = s.bm25_terms;
    results.push_back(j);
  }

  std::printf("%s (%s): %zu queries, %zu passages\n%s", beir.c_str(), vm["split"].as<std::string>().c_str(),
              data.queries.size(), data.corpus.size(), eval::text_table(rows).c_str());
  if (vm.count("markdown"))
    write_file_atomically(vm["markdown"].as<std::string>(),
                          "Retrieval on `" + beir + "` (" + std::to_string(data.queries.size()) + " queries, " +
                              std::to_string(data.corpus.size()) + " passages, index " + dense.factory + ")\n\n" +
                              eval::markdown_table(rows));
  if (vm.count("json")) {
    const nlohmann::json j = {{"dataset", beir}, {"split", vm["split"].as<std::string>()},
                              {"queries", data.queries.size()}, {"passages", data.corpus.size()},
                              {"factory", dense.factory}, {"results", results}};
    write_file_atomically(vm["json"].as<std::string>(), j.dump(2) + "\n");
  }
  return 0;
}

const Command registered_eval_compare{"eval compare", "one retrieval table over several models, poolings and BM25", eval_compare};

}  // namespace
}  // namespace bg2vec::cli
