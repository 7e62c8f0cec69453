#pragma once
// The demo's report: report.json for scripts (the contract's "stages" list, each with the metrics of
// the primary held-out set and of every set), report.md for people (tables, intervals, classification
// accuracy, the settings, time, throughput and peak memory of each stage) with SVG charts of the
// training losses and of nDCG@10 per stage.
#include "bootstrap.hpp"
#include "corpus.hpp"
#include "evaluate.hpp"
#include "svg_chart.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/eval/metrics.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

namespace bg2vec::demo {

inline std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

class Report {
 public:
  // `primary`: the held-out set the headline figures come from; `notice`: the model's terms, if any.
  Report(std::filesystem::path out, nlohmann::json settings, std::string primary, std::string model, std::string notice = "")
      : out_(std::move(out)), settings_(std::move(settings)), primary_(std::move(primary)), model_(std::move(model)),
        notice_(std::move(notice)), start_(Clock::now()) {}

  void begin_stage(const std::string& name, const std::string& description) {
    std::fprintf(stderr, "\n== %s: %s\n", name.c_str(), description.c_str());
    current_ = {{"name", name}, {"description", description}, {"peak_rss_bytes", 0}};
    stage_start_ = Clock::now();
  }

  // The peak resident memory of a command the stage ran (the largest one counts).
  void add_peak(size_t bytes) { current_["peak_rss_bytes"] = std::max(current_["peak_rss_bytes"].get<size_t>(), bytes); }

  // One encoding of every held-out text by a model (evaluation): time and tokens/s, and the demo's own peak RSS.
  void add_encoding(const std::string& what, const EncodeStats& e) {
    current_["encodings"].push_back({{"model", what}, {"seconds", e.seconds}, {"texts", e.texts}, {"tokens", e.tokens},
                                     {"tokens_per_s", double(e.tokens) / std::max(e.seconds, 1e-9)}});
    add_peak(self_peak_rss());
  }

  // Closes the current stage; a training stage passes its train_log.jsonl for the loss curve.
  void end_stage(const std::filesystem::path& train_log = {}) {
    current_["seconds"] = seconds_since(stage_start_);
    if (!train_log.empty()) {
      Series loss{current_["name"], {}, {}}, val{std::string(current_["name"]) + " (validation)", {}, {}};
      double tokens_per_s = 0;
      std::ifstream in(train_log);
      for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        loss.x.push_back(j.value("step", 0.0));
        loss.y.push_back(j.value("loss", 0.0));
        if (j.contains("val_loss")) { val.x.push_back(loss.x.back()); val.y.push_back(j["val_loss"]); }
        tokens_per_s = j.value("tokens_per_s", tokens_per_s);
      }
      if (loss.y.empty()) fail(train_log, "no training log lines");
      current_["steps"] = loss.x.size();
      current_["first_loss"] = loss.y.front();
      current_["final_loss"] = loss.y.back();
      current_["tokens_per_s"] = tokens_per_s;
      if (!val.y.empty()) current_["final_val_loss"] = val.y.back();
      std::vector<Series> series = {loss};
      if (!val.y.empty()) series.push_back(val);
      const std::string file = "loss-" + std::string(current_["name"]) + ".svg";
      write_file_atomically(out_ / file, line_chart("training loss: " + std::string(current_["description"]), "step", "loss", series));
      current_["loss_chart"] = file;
    }
    timeline_.push_back(current_);
  }

