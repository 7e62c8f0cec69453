// The retrieval commands run as a user runs them: index build, search, eval retrieval|compare|
// triples|classify|cluster, on the tiny BEIR set with the mistral-dev weights and a tokenizer trained here.
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support.hpp"

namespace test_cli_retrieval {

using namespace bg2vec;

namespace {

struct Run {
  int status;
  std::string output;   // stdout and stderr together
};

const std::string kBeir = test::fixture("beir-tiny").string();

// A folder with the mistral-dev weights and a small tokenizer trained on the tiny corpus.
struct Workspace {
  test::TempDir dir{"cli-retrieval"};
  std::string model = (dir / "model").string();

  Workspace() {
    std::filesystem::create_directories(model);
    for (const char* f : {"config.json", "model.safetensors"})
      std::filesystem::copy_file(test::fixture(std::string("hf/mistral-dev/") + f), dir / "model" / f);
    std::ofstream corpus(dir / "texts.txt");
    for (int i = 0; i < 20; ++i)
      for (const char* file : {"corpus.jsonl", "queries.jsonl"}) {
        std::ifstream in(test::fixture("beir-tiny") / file);
        for (std::string line; std::getline(in, line);) corpus << nlohmann::json::parse(line).value("text", "") << "\n";
      }
    corpus.close();
    text::TokenizerTrainOptions options;
    options.vocab_size = 320;
    text::train_tokenizer(dir / "texts.txt", dir / "model" / "tokenizer.model", options);
  }

  Run run(const std::string& arguments) const {
    const auto log = dir / "output.txt";
    const int raw = std::system((std::string(BG2VEC_CLI) + " " + arguments + " > " + log.string() + " 2>&1").c_str());
    std::ifstream in(log);
    return {WEXITSTATUS(raw), std::string((std::istreambuf_iterator<char>(in)), {})};
  }

  nlohmann::json json(const std::string& name) const {
    std::ifstream in(dir / name);
    return nlohmann::json::parse(in);
  }

