// `bg2vec demo --quick`: the whole chain with tiny settings, checked for real outcomes: the contract's
// files, metrics within [0, 1] for every stage on every held-out set, held-out text never trained on,
// training losses that fall, and an encoder that serves the other commands. Twice: `--from-scratch`
// (no model needed: the offline fallback) and on the embedded Gemma-3-270M GGUF (skipped where
// scripts/setup_model.sh has not installed it).
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/jsonl.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "support.hpp"

namespace test_demo {

using namespace bg2vec;

namespace {

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, file.string());
  return nlohmann::json::parse(in);
}

const std::filesystem::path kModel = std::filesystem::path(BG2VEC_REPO_DATA) / "../models/gemma3-270m/gemma-3-270m-q4_k_m.gguf";

// An earlier demo's folder (its marker file and a file of its own), which --overwrite must replace whole.
void plant_earlier_demo(const std::filesystem::path& out) {
  write_file_atomically(out / ".bg2vec-demo", "written by bg2vec demo\n");
  write_file_atomically(out / "causal" / "stale.txt", "from an earlier run\n");
}

// Each quick demo runs once per test process (it takes a while); every test case reads its output.
// --eval-set adds a user's BEIR set (the tiny fixture), --classify-set a labelled set; each is written over
// an earlier demo with --overwrite.
struct QuickDemo {
  test::TempDir dir;
  std::filesystem::path out = dir / "out";
  test::CliRun run;
  explicit QuickDemo(const std::string& name, const std::string& flags)
      : dir(name), run((plant_earlier_demo(out),
                        test::run_cli("demo --quick --overwrite " + flags + " --out " + out.string() + " --eval-set " +
                                          test::fixture("beir-tiny").string() + " --classify-set " +
                                          test::fixture("classify-tiny").string(),
                                      dir))) {}
};

const std::filesystem::path& scratch_demo() {
  static const QuickDemo demo("demo-scratch", "--from-scratch");
  REQUIRE_MESSAGE(demo.run.status == 0, demo.run.output);
  return demo.out;
}

// Empty when the embedded model is not installed.
std::filesystem::path pretrained_demo() {
  if (!std::filesystem::exists(kModel)) {
    MESSAGE("skipped: " << kModel << " is not installed (bash scripts/setup_model.sh)");
    return {};
  }
  if (test::skip_real_model()) {
    MESSAGE("skipped: BG2VEC_TEST_SKIP_REAL_MODEL is set");
    return {};
  }
  static const QuickDemo demo("demo-gemma", "");
  REQUIRE_MESSAGE(demo.run.status == 0, demo.run.output);
  return demo.out;
}

std::vector<double> losses(const std::filesystem::path& log) {
  std::vector<double> out;
  read_jsonl(log, [&](const nlohmann::json& j, size_t) { out.push_back(j.at("loss")); });
  return out;
}

const std::vector<std::string> kStages = {"bm25", "causal-mean", "causal-weighted-mean", "causal-last", "bidirectional-mean",
                                          "mntp-mean", "mntp-simcse-mean", "causal-simcse-mean"};

// `comparisons`: the sets with a paired bootstrap interval (both seeds evaluated).
void check_report(const std::filesystem::path& out, const std::string& primary, const std::vector<std::string>& set_order,
                  size_t comparisons) {
  const auto report = read_json(out / "report.json");
  CHECK(report["primary_set"] == primary);
  std::vector<std::string> names, sets;
  for (const auto& set : report["sets"]) {
    sets.push_back(set["name"]);
    CHECK(int(set["queries"]) > 0);
    CHECK(int(set["documents"]) >= int(set["queries"]) / 2);
  }
  CHECK(sets == set_order);
  for (const auto& stage : report["stages"]) {
    names.push_back(stage["name"]);
    CHECK(stage["sets"].size() == set_order.size());
    for (const auto& [set, metrics] : stage["sets"].items())
      for (const char* key : {"recall@1", "recall@10", "mrr@10", "ndcg@10"}) {
        CAPTURE(stage["name"]);
        CAPTURE(set);
        CAPTURE(key);
        const double v = metrics.at(key);
        CHECK(v >= 0.0);
        CHECK(v <= 1.0);
      }
    if (stage["name"] != "bm25") {   // linear-probe accuracy of every encoder on the labelled set
      const double accuracy = stage["classification"].at("classify-tiny");
      CHECK(accuracy >= 0.0);
      CHECK(accuracy <= 1.0);
    }
  }
  CHECK(names == kStages);
  CHECK(report["comparisons"].size() == comparisons);
  for (const auto& t : report["timeline"]) {
    CAPTURE(t["name"]);
    CHECK(double(t["seconds"]) >= 0.0);
    CHECK(double(t["peak_rss_bytes"]) > 1e6);   // every stage ran a command or encoded
  }
}