  // A row of the tables: the stage's metrics on every set, and its accuracy on every classification set.
  void add_stage_scores(const EvalData& data, const StageSpec& stage, const StageScores& scores) {
    for (const auto& set : data.sets()) {
      sets_[set.name] = {{"name", set.name}, {"description", set.description}, {"queries", set.queries}, {"documents", set.documents}};
      if (std::find(set_order_.begin(), set_order_.end(), set.name) == set_order_.end()) set_order_.push_back(set.name);
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& [key, value] : scores.retrieval.at(set.name).mean.named()) metrics[key] = value;
      results_[stage.name][set.name] = metrics;
    }
    for (const auto& c : data.classify()) {
      classify_sets_[c.name] = {{"name", c.name}, {"train", c.train.texts.size()}, {"test", c.test.texts.size()}};
      // BM25 makes no embedding to classify.
      if (scores.accuracy.count(c.name)) accuracy_[stage.name][c.name] = scores.accuracy.at(c.name);
    }
    if (!descriptions_.count(stage.name)) { order_.push_back(stage.name); descriptions_[stage.name] = stage.description; }
  }

  void add_seed(const EvalSet& set, const std::string& stage, double ndcg) { results_[stage][set.name]["ndcg@10 seed 2"] = ndcg; }

  void add_comparison(const EvalSet& set, const std::string& a, const std::string& b, const Interval& i) {
    comparisons_.push_back({{"set", set.name}, {"a", a}, {"b", b}, {"metric", "ndcg@10"}, {"mean_difference", i.mean},
                            {"ci95", {i.low, i.high}}, {"seeds", 2}});
  }

  void write() const {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& name : order_) {
      nlohmann::json row = {{"name", name}, {"description", descriptions_.at(name)}};
      for (const auto& [key, value] : results_.at(name).at(primary_).items()) row[key] = value;
      row["sets"] = results_.at(name);
      if (accuracy_.count(name)) row["classification"] = accuracy_.at(name);
      stages.push_back(row);
    }
    nlohmann::json sets = nlohmann::json::array(), classify = nlohmann::json::array();
    for (const auto& name : set_order_) sets.push_back(sets_.at(name));
    for (const auto& [name, info] : classify_sets_) classify.push_back(info);
    const nlohmann::json report = {{"primary_set", primary_}, {"model", model_}, {"stages", stages}, {"sets", sets},
                                   {"classification_sets", classify}, {"comparisons", comparisons_}, {"timeline", timeline_},
                                   {"settings", settings_}, {"seconds", seconds_since(start_)}};
    write_file_atomically(out_ / "report.json", report.dump(2) + "\n");
    write_markdown();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

  static size_t self_peak_rss() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return size_t(usage.ru_maxrss) * 1024;
  }

  void write_markdown() const {
    std::string md = "# Bg2Vec demo: the LLM2Vec recipe on " + model_ + "\n\n";
    md += "Total time " + fixed(seconds_since(start_) / 60, 1) + " min. Every stage below was run as the `bg2vec` command printed in "
          "the log; `report.json` holds the same figures. The held-out sets were never trained on; settings were chosen on the "
          "dev sets only.\n\n";
    if (!notice_.empty()) md += notice_ + "\n\n";
    md += headline();
    for (const auto& set : set_order_) {
      const auto& info = sets_.at(set);
      md += "## Held-out set `" + set + "`\n\n" + std::string(info["description"]) + " (" + std::to_string(int(info["queries"])) +
            " queries, " + std::to_string(int(info["documents"])) + " documents).\n\n";
      md += "| stage | what | recall@1 | recall@10 | recall@100 | mrr@10 | nDCG@10 |\n|---|---|---:|---:|---:|---:|---:|\n";
      std::vector<Bar> bars;
      for (const auto& name : order_) {
        const auto& m = results_.at(name).at(set);
        md += "| " + name + " | " + descriptions_.at(name);
        for (const char* key : {"recall@1", "recall@10", "recall@100", "mrr@10", "ndcg@10"}) md += " | " + fixed(m[key], 3);
        if (m.contains("ndcg@10 seed 2")) md += " (seed 2: " + fixed(m["ndcg@10 seed 2"], 3) + ")";
        md += " |\n";
        bars.push_back({name, m["ndcg@10"]});
      }
      const std::string chart = "ndcg-" + set + ".svg";
      write_file_atomically(out_ / chart, bar_chart("nDCG@10 on " + set, bars));
      md += "\n![nDCG@10 per stage on " + set + "](" + chart + ")\n\n";
      for (const auto& c : comparisons_)
        if (c["set"] == set)
          md += "Paired bootstrap over queries, nDCG@10 of `" + std::string(c["a"]) + "` minus `" + std::string(c["b"]) +
                "` (averaged over seeds 1 and 2): " + signed_fixed(c["mean_difference"]) + ", 95% interval [" +
                signed_fixed(c["ci95"][0]) + ", " + signed_fixed(c["ci95"][1]) + "].\n\n";
    }
    for (const auto& [set, info] : classify_sets_) {
      md += "## Classification set `" + set + "`\n\nLinear probe (logistic regression on the frozen embeddings) trained on " +
            std::to_string(int(info["train"])) + " texts, accuracy on " + std::to_string(int(info["test"])) + ".\n\n";
      md += "| stage | accuracy |\n|---|---:|\n";
      for (const auto& name : order_)
        if (accuracy_.count(name)) md += "| " + name + " | " + fixed(accuracy_.at(name).at(set), 3) + " |\n";
      md += "\n";
    }
    md += "## Stages\n\n| stage | what | time | peak memory | steps | tokens/s | loss first -> last |\n"
          "|---|---|---:|---:|---:|---:|---|\n";
    for (const auto& t : timeline_) {
      md += "| " + std::string(t["name"]) + " | " + std::string(t["description"]) + " | " + fixed(double(t["seconds"]), 0) + " s | " +
            fixed(double(t["peak_rss_bytes"]) / (1 << 20), 0) + " MiB | ";
      if (t.contains("steps"))
        md += std::to_string(int(t["steps"])) + " | " + fixed(double(t["tokens_per_s"]), 0) + " | " + fixed(t["first_loss"], 3) +
              " -> " + fixed(t["final_loss"], 3) + " |\n";
      else
        md += " | | |\n";
    }
    md += "\n";
    for (const auto& t : timeline_)
      if (t.contains("encodings")) {
        md += "Evaluation, one encoding of every held-out text per model folder and attention:\n\n"
              "| model | texts | tokens | time | tokens/s |\n|---|---:|---:|---:|---:|\n";
        for (const auto& e : t["encodings"])
          md += "| " + std::string(e["model"]) + " | " + std::to_string(int(e["texts"])) + " | " + std::to_string(int(e["tokens"])) +
                " | " + fixed(double(e["seconds"]), 0) + " s | " + fixed(double(e["tokens_per_s"]), 0) + " |\n";
        md += "\n";
      }
    for (const auto& t : timeline_)
      if (t.contains("loss_chart")) md += "![" + std::string(t["name"]) + " loss](" + std::string(t["loss_chart"]) + ")\n";
    md += "\n## Settings\n\n```json\n" + settings_.dump(2) + "\n```\n";
    write_file_atomically(out_ / "report.md", md);
  }

  // What the recipe added on the primary set: the final encoder against the raw model's best row.
  std::string headline() const {
    if (!results_.count("mntp-simcse-mean") || !results_.count("causal-mean")) return "";
    auto ndcg = [&](const std::string& stage) { return double(results_.at(stage).at(primary_).at("ndcg@10")); };
    std::string best_raw = "causal-mean";
    for (const char* raw : {"causal-weighted-mean", "causal-last", "bidirectional-mean"})
      if (results_.count(raw) && ndcg(raw) > ndcg(best_raw)) best_raw = raw;
    std::string md = "**On `" + primary_ + "`**: nDCG@10 " + fixed(ndcg("causal-mean"), 3) + " (causal-mean) -> " +
                     fixed(ndcg("mntp-simcse-mean"), 3) + " (mntp-simcse-mean), " + signed_fixed(ndcg("mntp-simcse-mean") - ndcg("causal-mean")) +
                     "; the best raw-model row is " + best_raw + " (" + fixed(ndcg(best_raw), 3) + ")";
    if (results_.count("causal-simcse-mean")) md += "; SimCSE alone on the causal model: " + fixed(ndcg("causal-simcse-mean"), 3);
    return md + ".\n\n";
  }

  static std::string fixed(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  static std::string signed_fixed(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3f", v);
    return buf;
  }

  std::filesystem::path out_;
  nlohmann::json settings_;
  std::string primary_, model_, notice_;
  Clock::time_point start_, stage_start_;
  nlohmann::json current_;
  std::vector<nlohmann::json> timeline_;
  std::vector<std::string> order_, set_order_;
  std::map<std::string, std::string> descriptions_;
  std::map<std::string, nlohmann::json> results_;      // stage -> set -> metrics
  std::map<std::string, nlohmann::json> sets_, classify_sets_;
  std::map<std::string, std::map<std::string, double>> accuracy_;   // stage -> classification set -> accuracy
  std::vector<nlohmann::json> comparisons_;
};

}  // namespace bg2vec::demo
