// bg2vec index build: encode a corpus and save it as a searchable index folder.
#include "encoder_choice.hpp"

#include <bg2vec/eval/beir.hpp>
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/index/threads.hpp>

#include <chrono>
#include <cstdio>

namespace bg2vec::cli {
namespace {

int index_build(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/true);
  options.add_options()
      ("corpus", po::value<std::string>()->required(), "passages as JSON lines {\"_id\",\"title\",\"text\"} (a BEIR corpus.jsonl)")
      ("factory", po::value<std::string>()->default_value("HNSW32,Flat"), "FAISS index factory: Flat, HNSW32,Flat, IVF1024,Flat, IVF1024,PQ64, ...")
      ("out", po::value<std::string>()->required(), "index folder to write (index.faiss, passages.jsonl, meta.json)");
  po::variables_map vm;
  if (!parse("index build", "Encode the passages of a corpus and build a FAISS index folder for `bg2vec search`.",
             options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const EncoderChoice choice = encoder_choice(vm);
  const std::filesystem::path out = vm["out"].as<std::string>();
  const std::string factory = vm["factory"].as<std::string>();
  const std::vector<index::Passage> corpus = eval::load_corpus(vm["corpus"].as<std::string>());
  const Embedder embedder(choice, vm["batch-size"].as<int>());
  // A bad factory string or too small a corpus to train it fails now, not after encoding.
  const int64_t needed = index::VectorIndex(embedder.dimension(), factory).minimum_training_size();
  if (int64_t(corpus.size()) < needed)
    fail("index \"" + factory + "\" needs at least " + std::to_string(needed) + " passages to train, the corpus has " +
         std::to_string(corpus.size()) + " (use fewer IVF lists / PQ bits, or \"HNSW32,Flat\")");
  const auto start = std::chrono::steady_clock::now();
  const Matrix vectors = embedder.embed(eval::passage_texts(corpus));
  const double encode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  index::PassageStore store;
  for (const index::Passage& p : corpus) store.add(p);
  const auto built = index::PassageIndex::build(factory, vectors, std::move(store),
                                                embedder.info(std::filesystem::absolute(choice.model).string()));
  built.save(out);
  std::printf("indexed %lld passages (%d-d, %s) into %s; encoding %.1f passages/s\n", (long long)built.size(),
              built.dimension(), factory.c_str(), out.c_str(), double(corpus.size()) / encode_seconds);
  return 0;
}

const Command registered_index_build{"index build", "encode a corpus and build a FAISS index folder", index_build};

}  // namespace
}  // namespace bg2vec::cli
