#pragma once
// The passages behind an index: FAISS id i is passage i of the store, which keeps the corpus's own
// id (BEIR "_id"), the title and the text. Persisted as JSON Lines in the BEIR corpus format
// ({"_id","title","text"}, line i = id i), so the store is itself a corpus other tools can read.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/jsonl.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bg2vec::index {

struct Passage {
  std::string id;      // the corpus's id, e.g. a Wikipedia page id; not the FAISS id
  std::string title;
  std::string text;
};

// What an encoder sees of a passage: title and text joined by a space, as BEIR's dense evaluation does.
inline std::string passage_text(const Passage& p) {
  if (p.title.empty()) return p.text;
  if (p.text.empty()) return p.title;
  return p.title + " " + p.text;
}

class PassageStore {
 public:
  // Appends a passage and returns its FAISS id.
  int64_t add(Passage passage) {
    passages_.push_back(std::move(passage));
    return int64_t(passages_.size()) - 1;
  }

  const Passage& at(int64_t id) const {
    if (id < 0 || id >= size())
      fail("passage id " + std::to_string(id) + " is not in the store (" + std::to_string(size()) + " passages)");
    return passages_[size_t(id)];
  }

  int64_t size() const { return int64_t(passages_.size()); }
  const std::vector<Passage>& passages() const { return passages_; }

  void save(const std::filesystem::path& file) const {
    AtomicFile out(file);
    for (const Passage& p : passages_)
      out.stream() << nlohmann::json{{"_id", p.id}, {"title", p.title}, {"text", p.text}}.dump(
                          -1, ' ', false, nlohmann::json::error_handler_t::replace)   // bad UTF-8 -> U+FFFD
                   << '\n';
    out.commit();
  }

  static PassageStore load(const std::filesystem::path& file) {
    PassageStore store;
    read_jsonl(file, [&](const nlohmann::json& record, size_t line) {
      store.add({jsonl_string(record, "_id", file, line), jsonl_string(record, "title", file, line, false),
                 jsonl_string(record, "text", file, line, false)});
    });
    return store;
  }

 private:
  std::vector<Passage> passages_;
};

}  // namespace bg2vec::index
