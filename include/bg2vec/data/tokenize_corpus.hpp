#pragma once
// articles.jsonl -> token shards for (M)NTP training, the LLM2Vec data preparation: every document
// starts with BOS, documents are concatenated and cut into blocks of `seq_len` tokens (the tail that
// does not fill a block is dropped), and whole documents go to the validation split by their id.
// Tokenization runs on `threads` threads over batches of articles; the output does not depend on
// the number of threads. DIR/meta.json records what was done.
#include <bg2vec/core/progress.hpp>
#include <bg2vec/data/shards.hpp>
#include <bg2vec/data/split.hpp>
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/tokenizer.hpp>

#include <future>
#include <memory>
#include <nlohmann/json.hpp>

namespace bg2vec::data {

struct TokenizeOptions {
  uint32_t seq_len = 512;
  double val_fraction = 0.05;
  std::unordered_set<std::string> exclude;     // article ids kept out of both splits
  uint64_t shard_tokens = uint64_t(1) << 27;   // tokens per shard file (256 MB at uint16)
  int threads = 2;
  bool progress = true;
};

struct SplitStats {
  uint64_t documents = 0, tokens = 0, blocks = 0, dropped_tokens = 0;
  int shards = 0;
};

struct TokenizeStats {
  SplitStats train, val;
  uint64_t excluded = 0;
  double seconds = 0;
};

namespace tokenize_detail {

// Concatenates documents and writes full blocks into rolling shard files of one split.
class BlockPacker {
 public:
  BlockPacker(std::filesystem::path dir, std::string split, uint32_t vocab_size, const TokenizeOptions& options)
      : dir_(std::move(dir)), split_(std::move(split)), vocab_size_(vocab_size), options_(options) {
    next_shard();   // every split has at least one (possibly empty) shard
  }

  void add_document(const std::vector<int32_t>& ids) {
    ++stats_.documents;
    pending_.insert(pending_.end(), ids.begin(), ids.end());
    size_t start = 0;
    for (; pending_.size() - start >= options_.seq_len; start += options_.seq_len) {
      if (writer_->num_tokens() + options_.seq_len > std::max<uint64_t>(options_.shard_tokens, options_.seq_len)) {
        writer_->finish();
        next_shard();
      }
      writer_->write_block(std::span(pending_).subspan(start, options_.seq_len));
      ++stats_.blocks;
      stats_.tokens += options_.seq_len;
    }
    pending_.erase(pending_.begin(), pending_.begin() + long(start));
  }

  SplitStats finish() {
    writer_->finish();
    stats_.dropped_tokens = pending_.size();
    return stats_;
  }

 private:
  void next_shard() {
    writer_ = std::make_unique<ShardWriter>(shard_path(dir_, split_, stats_.shards++), vocab_size_, options_.seq_len);
  }

  std::filesystem::path dir_;
  std::string split_;
  uint32_t vocab_size_;
  const TokenizeOptions& options_;
  std::unique_ptr<ShardWriter> writer_;
  std::vector<int32_t> pending_;
  SplitStats stats_;
};

inline nlohmann::ordered_json split_json(const SplitStats& s) {
  return {{"documents", s.documents}, {"tokens", s.tokens}, {"blocks", s.blocks},
          {"dropped_tokens", s.dropped_tokens}, {"shards", s.shards}};
}

}  // namespace tokenize_detail

inline TokenizeStats tokenize_corpus(const text::Tokenizer& tokenizer, const std::filesystem::path& articles,
                                     const std::filesystem::path& out_dir, const TokenizeOptions& options = {}) {
  if (options.seq_len < 2) fail("sequence length must be at least 2");
  if (!(options.val_fraction >= 0 && options.val_fraction < 1)) fail("validation fraction must be in [0, 1)");
  std::filesystem::create_directories(out_dir);
  for (const char* split : {"train", "val"})          // shards of an earlier run would be read as ours
    for (int i = 0; std::filesystem::remove(shard_path(out_dir, split, i)); ++i) {}
  const auto vocab = uint32_t(tokenizer.vocab_size());
  tokenize_detail::BlockPacker train(out_dir, "train", vocab, options), val(out_dir, "val", vocab, options);
  TokenizeStats stats;
  Progress progress("data tokenize", 0, "articles");

  text::ArticleReader reader(articles);
  constexpr size_t batch_size = 1024;       // articles per parallel round
  std::vector<text::Article> batch;
  std::vector<std::vector<int32_t>> ids;
  const size_t threads = size_t(std::max(1, options.threads));
  for (bool more = true; more;) {
    batch.clear();
    text::Article article;
    while (batch.size() < batch_size && (more = reader.next(article))) {
      if (options.exclude.count(article.id)) { ++stats.excluded; continue; }
      batch.push_back(std::move(article));
    }
    ids.assign(batch.size(), {});
    std::vector<std::future<void>> workers;
    for (size_t t = 0; t < threads; ++t)
      workers.push_back(std::async(std::launch::async, [&, t] {
        for (size_t i = t; i < batch.size(); i += threads) ids[i] = tokenizer.encode(batch[i].text, true, false);
      }));
    for (auto& w : workers) w.get();
    for (size_t i = 0; i < batch.size(); ++i)
      (in_validation_split(batch[i].id, options.val_fraction) ? val : train).add_document(ids[i]);
    if (options.progress)
      progress.update(double(reader.line_number()), std::to_string(stats.train.tokens) + " tokens");
  }
  stats.train = train.finish();
  stats.val = val.finish();
  stats.seconds = progress.seconds();

  const nlohmann::ordered_json meta = {
      {"format", "bg2vec token shards v1 (see docs/data.md)"}, {"tokenizer", tokenizer.path().string()},
      {"vocab_size", vocab}, {"token_bytes", token_bytes_for(vocab)}, {"seq_len", options.seq_len},
      {"bos_per_document", true}, {"val_fraction", options.val_fraction}, {"excluded_articles", stats.excluded},
      {"train", tokenize_detail::split_json(stats.train)}, {"val", tokenize_detail::split_json(stats.val)}};
  write_file_atomically(out_dir / "meta.json", meta.dump(2) + "\n");
  if (options.progress)
    progress.finish(std::to_string(stats.train.blocks) + " train + " + std::to_string(stats.val.blocks) +
                    " val blocks of " + std::to_string(options.seq_len) + " tokens");
  return stats;
}

}  // namespace bg2vec::data
