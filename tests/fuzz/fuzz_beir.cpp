// BEIR loaders (eval/beir.hpp): corpus.jsonl, queries.jsonl and qrels/test.tsv, cut from one input at
// each "\n\x01\n", then the whole set as `eval retrieval --beir` loads it.
#include "fuzz_support.hpp"

#include <bg2vec/eval/beir.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto parts = fuzz::split(fuzz::text(data, size), "\n\x01\n", 3);
  const auto corpus = fuzz::write_file("beir/corpus.jsonl", parts[0]);
  const auto queries = fuzz::write_file("beir/queries.jsonl", parts[1]);
  const auto qrels = fuzz::write_file("beir/qrels/test.tsv", parts[2]);
  fuzz::refusals_allowed([&] { (void)eval::load_corpus(corpus); });
  fuzz::refusals_allowed([&] { (void)eval::load_queries(queries); });
  fuzz::refusals_allowed([&] { (void)eval::load_qrels(qrels); });
  fuzz::refusals_allowed([&] {
    const eval::BeirDataset set = eval::load_beir(corpus.parent_path());
    for (const auto& q : set.queries) fuzz::check(set.qrels.count(q.id) == 1, "every query kept is judged");
  });
  return 0;
}