// The held-out texts (sentences and passages) appear nowhere in the training text.
void check_held_out(const std::filesystem::path& out) {
  std::string training;
  std::set<std::string> training_lines;
  read_jsonl(out / "data" / "train-articles.jsonl", [&](const nlohmann::json& j, size_t) {
    training += std::string(j.at("text")) + "\n";
    training_lines.insert(j.at("text"));
  });
  size_t sentences = 0, passages = 0;
  for (const char* set : {"wiki-fragments", "dev-fragments"})   // whole held-out sentences
    read_jsonl(out / "data" / "eval" / set / "corpus.jsonl", [&](const nlohmann::json& j, size_t) {
      CHECK_MESSAGE(!training_lines.count(j.at("text")), j.at("text"));
      ++sentences;
    });
  read_jsonl(out / "data" / "eval" / "wiki-sections" / "corpus.jsonl", [&](const nlohmann::json& j, size_t) {
    const std::string text = j.at("text");
    CHECK_MESSAGE(training.find(text.substr(0, std::min<size_t>(text.size(), 120))) == std::string::npos, text);
    ++passages;
  });
  CHECK(sentences > 40);
  CHECK(passages > 5);
  CHECK(training_lines.size() > 5 * sentences);
}

// `bg2vec eval retrieval` on the final encoder reproduces the report's figure: the folder serves as measured.
void check_served(const std::filesystem::path& out, const std::vector<std::string>& sets) {
  const auto report = read_json(out / "report.json");
  for (const auto& set : sets) {
    CAPTURE(set);
    const auto beir = set == "beir-tiny" ? test::fixture("beir-tiny") : out / "data" / "eval" / set;
    const auto json = out / (set + "-metrics.json");
    const test::CliRun r = test::run_cli("eval retrieval --beir " + beir.string() + " --model " + (out / "encoder").string() +
                                             " --json " + json.string(), out);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    double reported = -1;
    for (const auto& stage : report["stages"])
      if (stage["name"] == "mntp-simcse-mean") reported = stage["sets"][set]["ndcg@10"];
    // Same model, pooling and index; only the batching differs (float rounding may swap a near tie).
    CHECK(double(read_json(json)["ndcg@10"]) == doctest::Approx(reported).epsilon(0.02));
  }
}

}  // namespace

TEST_CASE("--from-scratch: report.json lists every stage with metrics in [0, 1] on every held-out set") {
  const auto& out = scratch_demo();
  check_report(out, "wiki-fragments",
               {"wiki-fragments", "wiki-continuations", "wiki-sections", "wiki-cloze", "beir-tiny", "dev-sections", "dev-fragments"},
               7);
  // BM25 on fragments of the very sentences it indexes finds nearly all of them.
  CHECK(double(read_json(out / "report.json")["stages"][0]["recall@10"]) > 0.8);
}

TEST_CASE("--from-scratch: no held-out sentence or passage is in the training text") { check_held_out(scratch_demo()); }

TEST_CASE("--from-scratch: the decoder and the encoder are Hugging Face folders; the encoder records how it was measured") {
  const auto& out = scratch_demo();
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"}) {
    CHECK(std::filesystem::exists(out / "causal" / f));
    CHECK(std::filesystem::exists(out / "encoder" / f));
  }
  const auto settings = read_json(out / "encoder" / "bg2vec.json");
  CHECK(settings["attention"] == "bidirectional");
  CHECK(settings["pooling"] == "mean");
  CHECK(settings["skip_bos"] == true);
  CHECK(read_json(out / "causal" / "bg2vec.json")["attention"] == "causal");
  CHECK(std::filesystem::exists(out / "index" / "index.faiss"));
}

TEST_CASE("--from-scratch: pretraining lowers the loss") {
  const auto ntp = losses(scratch_demo() / "causal" / "train_log.jsonl");
  REQUIRE(ntp.size() >= 10);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; ++i) { first += ntp[i] / 5; last += ntp[ntp.size() - 1 - i] / 5; }
  CHECK(last < first - 0.5);
}

