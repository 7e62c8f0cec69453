#pragma once
// Retrieval results as a reader sees them: a fixed-width text table, a Markdown table and JSON with
// the metric names as keys ("recall@1", "recall@10", "recall@100", "mrr@10", "ndcg@10").
#include <bg2vec/eval/metrics.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace bg2vec::eval {

struct ReportRow {
  std::string name;                     // e.g. "bm25", "causal-mean"
  Metrics metrics;
  std::optional<double> index_recall;   // recall@10 of an approximate index against exact search
};

inline nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : m.named()) j[name] = value;
  return j;
}

inline nlohmann::json report_json(const ReportRow& row) {
  nlohmann::json j = metrics_json(row.metrics);
  j["name"] = row.name;
  if (row.index_recall) j["index_recall@10"] = *row.index_recall;
  return j;
}

namespace detail {
inline std::string fixed(double value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

inline bool any_index_recall(const std::vector<ReportRow>& rows) {
  for (const ReportRow& r : rows)
    if (r.index_recall) return true;
  return false;
}
}  // namespace detail

inline std::string text_table(const std::vector<ReportRow>& rows) {
  size_t width = 6;
  for (const ReportRow& r : rows) width = std::max(width, r.name.size());
  const bool index_column = detail::any_index_recall(rows);
  const auto pad = [](std::string s, size_t w) { return s.size() < w ? s + std::string(w - s.size(), ' ') : s; };
  std::string out = pad("system", width);
  for (const auto& [name, value] : Metrics{}.named()) out += "  " + pad(name, 10);
  if (index_column) out += "  index_recall@10";
  out += "\n";
  for (const ReportRow& r : rows) {
    out += pad(r.name, width);
    for (const auto& [name, value] : r.metrics.named()) out += "  " + pad(detail::fixed(value), 10);
    if (index_column) out += "  " + (r.index_recall ? detail::fixed(*r.index_recall) : std::string("exact"));
    out += "\n";
  }
  return out;
}

inline std::string markdown_table(const std::vector<ReportRow>& rows) {
  const bool index_column = detail::any_index_recall(rows);
  std::string header = "| system |", rule = "|---|";
  for (const auto& [name, value] : Metrics{}.named()) header += " " + name + " |", rule += "---:|";
  if (index_column) header += " index recall@10 |", rule += "---:|";
  std::string out = header + "\n" + rule + "\n";
  for (const ReportRow& r : rows) {
    out += "| " + r.name + " |";
    for (const auto& [name, value] : r.metrics.named()) out += " " + detail::fixed(value) + " |";
    if (index_column) out += " " + (r.index_recall ? detail::fixed(*r.index_recall) : std::string("exact")) + " |";
    out += "\n";
  }
  return out;
}

}  // namespace bg2vec::eval
