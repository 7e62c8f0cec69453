#pragma once
// The demo's report: report.json for scripts (the contract's "stages" list, each with the metrics of
// the primary held-out set and of every set), report.md for people (tables, intervals, the settings,
// time and throughput of each stage) with SVG charts of the training losses and of nDCG@10 per stage.
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

namespace bg2vec::demo {

inline std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

class Report {
 public:
  Report(std::filesystem::path out, nlohmann::json settings)
      : out_(std::move(out)), settings_(std::move(settings)), start_(Clock::now()) {}

  void begin_stage(const std::string& name, const std::string& description) {
    std::fprintf(stderr, "\n== %s: %s\n", name.c_str(), description.c_str());
    current_ = {{"name", name}, {"description", description}};
    stage_start_ = Clock::now();
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

  void add_result(const EvalSet& set, const StageSpec& stage, const eval::Metrics& m, double seconds) {
    sets_[set.name] = {{"name", set.name}, {"description", set.description}, {"queries", set.queries}, {"documents", set.documents}};
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [key, value] : m.named()) metrics[key] = value;
    metrics["seconds"] = seconds;
    results_[stage.name][set.name] = metrics;
    if (!descriptions_.count(stage.name)) { order_.push_back(stage.name); descriptions_[stage.name] = stage.description; }
  }

  void add_seed(const EvalSet& set, const std::string& stage, double ndcg) { results_[stage][set.name]["ndcg@10 seed 2"] = ndcg; }

  void add_comparison(const EvalSet& set, const std::string& a, const std::string& b, const Interval& i) {
    comparisons_.push_back({{"set", set.name}, {"a", a}, {"b", b}, {"metric", "ndcg@10"}, {"mean_difference", i.mean},
                            {"ci95", {i.low, i.high}}, {"seeds", 2}});
  }

  void write() const {
    const std::string primary = sets_.empty() ? "" : order_of_sets().front();
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& name : order_) {
      nlohmann::json row = {{"name", name}, {"description", descriptions_.at(name)}};
      for (const auto& [key, value] : results_.at(name).at(primary).items()) row[key] = value;
      row["sets"] = results_.at(name);
      stages.push_back(row);
    }
    nlohmann::json sets = nlohmann::json::array();
    for (const auto& name : order_of_sets()) sets.push_back(sets_.at(name));
    const nlohmann::json report = {{"primary_set", primary}, {"stages", stages}, {"sets", sets}, {"comparisons", comparisons_},
                                   {"timeline", timeline_}, {"settings", settings_}, {"seconds", seconds_since(start_)}};
    write_file_atomically(out_ / "report.json", report.dump(2) + "\n");
    write_markdown();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

  std::vector<std::string> order_of_sets() const {
    std::vector<std::string> names;
    for (const auto& [stage, per_set] : results_)
      for (const auto& [set, m] : per_set.items())
        if (std::find(names.begin(), names.end(), set) == names.end()) names.push_back(set);
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return (a == "wiki-fragments") > (b == "wiki-fragments") || ((a == "wiki-fragments") == (b == "wiki-fragments") && a < b);
    });
    return names;
  }

  void write_markdown() const {
    std::string md = "# Bg2Vec demo: the LLM2Vec recipe on the embedded Bulgarian data\n\n";
    md += "Total time " + fixed(seconds_since(start_) / 60, 1) + " min. Every stage below was run as the `bg2vec` command printed in "
          "the log; `report.json` holds the same figures.\n\n";
    for (const auto& set : order_of_sets()) {
      const auto& info = sets_.at(set);
      md += "## Held-out set `" + set + "`\n\n" + std::string(info["description"]) + " (" + std::to_string(int(info["queries"])) +
            " queries, " + std::to_string(int(info["documents"])) + " documents; never trained on).\n\n";
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
    md += "## Stages\n\n| stage | what | time | steps | tokens/s | loss first -> last |\n|---|---|---:|---:|---:|---|\n";
    for (const auto& t : timeline_) {
      md += "| " + std::string(t["name"]) + " | " + std::string(t["description"]) + " | " + fixed(double(t["seconds"]), 0) + " s | ";
      if (t.contains("steps"))
        md += std::to_string(int(t["steps"])) + " | " + fixed(double(t["tokens_per_s"]), 0) + " | " + fixed(t["first_loss"], 3) +
              " -> " + fixed(t["final_loss"], 3) + " |\n";
      else
        md += " | | |\n";
    }
    md += "\n";
    for (const auto& t : timeline_)
      if (t.contains("loss_chart")) md += "![" + std::string(t["name"]) + " loss](" + std::string(t["loss_chart"]) + ")\n";
    md += "\n## Settings\n\n```json\n" + settings_.dump(2) + "\n```\n";
    write_file_atomically(out_ / "report.md", md);
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
  Clock::time_point start_, stage_start_;
  nlohmann::json current_;
  std::vector<nlohmann::json> timeline_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> descriptions_;
  std::map<std::string, nlohmann::json> results_;      // stage -> set -> metrics
  std::map<std::string, nlohmann::json> sets_;
  std::vector<nlohmann::json> comparisons_;
};

}  // namespace bg2vec::demo