  void check_fails(const std::string& arguments, const std::string& message) const {
    const Run r = run(arguments);
    INFO(arguments, "\n", r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find(message) != std::string::npos);
  }
};

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("eval retrieval --bm25 writes the metric JSON with the contract's keys and a TREC run") {
  Workspace w;
  const Run r = w.run("eval retrieval --beir " + kBeir + " --bm25 --json " + (w.dir / "m.json").string() + " --run-out " +
                      (w.dir / "bm25.run").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("ndcg@10") != std::string::npos);
  const auto metrics = w.json("m.json");
  for (const char* key : {"recall@1", "recall@10", "recall@100", "mrr@10", "ndcg@10"}) {
    REQUIRE(metrics.contains(key));
    CHECK(metrics[key].get<double>() >= 0);
    CHECK(metrics[key].get<double>() <= 1);
  }
  CHECK(metrics["queries"] == 3);
  const auto run = lines_of(w.dir / "bm25.run");
  REQUIRE_FALSE(run.empty());
  std::istringstream first(run[0]);
  std::string qid, q0, doc, rank, score, tag, extra;
  first >> qid >> q0 >> doc >> rank >> score >> tag;
  CHECK(qid == "q1");
  CHECK(q0 == "Q0");
  CHECK(rank == "1");
  CHECK(tag == "bm25");
  CHECK_FALSE(static_cast<bool>(first >> extra));   // six fields, no more
  CHECK(std::any_of(run.begin(), run.end(), [](const std::string& l) { return l.rfind("q3 Q0 varna 1 ", 0) == 0; }));
}

TEST_CASE("index build, then search finds a passage from its own text, in text and JSON") {
  Workspace w;
  const std::string index = (w.dir / "index").string();
  const Run built = w.run("index build --model " + w.model + " --corpus " + kBeir + "/corpus.jsonl --factory HNSW8,Flat"
                          " --batch-size 4 --threads 1 --out " + index);
  INFO(built.output);
  REQUIRE(built.status == 0);
  CHECK(built.output.find("indexed 6 passages (64-d, HNSW8,Flat)") != std::string::npos);
  for (const char* f : {"index.faiss", "passages.jsonl", "meta.json"}) CHECK(std::filesystem::exists(w.dir / "index" / f));

  // What the index embedded for "varna" is "title text": the same string as a query is its nearest passage.
  const std::string varna = "'Варна Варна е морски град на брега на Черно море.'";
  const Run text = w.run("search --index " + index + " --query " + varna + " --k 3");
  INFO(text.output);
  REQUIRE(text.status == 0);
  CHECK(text.output.find("  1. 1.0000  [varna] Варна:") != std::string::npos);

  const Run json = w.run("search --index " + index + " --query " + varna + " --k 3 --json");
  REQUIRE(json.status == 0);
  const auto result = nlohmann::json::parse(json.output.substr(0, json.output.find('\n')));
  REQUIRE(result["hits"].size() == 3);
  CHECK(result["hits"][0]["_id"] == "varna");
  CHECK(result["hits"][0]["rank"] == 1);

  std::ofstream(w.dir / "queries.txt") << "Черно море\n\nРила\n";
  const Run batch = w.run("search --index " + index + " --queries " + (w.dir / "queries.txt").string() + " --k 2 --json");
  REQUIRE(batch.status == 0);
  CHECK(std::count(batch.output.begin(), batch.output.end(), '\n') == 2);   // blank lines are not queries
}

TEST_CASE("eval retrieval with a model reports the approximate index's recall against exact search") {
  Workspace w;
  const Run r = w.run("eval retrieval --beir " + kBeir + " --model " + w.model + " --attention bidirectional"
                      " --pooling mean --factory HNSW8,Flat --json " + (w.dir / "m.json").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto metrics = w.json("m.json");
  for (const char* key : {"recall@1", "recall@10", "recall@100", "mrr@10", "ndcg@10", "index_recall@10"})
    CHECK(metrics.contains(key));
  CHECK(metrics["recall@100"] == 1.0);   // six passages: everything is retrieved
}

TEST_CASE("eval compare puts BM25 and several pooling/attention settings in one table") {
  Workspace w;
  std::ofstream(w.dir / "runs.txt") << "# one run per line\nname=bidirectional-mean,model=" << w.model
                                    << ",attention=bidirectional,pooling=mean\n";
  const Run r = w.run("eval compare --beir " + kBeir + " --bm25 --run name=causal-last,model=" + w.model +
                      ",attention=causal,pooling=last --config " + (w.dir / "runs.txt").string() + " --markdown " +
                      (w.dir / "table.md").string() + " --json " + (w.dir / "table.json").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto results = w.json("table.json")["results"];
  REQUIRE(results.size() == 3);
  CHECK(results[0]["name"] == "bm25");                 // rows: --bm25, then --config's runs, then --run's
  CHECK(results[1]["name"] == "bidirectional-mean");
  CHECK(results[1]["pooling"] == "mean");
  CHECK(results[2]["name"] == "causal-last");
  const auto markdown = lines_of(w.dir / "table.md");
  CHECK(std::find(markdown.begin(), markdown.end(), "| system | recall@1 | recall@10 | recall@100 | mrr@10 | ndcg@10 |") !=
        markdown.end());
  w.check_fails("eval compare --beir " + kBeir + " --run model=" + w.model + ",color=blue", "unknown key \"color\"");
  w.check_fails("eval compare --beir " + kBeir + " --bm25 --run bm25", "two runs are named \"bm25\"");
}

TEST_CASE("triples, classification and clustering run on a model and write their JSON") {
  Workspace w;
  std::ofstream(w.dir / "triples.tsv") << "Котката спи на дивана.\tНа дивана спи котката.\tКотката не спи на дивана.\n"
                                          "Градът е голям.\tГолям е градът.\tГрадът е малък.\n";
  std::ofstream labelled(w.dir / "labelled.tsv");
  for (const char* line : {"море\tВарна е на Черно море.", "море\tБургас е на морето.", "планина\tРила е планина.",
                           "планина\tМусала е връх в Рила.", "море\tЧерно море е солено.", "планина\tПирин е висок."})
    labelled << line << "\n";
  labelled.close();
  const std::string model = " --model " + w.model;
  REQUIRE(w.run("eval triples --triples " + (w.dir / "triples.tsv").string() + model + " --json " +
                (w.dir / "t.json").string()).status == 0);
  CHECK(w.json("t.json")["triples"] == 2);
  CHECK(std::abs(w.json("t.json")["margin"].get<double>()) <= 2);
  const std::string data = (w.dir / "labelled.tsv").string();
  REQUIRE(w.run("eval classify --train " + data + " --test " + data + model + " --k 1 --json " +
                (w.dir / "c.json").string()).status == 0);
  CHECK(w.json("c.json")["knn"]["accuracy"] == 1.0);   // each test text is its own nearest neighbour
  REQUIRE(w.run("eval cluster --data " + data + model + " --json " + (w.dir / "k.json").string()).status == 0);
  CHECK(w.json("k.json")["k"] == 2);
  CHECK(w.json("k.json")["v_measure"].get<double>() >= 0);
}

TEST_CASE("bad input: one clear line naming the file or the problem, and a non-zero exit") {
  Workspace w;
  const std::string index = (w.dir / "index").string(), model = " --model " + w.model;
  w.check_fails("eval retrieval --beir " + (w.dir / "missing").string() + " --bm25", "missing: no such BEIR folder");
  w.check_fails("eval retrieval --beir " + kBeir, "give --model DIR (a dense model) or --bm25");
  w.check_fails("eval retrieval --beir " + kBeir + " --bm25" + model, "--model goes with --bm25 only");

  std::ofstream(w.dir / "corpus.jsonl") << "{\"_id\":\"a\",\"text\":\"x\"}\n{\"text\":\"no id\"}\n";
  w.check_fails("index build" + model + " --corpus " + (w.dir / "corpus.jsonl").string() + " --out " + index,
                "corpus.jsonl:2: missing \"_id\"");
  CHECK_FALSE(std::filesystem::exists(index));
  w.check_fails("index build" + model + " --corpus " + kBeir + "/corpus.jsonl --factory IVF64,Flat --out " + index,
                "needs at least 64 passages to train, the corpus has 6");

  // An index built from 8-d vectors of another model, searched with this 64-d one.
  index::PassageStore store;
  store.add({"a", "", "x"});
  index::PassageIndex::build("Flat", Matrix::Ones(1, 8), store, {w.model, "causal", "mean", "model other, causal, mean"})
      .save(index);
  w.check_fails("search --index " + index + " --query 'София'",
                "the index holds 8-d vectors from model other, causal, mean but the query encoder gives 64-d vectors");
  w.check_fails("search --index " + index + " --query '  '", "empty query");
  w.check_fails("search --index " + index, "give exactly one of --query and --queries");
  w.check_fails("search --index " + (w.dir / "nowhere").string() + " --query x", "nowhere: no such index folder");
}

}  // namespace test_cli_retrieval
