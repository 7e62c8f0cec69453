#pragma once
// JSON Lines (one JSON value per line): reading with errors that name the file and line, writing
// through AtomicFile. Blank lines are skipped; a line that is not JSON is an error, never skipped.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/error.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace bg2vec {

// Calls visit(value, line_number) for each line of `file`.
template <class Visit>
void read_jsonl(const std::filesystem::path& file, Visit&& visit) {
  if (!std::filesystem::exists(file)) fail(file, "no such file");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open for reading");
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {   // parse_error, and out_of_range for a number like 1e999
      fail(file.string() + ":" + std::to_string(number), std::string("bad JSON: ") + e.what());
    }
    visit(value, number);
  }
  if (in.bad()) fail(file, "read error");
}

// The string field `key` of a JSON Lines record, or a clear error naming file, line and key.
inline std::string jsonl_string(const nlohmann::json& record, const char* key, const std::filesystem::path& file,
                                size_t line, bool required = true) {
  const std::string where = file.string() + ":" + std::to_string(line);
  if (!record.is_object()) fail(where, "expected a JSON object");
  auto it = record.find(key);
  if (it == record.end() || it->is_null()) {
    if (required) fail(where, std::string("missing \"") + key + "\"");
    return {};
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());   // ids written as numbers
  fail(where, std::string("\"") + key + "\" must be a string");
}

}  // namespace bg2vec
