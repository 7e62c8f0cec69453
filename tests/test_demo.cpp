// `bg2vec demo --quick`: the whole chain with tiny settings, checked for real outcomes: the contract's
// files, metrics within [0, 1] for every stage, training losses that fall, and an encoder that serves
// the other commands.
#include <bg2vec/core/jsonl.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "support.hpp"

using namespace bg2vec;

namespace {

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, file.string());
  return nlohmann::json::parse(in);
}

// The quick demo runs once per test process (it takes a while); every test case reads its output.
// --eval-set adds a user's BEIR set (here the tiny fixture) to the evaluation.
struct QuickDemo {
  test::TempDir dir{"demo"};
  std::filesystem::path out = dir / "out";
  std::string log;
  int status = 0;
  QuickDemo() {
    const std::string command = std::string(BG2VEC_CLI) + " demo --quick --out " + out.string() + " --eval-set " +
                                test::fixture("beir-tiny").string() + " > " + (dir / "log.txt").string() + " 2>&1";
    status = std::system(command.c_str());
    std::ifstream in(dir / "log.txt");
    log.assign(std::istreambuf_iterator<char>(in), {});
  }
};

const std::filesystem::path& demo_out() {
  static const QuickDemo demo;
  REQUIRE_MESSAGE(demo.status == 0, demo.log);
  return demo.out;
}

std::vector<double> losses(const std::filesystem::path& log) {
  std::vector<double> out;
  read_jsonl(log, [&](const nlohmann::json& j, size_t) { out.push_back(j.at("loss")); });
  return out;
}

}  // namespace

TEST_CASE("report.json lists every stage with metrics in [0, 1] on every held-out set") {
  const auto report = read_json(demo_out() / "report.json");
  std::vector<std::string> names;
  for (const auto& stage : report["stages"]) {
    names.push_back(stage["name"]);
    for (const auto& [set, metrics] : stage["sets"].items())
      for (const char* key : {"recall@1", "recall@10", "mrr@10", "ndcg@10"}) {
        CAPTURE(stage["name"]);
        CAPTURE(set);
        CAPTURE(key);
        const double v = metrics.at(key);
        CHECK(v >= 0.0);
        CHECK(v <= 1.0);
      }
    CHECK(stage["sets"].size() == 4);
  }
  CHECK(names == std::vector<std::string>{"bm25", "causal-mean", "causal-weighted-mean", "causal-last", "bidirectional-mean",
                                          "mntp-mean", "mntp-simcse-mean", "causal-simcse-mean"});
  CHECK(report["primary_set"] == "wiki-fragments");
  // BM25 on fragments of the very sentences it indexes finds nearly all of them.
  CHECK(double(report["stages"][0]["recall@10"]) > 0.8);
  CHECK(report["comparisons"].size() == 4);
}

TEST_CASE("the held-out sets: two test sets of different kinds, a dev set, and the user's --eval-set") {
  const auto report = read_json(demo_out() / "report.json");
  std::vector<std::string> sets;
  for (const auto& set : report["sets"]) {
    sets.push_back(set["name"]);
    CHECK(int(set["queries"]) > 0);
    CHECK(int(set["documents"]) >= int(set["queries"]) / 2);
  }
  CHECK(sets == std::vector<std::string>{"wiki-fragments", "beir-tiny", "dev-fragments", "wiki-continuations"});
}

TEST_CASE("no held-out sentence is in the training text") {
  std::set<std::string> held_out;
  for (const char* set : {"wiki-fragments", "wiki-continuations", "dev-fragments"})
    read_jsonl(demo_out() / "data" / "eval" / set / "corpus.jsonl",
               [&](const nlohmann::json& j, size_t) { held_out.insert(j.at("_id")); });
  REQUIRE(held_out.size() > 100);
  size_t training = 0;
  read_jsonl(demo_out() / "data" / "train-articles.jsonl", [&](const nlohmann::json& j, size_t) {
    CHECK_MESSAGE(!held_out.count(j.at("id")), j.at("id"));
    ++training;
  });
  CHECK(training > 5 * held_out.size());
}

TEST_CASE("the decoder and the encoder are Hugging Face folders; the encoder records how it was measured") {
  const auto& out = demo_out();
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"}) {
    CHECK(std::filesystem::exists(out / "causal" / f));
    CHECK(std::filesystem::exists(out / "encoder" / f));
  }
  const auto settings = read_json(out / "encoder" / "bg2vec.json");
  CHECK(settings["attention"] == "bidirectional");
  CHECK(settings["pooling"] == "mean");
  CHECK(settings["skip_bos"] == true);
}

TEST_CASE("pretraining lowers the loss") {
  const auto ntp = losses(demo_out() / "causal" / "train_log.jsonl");
  REQUIRE(ntp.size() >= 10);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; ++i) { first += ntp[i] / 5; last += ntp[ntp.size() - 1 - i] / 5; }
  CHECK(last < first - 0.5);
}

TEST_CASE("report.md shows the tables and their charts") {
  const auto& out = demo_out();
  std::ifstream in(out / "report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), {});
  CHECK(md.find("| mntp-simcse-mean |") != std::string::npos);
  CHECK(md.find("Paired bootstrap") != std::string::npos);
  for (const char* chart : {"ndcg-wiki-fragments.svg", "ndcg-wiki-continuations.svg", "ndcg-dev-fragments.svg", "loss-ntp.svg",
                            "loss-mntp.svg"}) {
    CAPTURE(chart);
    CHECK(md.find(chart) != std::string::npos);
    CHECK(std::filesystem::file_size(out / chart) > 500);
  }
}

TEST_CASE("the final encoder serves bg2vec eval retrieval with the figures of the report") {
  const auto& out = demo_out();
  const auto report = read_json(out / "report.json");
  for (const char* set : {"wiki-fragments", "beir-tiny"}) {
    CAPTURE(set);
    const auto beir = std::string(set) == "beir-tiny" ? test::fixture("beir-tiny") : out / "data" / "eval" / set;
    const auto json = out / (std::string(set) + "-metrics.json");
    const std::string eval = std::string(BG2VEC_CLI) + " eval retrieval --beir " + beir.string() + " --model " +
                             (out / "encoder").string() + " --json " + json.string() + " > /dev/null 2>&1";
    REQUIRE(std::system(eval.c_str()) == 0);
    double reported = -1;
    for (const auto& stage : report["stages"])
      if (stage["name"] == "mntp-simcse-mean") reported = stage["sets"][set]["ndcg@10"];
    // Same model, pooling and index; only the batching differs (float rounding may swap a near tie).
    CHECK(double(read_json(json)["ndcg@10"]) == doctest::Approx(reported).epsilon(0.02));
  }
}

TEST_CASE("a bad --eval-set fails before any training, naming the folder") {
  test::TempDir dir("demo-bad-set");
  const std::string command = std::string(BG2VEC_CLI) + " demo --quick --out " + (dir / "out").string() + " --eval-set " +
                              (dir / "missing").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  CHECK(std::system(command.c_str()) != 0);
  std::ifstream in(dir / "log.txt");
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  CHECK(log.find("missing") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "out" / "causal"));
}
