// bg2vec data make-retrieval: a BEIR-format retrieval set (corpus, queries, qrels) from articles.
#include "cli.hpp"

#include <bg2vec/data/retrieval_set.hpp>

namespace bg2vec::cli {

static int data_make_retrieval(const Args& args) {
  po::options_description options("options");
  std::string articles, out;
  data::RetrievalSetOptions set;
  options.add_options()
      ("articles", po::value(&articles)->required(), "articles.jsonl")
      ("out", po::value(&out)->required(), "output folder: corpus.jsonl, queries.jsonl, qrels/test.tsv, article_ids.txt")
      ("max-articles", po::value(&set.max_articles)->default_value(set.max_articles),
       "articles in the set, chosen by a hash of their id (0 = all)")
      ("min-words", po::value(&set.min_words)->default_value(set.min_words), "passage length, lower bound (words)")
      ("max-words", po::value(&set.max_words)->default_value(set.max_words), "passage length, upper bound (words)");
  po::variables_map vm;
  if (!parse("data make-retrieval",
             "Builds a BEIR retrieval set: query = an article's first sentence, relevant = the passage it was taken "
             "from, corpus = passages of all selected articles. Exclude DIR/article_ids.txt from training.",
             options, args, vm))
    return 0;
  const auto stats = data::make_retrieval_set(articles, out, set);
  std::printf("%s: %llu queries, %llu passages from %llu articles (exclude %s/article_ids.txt from training)\n",
              out.c_str(), (unsigned long long)stats.queries, (unsigned long long)stats.passages,
              (unsigned long long)stats.articles, out.c_str());
  return 0;
}

static const Command registered_data_make_retrieval{"data make-retrieval", "articles.jsonl -> BEIR retrieval set (corpus, queries, qrels)",
                                data_make_retrieval};

}  // namespace bg2vec::cli
