#pragma once
// Where training batches come from: fixed-length blocks of token shards (NTP, MNTP) or lines of text
// through a tokenizer (SimCSE's sentences; any objective). Batch i is a pure function of (seed, i):
// epochs walk a seeded permutation, so a resumed run sees exactly the batches it would have seen.
#include <bg2vec/data/shards.hpp>
#include <bg2vec/text/tokenizer.hpp>

#include <array>
#include <fstream>
#include <numeric>
#include <memory>
#include <random>

namespace bg2vec::train {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual TokenBatch batch(uint64_t index) = 0;   // the index-th batch of the stream
  virtual size_t units() const = 0;               // blocks or texts in one epoch
};

namespace detail {
// Positions of batch `index` (size `batch_size`) in a stream of epochs over `n` units.
inline std::vector<size_t> batch_units(uint64_t index, int batch_size, size_t n, uint64_t seed,
                                       std::vector<size_t>& order, uint64_t& order_epoch) {
  std::vector<size_t> out;
  for (int r = 0; r < batch_size; ++r) {
    const uint64_t k = index * uint64_t(batch_size) + uint64_t(r), epoch = k / n;
    if (order.empty() || order_epoch != epoch) {           // Fisher-Yates over mt19937_64 (fixed by the standard)
      order.resize(n);
      for (size_t i = 0; i < n; ++i) order[i] = i;
      std::mt19937_64 rng(seed * 1000003ull + epoch);
      for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[size_t(rng() % i)]);
      order_epoch = epoch;
    }
    out.push_back(order[k % n]);
  }
  return out;
}
}  // namespace detail

// Blocks of a token shard split, cut to seq_len (every token real: shards hold no padding).
class ShardBatches : public BatchSource {
 public:
  ShardBatches(const std::filesystem::path& dir, const std::string& split, int batch_size, int seq_len, uint64_t seed)
      : reader_(dir, split), batch_size_(batch_size), seed_(seed) {
    seq_len_ = std::min<int>(seq_len, int(reader_.seq_len()));
    if (seq_len_ < 2) fail(dir, "sequence length " + std::to_string(seq_len_) + " is too short to predict anything");
  }
  uint32_t vocab_size() const { return reader_.vocab_size(); }
  size_t units() const override { return reader_.num_blocks(); }
  TokenBatch batch(uint64_t index) override {
    TokenBatch b;
    b.batch = batch_size_;
    b.seq_len = seq_len_;
    for (size_t u : detail::batch_units(index, batch_size_, units(), seed_, order_, order_epoch_)) {
      const auto block = reader_.block(u);
      for (int t = 0; t < seq_len_; ++t) b.ids.push_back(block[size_t(t)]);
    }
    b.mask.assign(b.ids.size(), 1);
    return b;
  }

 private:
  data::ShardReader reader_;
  int batch_size_, seq_len_;
  uint64_t seed_;
  std::vector<size_t> order_;
  uint64_t order_epoch_ = ~0ull;
};

// Non-empty lines of a text file, tokenised (BOS added), right-padded to the batch's longest, truncated to
// max_len. With `group_by_length`, every kGroup consecutive batches draw their texts from one slice of the
// epoch's permutation sorted by length, and take the sorted runs in a seeded order: a batch pads to texts
// of about its own length (SimCSE's sentences run from a few tokens to a hundred, so a random batch is
// mostly padding), while which texts an epoch sees is unchanged.
class TextBatches : public BatchSource {
 public:
  static constexpr int kGroup = 16;    // batches per length-sorted slice

  TextBatches(const std::filesystem::path& file, std::shared_ptr<const text::Tokenizer> tokenizer, int batch_size,
              int max_len, uint64_t seed, bool group_by_length = false)
      : tokenizer_(std::move(tokenizer)), batch_size_(batch_size), max_len_(max_len), seed_(seed) {
    std::ifstream in(file);
    if (!in) fail(file, "cannot open");
    for (std::string line; std::getline(in, line);)
      if (line.find_first_not_of(" \t\r") != std::string::npos) lines_.push_back(line);
    if (lines_.empty()) fail(file, "no text (the file has no non-empty line)");
    if (group_by_length)
      for (const auto& line : lines_) lengths_.push_back(tokenizer_->encode(line, /*add_bos=*/true).size());
  }
  size_t units() const override { return lines_.size(); }
  TokenBatch batch(uint64_t index) override {
    std::vector<std::string> texts;
    for (size_t u : units_of(index)) texts.push_back(lines_[u]);
    return tokenizer_->encode_batch(texts, max_len_);
  }

 private:
  std::vector<size_t> units_of(uint64_t index) {
    if (lengths_.empty()) return detail::batch_units(index, batch_size_, units(), seed_, order_, order_epoch_);
    const uint64_t group = index / kGroup;
    std::vector<size_t> slice = detail::batch_units(group, batch_size_ * kGroup, units(), seed_, order_, order_epoch_);
    std::stable_sort(slice.begin(), slice.end(), [&](size_t a, size_t b) { return lengths_[a] < lengths_[b]; });
    std::array<int, kGroup> runs;
    std::iota(runs.begin(), runs.end(), 0);
    std::mt19937_64 rng(seed_ * 7919ull + group);
    for (int i = kGroup; i > 1; --i) std::swap(runs[size_t(i - 1)], runs[size_t(rng() % uint64_t(i))]);
    const auto begin = slice.begin() + long(runs[index % kGroup]) * batch_size_;
    return {begin, begin + batch_size_};
  }

  std::shared_ptr<const text::Tokenizer> tokenizer_;
  std::vector<std::string> lines_;
  std::vector<size_t> lengths_;        // tokens per line, when grouping by length
  int batch_size_, max_len_;
  uint64_t seed_;
  std::vector<size_t> order_;
  uint64_t order_epoch_ = ~0ull;
};

}  // namespace bg2vec::train
