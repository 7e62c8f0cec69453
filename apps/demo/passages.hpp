#pragma once
// Passage-level held-out sets from the shipped dump excerpt (data/bgwiki: the article "Григориански
// календар" and two project pages, one a talk archive of some sixty threads). Nothing of the excerpt is
// trained on. Each page is cut into its level-2 sections (the lead section is titled by the page), each
// section's plain text into passages of about 100-300 words (data::make_passages), and
//   wiki-sections     query = a section's heading; relevant = every passage of that section
//   wiki-cloze        query = a passage's first sentence, taken out of it; relevant = the rest of the
//                     passage (the inverse cloze task of Lee et al. 2019, at passage level)
//   dev-sections      like wiki-sections for another third of the sections (by a stable hash): where
//                     settings may be chosen
// Every set searches the same corpus (all passages; the cloze set's with its query sentences taken out),
// so a heading competes against every other section of the excerpt.
#include "corpus.hpp"

#include <bg2vec/data/retrieval_set.hpp>
#include <bg2vec/text/wiki_dump.hpp>
#include <bg2vec/text/wikitext.hpp>

namespace bg2vec::demo {

struct PassageSetOptions {
  size_t min_words = 100, max_words = 300;   // of a passage (a section shorter than min_words is one passage)
  size_t min_passage_words = 40;             // shorter sections (link lists, stubs) make no passage
  size_t min_query_words = 6, min_rest_words = 40;   // of a cloze query and of what stays of its passage
  double dev_fraction = 1.0 / 3;             // of the sections, for dev-sections
  size_t max_sections = 0;                   // sections with passages taken, in dump order (0: all)
};

struct Section {
  std::string id, page_title, heading, text;   // text: plain, one paragraph per line
};

namespace passage_detail {

// A wikitext line that opens a level-2 section: "== Heading ==" (not "=== ... ===").
inline bool is_level2_heading(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  return line.size() > 4 && line.starts_with("==") && line[2] != '=' && line.ends_with("==") &&
         line[line.size() - 3] != '=';
}

// The sections of one page's wikitext; the text before the first heading is titled by the page.
inline std::vector<Section> split_sections(const text::WikiPage& page) {
  std::vector<Section> out;
  std::string heading = page.title, body;
  auto flush = [&] {
    std::string plain = text::clean_wikitext(body);
    if (!plain.empty()) out.push_back({page.id + "-" + std::to_string(out.size()), page.title, heading, std::move(plain)});
    body.clear();
  };
  std::string_view rest = page.text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (is_level2_heading(line)) {
      flush();
      heading = text::clean_wikitext(line);
    } else {
      body.append(line).push_back('\n');
    }
  }
  flush();
  return out;
}

}  // namespace passage_detail

// Every section of every page (all namespaces) of a dump, in dump order.
inline std::vector<Section> dump_sections(const std::filesystem::path& dump) {
  std::vector<Section> sections;
  for (int ns : {0, 4}) {                 // articles, then project pages ("Уикипедия:")
    text::WikiDumpReader reader(dump, ns);
    reader.read([&](const text::WikiPage& page) {
      if (page.ns != ns || page.redirect || page.text.empty()) return;
      for (auto& s : passage_detail::split_sections(page)) sections.push_back(std::move(s));
    });
  }
  return sections;
}

struct PassageSets {
  std::vector<EvalSet> test;   // wiki-sections, wiki-cloze
  EvalSet dev;                 // dev-sections
  size_t sections = 0, passages = 0;
};

inline PassageSets build_passage_sets(const std::filesystem::path& dump, const std::filesystem::path& out,
                                      const PassageSetOptions& options = {}) {
  using corpus_detail::BeirWriter;
  PassageSets result;
  EvalSet sections_set{"wiki-sections", "query: a section heading of the dump excerpt; relevant: the section's passages (100-300 words)",
                       out / "eval" / "wiki-sections"};
  EvalSet cloze_set{"wiki-cloze", "query: a passage's first sentence, taken out of it; relevant: the rest of the passage",
                    out / "eval" / "wiki-cloze"};
  EvalSet dev_set{"dev-sections", "like wiki-sections, for other sections: where the settings were chosen",
                  out / "eval" / "dev-sections"};
  BeirWriter sections_writer(sections_set.dir), cloze_writer(cloze_set.dir), dev_writer(dev_set.dir);
  for (const Section& section : dump_sections(dump)) {
    if (options.max_sections > 0 && result.sections >= options.max_sections) break;
    std::vector<std::string> ids;
    size_t k = 0;
    for (const std::string& passage : data::make_passages(section.text, options.min_words, options.max_words)) {
      if (data::word_count(passage) < options.min_passage_words) continue;
      const std::string id = section.id + "-" + std::to_string(k++);
      ids.push_back(id);
      sections_writer.document(id, passage);
      dev_writer.document(id, passage);
      // The cloze corpus holds every passage; those whose first sentence became a query, without it.
      const auto sentences = text::split_sentences(passage);
      const std::string_view first = sentences.empty() ? std::string_view{} : sentences.front();
      const std::string_view rest =
          first.empty() ? std::string_view{} : std::string_view(passage).substr(size_t(first.data() + first.size() - passage.data()));
      if (sentences.size() >= 3 && data::word_count(first) >= options.min_query_words &&
          data::word_count(rest) >= options.min_rest_words) {
        cloze_writer.document(id, std::string(corpus_detail::trim(rest)));
        cloze_writer.query("q" + id, std::string(first), id);
        ++cloze_set.queries;
      } else {
        cloze_writer.document(id, passage);
      }
      ++result.passages;
    }
    if (ids.empty()) continue;
    ++result.sections;
    const double u = double(data::stable_hash(section.id + section.heading) >> 11) * 0x1.0p-53;
    EvalSet& set = u < options.dev_fraction ? dev_set : sections_set;
    BeirWriter& writer = u < options.dev_fraction ? dev_writer : sections_writer;
    writer.query("q" + section.id, section.heading, ids);
    ++set.queries;
  }
  if (result.passages == 0) fail(dump, "no passage of at least " + std::to_string(options.min_passage_words) + " words in the dump");
  sections_set.documents = dev_set.documents = cloze_set.documents = result.passages;
  sections_writer.commit();
  cloze_writer.commit();
  dev_writer.commit();
  result.test = {sections_set, cloze_set};
  result.dev = dev_set;
  return result;
}

}  // namespace bg2vec::demo
