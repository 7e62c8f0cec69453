// bg2vec eval triples: is a paraphrase closer to its original than a look-alike of opposite meaning?
#include "encoder_choice.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/triples.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>

namespace bg2vec::cli {
namespace {

int eval_triples(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/true);
  options.add_options()
      ("triples", po::value<std::string>()->required(), "TSV: original<TAB>paraphrase<TAB>opposite per line")
      ("json", po::value<std::string>(), "write the scores as JSON");
  po::variables_map vm;
  if (!parse("eval triples", "Score hard triples: margin = mean cos(original, paraphrase) - cos(original, opposite), "
                             "accuracy = share of triples with a positive margin.", options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const eval::Triples triples = eval::load_triples(vm["triples"].as<std::string>());
  const Embedder embedder(encoder_choice(vm), vm["batch-size"].as<int>());
  const eval::TripleScores s = eval::score_triples(embedder.embed(triples.originals), embedder.embed(triples.paraphrases),
                                                   embedder.embed(triples.opposites));
  std::printf("%zu triples: margin %.4f, accuracy %.4f\n", triples.size(), s.margin, s.accuracy);
  if (vm.count("json"))
    write_file_atomically(vm["json"].as<std::string>(),
                          nlohmann::json{{"triples", triples.size()}, {"margin", s.margin}, {"accuracy", s.accuracy}}
                                  .dump(2) + "\n");
  return 0;
}

const Command registered_eval_triples{"eval triples", "paraphrase vs opposite margin on hard triples", eval_triples};

}  // namespace
}  // namespace bg2vec::cli
