// bg2vec data sentences: the SimCSE units (Bulgarian sentences within length limits) of articles.
#include "cli.hpp"

#include <bg2vec/data/simcse_units.hpp>

namespace bg2vec::cli {

static int data_sentences(const Args& args) {
  po::options_description options("options");
  std::string input, out, exclude;
  data::SentenceFileOptions sentences;
  options.add_options()
      ("input", po::value(&input)->required(), "articles.jsonl (or plain text, one document per line)")
      ("out", po::value(&out)->required(), "sentences.txt to write, one unit per line")
      ("min-chars", po::value(&sentences.limits.min_chars)->default_value(sentences.limits.min_chars),
       "shortest unit kept, in characters")
      ("max-chars", po::value(&sentences.limits.max_chars)->default_value(sentences.limits.max_chars),
       "longest unit kept, in characters")
      ("max-units", po::value(&sentences.max_units), "stop after this many units")
      ("exclude", po::value(&exclude), "file of article ids (one per line) to skip")
      ("quiet,q", po::bool_switch(), "no progress on stderr");
  po::variables_map vm;
  if (!parse("data sentences", "Splits articles into sentences (Bulgarian abbreviations, initials and numbers "
             "aware) and writes those within the length limits, each once: the SimCSE training units.",
             options, args, vm))
    return 0;
  sentences.progress = !vm["quiet"].as<bool>();
  if (!exclude.empty()) sentences.exclude = data::read_id_list(exclude);
  const auto stats = data::write_simcse_units(input, out, sentences);
  std::printf("%llu units from %llu articles written to %s (%llu duplicates skipped)\n",
              (unsigned long long)stats.units, (unsigned long long)stats.articles, out.c_str(),
              (unsigned long long)stats.duplicates);
  return 0;
}

static const Command registered_data_sentences{"data sentences", "articles.jsonl -> SimCSE units (sentences), one per line",
                                 data_sentences};

}  // namespace bg2vec::cli
