#pragma once
// JSON Lines input: one object per line; errors name the file and the line.
#include <bg2vec/core/error.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bg2vec::io {

// Calls f(object, line_number) for every non-empty line of `file`.
template <class F>
void for_each_json_line(const std::filesystem::path& file, F&& f) {
  std::ifstream in(file);
  if (!in) fail(file, "cannot open");
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(file, "line " + std::to_string(number) + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) fail(file, "line " + std::to_string(number) + ": not a JSON object");
    f(j, number);
  }
}

// The string `field` of every line; a line without it is an error.
inline std::vector<std::string> read_jsonl_field(const std::filesystem::path& file, const std::string& field) {
  std::vector<std::string> out;
  for_each_json_line(file, [&](const nlohmann::json& j, size_t number) {
    if (!j.contains(field) || !j[field].is_string())
      fail(file, "line " + std::to_string(number) + ": no string field \"" + field + "\"");
    out.push_back(j[field].get<std::string>());
  });
  if (out.empty()) fail(file, "no JSON lines: nothing to read");
  return out;
}

}  // namespace bg2vec::io
