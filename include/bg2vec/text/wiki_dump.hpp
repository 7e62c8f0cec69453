#pragma once
// Streaming reader of a MediaWiki XML export (pages-articles dump, plain or bz2): calls back once per
// <page> with its id, title, namespace, redirect flag and wikitext. Memory is bounded by the largest
// page, not by the dump: expat parses the chunks as they are decompressed, and the text of pages
// outside the wanted namespace is not even collected.
#include <bg2vec/core/error.hpp>
#include <bg2vec/text/prefetch.hpp>

#include <cstring>
#include <expat.h>
#include <functional>
#include <string>

namespace bg2vec::text {

struct WikiPage {
  std::string id;         // the page id (<page><id>), kept as text: it is only ever an identifier
  std::string title;
  int ns = 0;             // namespace: 0 = articles
  bool redirect = false;
  std::string text;       // the wikitext; empty for pages outside the wanted namespace
};

struct DumpStats {
  uint64_t pages = 0;             // all <page> elements seen
  uint64_t xml_bytes = 0;         // uncompressed XML parsed
};

class WikiDumpReader {
 public:
  using PageHandler = std::function<void(const WikiPage&)>;
  using ProgressHandler = std::function<void(const DumpStats&)>;

  // `text_namespace`: pages in this namespace get their text collected (others arrive with empty text).
  explicit WikiDumpReader(std::filesystem::path dump, int text_namespace = 0)
      : path_(std::move(dump)), text_namespace_(text_namespace) {}

  // Parses the whole dump; throws bg2vec::Error naming the file and the position of the first problem.
  DumpStats read(const PageHandler& on_page, const ProgressHandler& on_progress = {}) {
    on_page_ = &on_page;
    Parser parser;
    XML_SetUserData(parser.get(), this);
    XML_SetElementHandler(parser.get(), &start_element, &end_element);
    XML_SetCharacterDataHandler(parser.get(), &character_data);

    PrefetchingReader source(path_);
    stats_ = {};
    for (;;) {
      const std::string_view chunk = source.next();
      if (stats_.xml_bytes == 0 && chunk.empty()) fail(path_, "empty dump (no XML at all)");
      stats_.xml_bytes += chunk.size();
      if (XML_Parse(parser.get(), chunk.data(), int(chunk.size()), chunk.empty()) != XML_STATUS_OK)
        report_parse_error(parser.get());
      if (chunk.empty()) break;
      if (on_progress) on_progress(stats_);
    }
    if (!seen_root_) fail(path_, "not a MediaWiki dump: no <mediawiki> root element");
    return stats_;
  }

 private:
  struct Parser {
    Parser() : p(XML_ParserCreate("UTF-8")) {
      if (!p) fail("cannot create an XML parser (out of memory)");
    }
    ~Parser() { XML_ParserFree(p); }
    XML_Parser get() const { return p; }
    XML_Parser p;
  };

  enum class Field { None, Title, Ns, Id, Text };

  [[noreturn]] void report_parse_error(XML_Parser p) {
    const XML_Error code = XML_GetErrorCode(p);
    std::string problem = XML_ErrorString(code);
    if (code == XML_ERROR_INVALID_TOKEN) problem += " (malformed XML or invalid UTF-8)";
    if (code == XML_ERROR_NO_ELEMENTS) problem += " (the XML ends before the dump is complete)";
    fail(path_, "XML error at line " + std::to_string(XML_GetCurrentLineNumber(p)) + ", column " +
                    std::to_string(XML_GetCurrentColumnNumber(p) + 1) + " (byte " +
                    std::to_string(XML_GetCurrentByteIndex(p)) + " of the XML): " + problem);
  }

  static bool is(const XML_Char* name, const char* wanted) { return std::strcmp(name, wanted) == 0; }

  static void start_element(void* self_ptr, const XML_Char* name, const XML_Char**) {
    auto& self = *static_cast<WikiDumpReader*>(self_ptr);
    const int depth = ++self.depth_;
    self.field_ = Field::None;
    if (depth == 1) {   // refused at once: any other XML file would otherwise pass for an empty dump
      if (!is(name, "mediawiki"))
        fail(self.path_, "not a MediaWiki dump: the root element is <" + std::string(name) + ">, not <mediawiki>");
      self.seen_root_ = true;
    } else if (depth == 2 && is(name, "page")) {
      self.in_page_ = true;
      self.page_.id.clear(); self.page_.title.clear(); self.page_.text.clear();
      self.page_.ns = 0; self.page_.redirect = false;
      self.ns_text_.clear();
    } else if (self.in_page_ && depth == 3) {
      if (is(name, "title")) self.field_ = Field::Title;
      else if (is(name, "ns")) self.field_ = Field::Ns;
      else if (is(name, "id")) self.field_ = Field::Id;
      else if (is(name, "redirect")) self.page_.redirect = true;
    } else if (self.in_page_ && depth == 4 && is(name, "text") && self.page_.ns == self.text_namespace_) {
      self.field_ = Field::Text;
    }
  }

  static void end_element(void* self_ptr, const XML_Char*) {
    auto& self = *static_cast<WikiDumpReader*>(self_ptr);
    const int depth = self.depth_--;
    if (self.field_ == Field::Ns) self.page_.ns = parse_namespace(self);
    self.field_ = Field::None;
    if (depth == 2 && self.in_page_) {
      self.in_page_ = false;
      ++self.stats_.pages;
      (*self.on_page_)(self.page_);
    }
  }

  static int parse_namespace(WikiDumpReader& self) {
    try {
      size_t used = 0;
      const int ns = std::stoi(self.ns_text_, &used);
      if (used == self.ns_text_.size()) return ns;
    } catch (const std::exception&) {}
    fail(self.path_, "page '" + self.page_.title + "' has a non-numeric <ns>: '" + self.ns_text_ + "'");
  }

  static void character_data(void* self_ptr, const XML_Char* data, int length) {
    auto& self = *static_cast<WikiDumpReader*>(self_ptr);
    switch (self.field_) {
      case Field::None: return;
      case Field::Title: self.page_.title.append(data, size_t(length)); return;
      case Field::Ns: self.ns_text_.append(data, size_t(length)); return;
      case Field::Id: self.page_.id.append(data, size_t(length)); return;
      case Field::Text: self.page_.text.append(data, size_t(length)); return;
    }
  }

  std::filesystem::path path_;
  int text_namespace_;
  const PageHandler* on_page_ = nullptr;
  DumpStats stats_;
  WikiPage page_;
  std::string ns_text_;
  Field field_ = Field::None;
  int depth_ = 0;
  bool in_page_ = false, seen_root_ = false;
};

}  // namespace bg2vec::text
