#pragma once
// Tab-separated files of the other evaluations: every non-empty line has exactly `columns` fields.
// No header line; a line with another field count or an empty field is an error naming file and line.
#include <bg2vec/core/error.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bg2vec::eval {

// The tab-separated fields of one line (an empty line has one empty field).
inline std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

inline std::vector<std::vector<std::string>> read_tsv(const std::filesystem::path& file, size_t columns,
                                                      const std::string& layout) {
  if (!std::filesystem::exists(file)) fail(file, "no such file");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open for reading");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = split_tabs(line);
    const std::string where = file.string() + ":" + std::to_string(number);
    if (fields.size() != columns)
      fail(where, "expected " + layout + ", got " + std::to_string(fields.size()) + " field(s)");
    for (const std::string& f : fields)
      if (f.find_first_not_of(" \t") == std::string::npos) fail(where, "empty field (expected " + layout + ")");
    rows.push_back(std::move(fields));
  }
  if (rows.empty()) fail(file, "no lines (expected " + layout + ")");
  return rows;
}

}  // namespace bg2vec::eval
