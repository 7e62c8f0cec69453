#pragma once
// Which articles go where: a validation split decided by the article id alone (so it does not depend
// on the order or the number of articles, and is the same on every run and machine), and the list of
// articles held out of training (e.g. those whose passages the retrieval set asks for).
#include <bg2vec/core/error.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_set>

namespace bg2vec::data {

// FNV-1a over the bytes, then the splitmix64 finaliser: FNV alone leaves the high bits of short,
// similar ids ("id1", "id2", ...) poorly mixed. Stable across runs, machines and library versions.
inline uint64_t stable_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) { h ^= c; h *= 0x100000001b3ull; }
  h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27; h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// True for the articles of the validation split: about `fraction` of them.
inline bool in_validation_split(std::string_view article_id, double fraction) {
  const double u = double(stable_hash(article_id) >> 11) * 0x1.0p-53;   // uniform in [0, 1)
  return u < fraction;
}

// Article ids, one per line (blank lines ignored).
inline std::unordered_set<std::string> read_id_list(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail(file, "cannot open the id list");
  std::unordered_set<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) ids.insert(line);
  }
  return ids;
}

}  // namespace bg2vec::data
