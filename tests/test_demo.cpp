// `bg2vec demo --quick`: the whole chain with tiny settings, checked for real outcomes: the contract's
// files, metrics within [0, 1] for every stage, training losses that fall, and an encoder that serves
// the other commands.
#include <bg2vec/core/jsonl.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "support.hpp"

using namespace bg2vec;

namespace {

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, file.string());
  return nlohmann::json::parse(in);
}

std::vector<double> losses(const std::filesystem::path& log) {
  std::vector<double> out;
  read_jsonl(log, [&](const nlohmann::json& j, size_t) { out.push_back(j.at("loss")); });
  return out;
}

}  // namespace

TEST_CASE("the demo runs the recipe end to end and reports every stage") {
  test::TempDir dir("demo");
  const auto out = dir / "out";
  const std::string command = std::string(BG2VEC_CLI) + " demo --quick --out " + out.string() + " > " +
                              (dir / "log.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  if (status != 0) {
    std::ifstream log(dir / "log.txt");
    FAIL(std::string((std::istreambuf_iterator<char>(log)), {}));
  }

  SUBCASE("report.json lists every stage with metrics in [0, 1], on both held-out sets") {
    const auto report = read_json(out / "report.json");
    std::vector<std::string> names;
    for (const auto& stage : report["stages"]) {
      names.push_back(stage["name"]);
      for (const char* key : {"recall@1", "recall@10", "mrr@10", "ndcg@10"}) {
        CAPTURE(stage["name"]);
        CAPTURE(key);
        const double v = stage.at(key);
        CHECK(v >= 0.0);
        CHECK(v <= 1.0);
      }
      CHECK(stage["sets"].size() == 2);
    }
    CHECK(names == std::vector<std::string>{"bm25", "causal-mean", "causal-weighted-mean", "causal-last", "bidirectional-mean",
                                            "mntp-mean", "mntp-simcse-mean", "causal-simcse-mean"});
    // BM25 on fragments of the very sentences it indexes finds nearly all of them.
    CHECK(double(report["stages"][0]["recall@10"]) > 0.8);
    CHECK(report["comparisons"].size() == 2);
  }
  SUBCASE("the decoder and the encoder are Hugging Face folders; the encoder records its attention and pooling") {
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"}) {
      CHECK(std::filesystem::exists(out / "causal" / f));
      CHECK(std::filesystem::exists(out / "encoder" / f));
    }
    const auto settings = read_json(out / "encoder" / "bg2vec.json");
    CHECK(settings["attention"] == "bidirectional");
    CHECK(settings["pooling"] == "mean");
  }
  SUBCASE("pretraining lowers the loss") {
    const auto ntp = losses(out / "causal" / "train_log.jsonl");
    REQUIRE(ntp.size() >= 10);
    double first = 0, last = 0;
    for (size_t i = 0; i < 5; ++i) { first += ntp[i] / 5; last += ntp[ntp.size() - 1 - i] / 5; }
    CHECK(last < first - 0.5);
  }
  SUBCASE("report.md shows the table and its charts") {
    std::ifstream in(out / "report.md");
    const std::string md((std::istreambuf_iterator<char>(in)), {});
    CHECK(md.find("| mntp-simcse-mean |") != std::string::npos);
    CHECK(md.find("Paired bootstrap") != std::string::npos);
    for (const char* chart : {"ndcg-wiki-fragments.svg", "ndcg-wiki-continuations.svg", "loss-ntp.svg", "loss-mntp.svg"}) {
      CAPTURE(chart);
      CHECK(md.find(chart) != std::string::npos);
      CHECK(std::filesystem::file_size(out / chart) > 500);
    }
  }
  SUBCASE("the final encoder serves bg2vec eval retrieval on other data") {
    const auto json = dir / "metrics.json";
    const std::string eval = std::string(BG2VEC_CLI) + " eval retrieval --beir " + test::fixture("beir-tiny").string() +
                             " --model " + (out / "encoder").string() + " --json " + json.string() + " > /dev/null 2>&1";
    REQUIRE(std::system(eval.c_str()) == 0);
    const auto metrics = read_json(json);
    CHECK(double(metrics["ndcg@10"]) >= 0.0);
    CHECK(double(metrics["ndcg@10"]) <= 1.0);
  }
}
