#pragma once
// articles.jsonl: one {"id","title","text"} object per line, the hand-over between `wiki extract` and
// everything downstream (tokenizer training, token shards, SimCSE sentences, the retrieval set).
// `TextReader` also reads plain text (one text per line), so that those commands accept either.
#include <bg2vec/core/error.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace bg2vec::text {

struct Article {
  std::string id, title, text;
};

inline std::string article_json_line(const Article& a) {
  const nlohmann::ordered_json j = {{"id", a.id}, {"title", a.title}, {"text", a.text}};
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

// Reads articles.jsonl (or, with Format::PlainText, one text per line, id = line number).
class ArticleReader {
 public:
  enum class Format { Auto, Jsonl, PlainText };

  explicit ArticleReader(std::filesystem::path path, Format format = Format::Auto)
      : path_(std::move(path)), in_(path_, std::ios::binary), format_(format) {
    if (!in_) fail(path_, "cannot open for reading");
    if (format_ == Format::Auto) format_ = path_.extension() == ".jsonl" ? Format::Jsonl : Format::PlainText;
  }

  // The next article; false at the end of the file. Blank lines are skipped.
  bool next(Article& article) {
    while (std::getline(in_, line_)) {
      ++line_number_;
      if (line_.empty() || line_.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (format_ == Format::PlainText) {
        article = {std::to_string(line_number_), "", line_};
        return true;
      }
      try {
        const auto j = nlohmann::json::parse(line_);
        article.id = field(j, "id");
        article.title = j.contains("title") ? field(j, "title") : "";
        article.text = field(j, "text");
      } catch (const nlohmann::json::exception& e) {
        fail(path_, "line " + std::to_string(line_number_) + ": not an article object: " + e.what());
      }
      return true;
    }
    if (in_.bad()) fail(path_, "read error after line " + std::to_string(line_number_));
    return false;
  }

  size_t line_number() const { return line_number_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  // "id" may be written as a number or a string; the other fields are strings.
  static std::string field(const nlohmann::json& j, const char* name) {
    const auto& v = j.at(name);
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    return v.get<std::string>();
  }

  std::filesystem::path path_;
  std::ifstream in_;
  Format format_;
  std::string line_;
  size_t line_number_ = 0;
};

}  // namespace bg2vec::text
