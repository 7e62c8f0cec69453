// Tokenization speed: trains a BPE tokenizer on the shipped WikiANN sentences, then measures
// tokens/s of Tokenizer::encode and of `data tokenize` (tokenize_corpus) on one and on two threads.
//   bench_tokenize [--vocab-size 8000] [--repeat 4]
#include <bg2vec/data/tokenize_corpus.hpp>
#include <bg2vec/text/bz2_stream.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace bg2vec;

// CPU seconds of the process (all threads): wall-clock figures mean little on a busy machine.
static double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

static double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  int vocab_size = 8000, repeat = 4;
  po::options_description options("bench_tokenize");
  options.add_options()("vocab-size", po::value(&vocab_size), "tokenizer vocabulary")
                       ("repeat", po::value(&repeat), "copies of the corpus to tokenize");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);

  const fs::path dir = fs::temp_directory_path() / ("bg2vec-bench-tokenize-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  text::DumpSource source(fs::path(BG2VEC_REPO_DATA) / "corpus/wikiann-bg.sentences.txt.bz2");
  std::string all(8 << 20, '\0');
  all.resize(source.read(all.data(), all.size()));
  std::vector<std::string> lines;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  {   // documents of 10 sentences, the corpus repeated `repeat` times with fresh ids
    std::ofstream out(dir / "articles.jsonl");
    for (int r = 0; r < repeat; ++r)
      for (size_t i = 0; i + 10 <= lines.size(); i += 10) {
        text::Article a{std::to_string(r) + "-" + std::to_string(i), "", ""};
        for (size_t k = i; k < i + 10; ++k) a.text += lines[k] + (k + 1 < i + 10 ? "\n" : "");
        out << text::article_json_line(a);
      }
  }

  auto start = std::chrono::steady_clock::now();
  text::TokenizerTrainOptions train;
  train.vocab_size = vocab_size;
  text::train_tokenizer(dir / "articles.jsonl", dir / "tok.model", train);
  std::printf("train BPE %d on %.1f MB: %.1f s\n", vocab_size, double(all.size()) / 1e6 * repeat, seconds_since(start));
  const text::Tokenizer tokenizer(dir / "tok.model");

  start = std::chrono::steady_clock::now();
  double cpu = cpu_seconds();
  size_t tokens = 0;
  for (const auto& line : lines) tokens += tokenizer.encode(line).size();
  const double encode_s = seconds_since(start);
  cpu = cpu_seconds() - cpu;
  std::printf("Tokenizer::encode, 1 thread: %zu tokens in %.2f s = %.0f tokens/s (%.2f MB/s of text); "
              "%.0f tokens/CPU-s\n", tokens, encode_s, double(tokens) / encode_s, double(all.size()) / 1e6 / encode_s,
              double(tokens) / cpu);

  for (int threads : {1, 2}) {
    data::TokenizeOptions o;
    o.threads = threads;
    o.progress = false;
    const double cpu_before = cpu_seconds();
    const auto stats = data::tokenize_corpus(tokenizer, dir / "articles.jsonl", dir / "shards", o);
    const double cpu_used = cpu_seconds() - cpu_before;
    const uint64_t all_tokens = stats.train.tokens + stats.val.tokens + stats.train.dropped_tokens + stats.val.dropped_tokens;
    std::printf("data tokenize, %d thread%s: %llu tokens in %.2f s = %.0f tokens/s; %.2f CPU-s = %.0f tokens/CPU-s\n",
                threads, threads > 1 ? "s" : "", (unsigned long long)all_tokens, stats.seconds,
                double(all_tokens) / stats.seconds, cpu_used, double(all_tokens) / cpu_used);
  }
  fs::remove_all(dir);
}
