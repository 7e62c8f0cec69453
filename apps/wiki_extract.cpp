// bg2vec wiki extract: a MediaWiki pages-articles dump (.xml or .xml.bz2) -> articles.jsonl.
#include "cli.hpp"

#include <bg2vec/text/extract.hpp>

namespace bg2vec::cli {

static int wiki_extract(const Args& args) {
  po::options_description options("options");
  std::string dump, out;
  options.add_options()
      ("dump", po::value(&dump)->required(), "the dump: bgwiki-*-pages-articles.xml[.bz2] (multistream too)")
      ("out", po::value(&out)->required(), "articles.jsonl to write: one {\"id\",\"title\",\"text\"} per line")
      ("keep-partial", po::bool_switch(), "on a damaged dump, keep the articles extracted before the error")
      ("quiet,q", po::bool_switch(), "no progress on stderr");
  po::variables_map vm;
  if (!parse("wiki extract",
             "Extracts the main-namespace articles (no redirects) of a Wikipedia dump as plain text.",
             options, args, vm))
    return 0;
  text::ExtractOptions extract;
  extract.keep_partial = vm["keep-partial"].as<bool>();
  extract.progress = !vm["quiet"].as<bool>();
  const auto stats = text::extract_articles(dump, out, extract);
  std::printf("%llu articles written to %s (%llu pages: %llu redirects, %llu in other namespaces, %llu empty)\n",
              (unsigned long long)stats.articles, out.c_str(), (unsigned long long)stats.pages,
              (unsigned long long)stats.redirects, (unsigned long long)stats.other_namespaces,
              (unsigned long long)stats.empty);
  return 0;
}

static const Command registered_wiki_extract{"wiki extract", "Wikipedia dump (.xml[.bz2]) -> articles.jsonl of plain text",
                                wiki_extract};

}  // namespace bg2vec::cli
