#pragma once
// Dump -> articles.jsonl: the main-namespace, non-redirect pages of a MediaWiki dump, cleaned to plain
// text, one JSON line each. The output appears only when the whole dump was read (written to a
// temporary file, then renamed); on a damaged dump, `keep_partial` keeps the complete lines so far.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/wiki_dump.hpp>
#include <bg2vec/text/wikitext.hpp>

namespace bg2vec::text {

struct ExtractOptions {
  bool keep_partial = false;     // on an error, keep the articles already extracted (and still throw)
  bool progress = true;          // pages and MB/s on stderr
};

struct ExtractStats {
  uint64_t pages = 0, articles = 0, redirects = 0, other_namespaces = 0, empty = 0;
  uint64_t xml_bytes = 0;
  double seconds = 0;
};

inline ExtractStats extract_articles(const std::filesystem::path& dump, const std::filesystem::path& out_path,
                                     const ExtractOptions& options = {}) {
  ExtractStats stats;
  AtomicFile out(out_path);
  Progress progress("wiki extract", 0, "MB");
  auto on_page = [&](const WikiPage& page) {
    if (page.ns != 0) { ++stats.other_namespaces; return; }
    if (page.redirect) { ++stats.redirects; return; }
    Article article{page.id, page.title, clean_wikitext(page.text)};
    if (article.text.empty()) { ++stats.empty; return; }
    out.stream() << article_json_line(article);
    ++stats.articles;
  };
  auto on_progress = [&](const DumpStats& s) {
    if (options.progress) progress.update(double(s.xml_bytes) / 1e6, std::to_string(s.pages) + " pages");
  };
  try {
    const DumpStats dump_stats = WikiDumpReader(dump).read(on_page, on_progress);
    stats.pages = dump_stats.pages;
    stats.xml_bytes = dump_stats.xml_bytes;
  } catch (const Error&) {
    if (options.keep_partial) out.commit();
    throw;
  }
  out.commit();
  stats.seconds = progress.seconds();
  if (options.progress)
    progress.finish(std::to_string(stats.pages) + " pages, " + std::to_string(stats.articles) + " articles");
  return stats;
}

}  // namespace bg2vec::text