TEST_CASE("--from-scratch: report.md shows the tables and their charts") {
  const auto& out = scratch_demo();
  std::ifstream in(out / "report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), {});
  CHECK(md.find("| mntp-simcse-mean |") != std::string::npos);
  CHECK(md.find("Paired bootstrap") != std::string::npos);
  CHECK(md.find("## Classification set `classify-tiny`") != std::string::npos);
  for (const char* chart : {"ndcg-wiki-fragments.svg", "ndcg-wiki-sections.svg", "ndcg-dev-fragments.svg", "loss-ntp.svg",
                            "loss-mntp.svg"}) {
    CAPTURE(chart);
    CHECK(md.find(chart) != std::string::npos);
    CHECK(std::filesystem::file_size(out / chart) > 500);
  }
}

TEST_CASE("--from-scratch: the final encoder serves bg2vec eval retrieval with the figures of the report") {
  check_served(scratch_demo(), {"wiki-fragments", "wiki-sections", "beir-tiny"});
}

TEST_CASE("Gemma-3-270M: every stage on every set, the passage set first; the held-out text never trained on") {
  const auto out = pretrained_demo();
  if (out.empty()) return;
  check_report(out, "wiki-sections",
               {"wiki-sections", "wiki-cloze", "wiki-fragments", "wiki-continuations", "beir-tiny", "dev-sections", "dev-fragments"},
               3);   // the passage test sets and the user's
  check_held_out(out);
}

TEST_CASE("Gemma-3-270M: the imported model, MNTP and SimCSE with LoRA, merged into Hugging Face folders") {
  const auto out = pretrained_demo();
  if (out.empty()) return;
  CHECK(read_json(out / "causal" / "config.json")["architectures"][0] == "Gemma3ForCausalLM");
  for (const char* dir : {"causal", "mntp", "encoder"}) {
    CAPTURE(dir);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "bg2vec.json"}) CHECK(std::filesystem::exists(out / dir / f));
  }
  CHECK(std::filesystem::exists(out / "mntp" / "adapter" / "adapter_config.json"));
  CHECK(std::filesystem::exists(out / "encoder" / "adapter" / "adapter_config.json"));
  const auto settings = read_json(out / "encoder" / "bg2vec.json");
  CHECK(settings["attention"] == "bidirectional");
  CHECK(settings["max_length"] == 2048);   // passages are encoded whole
  const auto report = read_json(out / "report.json");
  CHECK(report["settings"]["mntp"]["mask_piece"] == "_");
  for (const char* log : {"mntp/train_log.jsonl", "encoder/train_log.jsonl"})
    for (double loss : losses(out / log)) CHECK(std::isfinite(loss));
  std::ifstream in(out / "report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), {});
  CHECK(md.find("Gemma terms of use") != std::string::npos);
}

TEST_CASE("Gemma-3-270M: the final encoder serves bg2vec eval retrieval with the figures of the report") {
  const auto out = pretrained_demo();
  if (out.empty()) return;
  check_served(out, {"wiki-sections", "beir-tiny"});
}

TEST_CASE("--out: --overwrite replaces an earlier demo's folder; a folder of other files is never written into") {
  const auto out = scratch_demo();
  CHECK(!std::filesystem::exists(out / "causal" / "stale.txt"));
  CHECK(std::filesystem::exists(out / ".bg2vec-demo"));
  test::TempDir dir("demo-out");
  write_file_atomically(dir / "theirs" / "notes.txt", "keep me\n");
  for (const std::string flags : {"", " --overwrite"}) {
    CAPTURE(flags);
    const test::CliRun r = test::run_cli("demo --quick --from-scratch --out " + (dir / "theirs").string() + flags, dir);
    CHECK(r.status == 1);
    CHECK(r.output.find(flags.empty() ? "already exists and is not empty" : "holds files that no demo wrote") != std::string::npos);
    CHECK(std::filesystem::exists(dir / "theirs" / "notes.txt"));
    CHECK(!std::filesystem::exists(dir / "theirs" / "data"));
  }
}

TEST_CASE("a bad --eval-set, --classify-set or --model fails before any training, naming it") {
  test::TempDir dir("demo-bad-input");
  for (const std::string& flags : {"--from-scratch --eval-set " + (dir / "missing").string(),
                                   "--from-scratch --classify-set " + (dir / "missing").string(),
                                   "--model " + (dir / "missing").string()}) {
    CAPTURE(flags);
    const test::CliRun r = test::run_cli("demo --quick " + flags + " --out " + (dir / "out").string(), dir);
    CHECK(r.status == 1);
    CHECK(r.output.find("missing") != std::string::npos);
    CHECK(!std::filesystem::exists(dir / "out" / "causal"));
  }
}

}  // namespace test_demo
