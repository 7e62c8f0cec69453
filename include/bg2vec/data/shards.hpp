#pragma once
// Token shards: fixed-length blocks of token ids in a flat binary file, read back memory-mapped.
//
//   offset  size  field
//        0     8  magic "BG2VTOKS"
//        8     4  version (1)
//       12     4  vocabulary size
//       16     4  token width in bytes: 2 (uint16, vocabularies up to 65536) or 4 (uint32)
//       20     4  sequence length (tokens per block)
//       24     8  number of tokens (a multiple of the sequence length)
//       32     -  the tokens, little-endian
// All integers little-endian. A split ("train", "val") is the files DIR/<split>-NNNNN.bin in order.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/error.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <span>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace bg2vec::data {

static_assert(std::endian::native == std::endian::little, "shards are written in the machine's (little) endianness");

inline constexpr char shard_magic[8] = {'B', 'G', '2', 'V', 'T', 'O', 'K', 'S'};
inline constexpr uint32_t shard_version = 1;
inline constexpr size_t shard_header_bytes = 32;

struct ShardHeader {
  uint32_t vocab_size = 0, token_bytes = 0, seq_len = 0;
  uint64_t num_tokens = 0;
};

inline uint32_t token_bytes_for(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

inline std::filesystem::path shard_path(const std::filesystem::path& dir, const std::string& split, int index) {
  char name[32];
  std::snprintf(name, sizeof name, "-%05d.bin", index);
  return dir / (split + name);
}

// Writes one shard; the file appears (atomically) on finish().
class ShardWriter {
 public:
  ShardWriter(const std::filesystem::path& path, uint32_t vocab_size, uint32_t seq_len)
      : path_(path), file_(path) {
    header_.vocab_size = vocab_size;
    header_.token_bytes = token_bytes_for(vocab_size);
    header_.seq_len = seq_len;
    if (seq_len == 0) fail(path, "sequence length must be positive");
    write_header();
  }

  void write_block(std::span<const int32_t> block) {
    if (block.size() != header_.seq_len)
      fail(path_, "block of " + std::to_string(block.size()) + " tokens, expected " + std::to_string(header_.seq_len));
    for (int32_t id : block)
      if (id < 0 || uint32_t(id) >= header_.vocab_size)
        fail(path_, "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(header_.vocab_size));
    if (header_.token_bytes == 2) {
      buffer16_.assign(block.begin(), block.end());
      file_.stream().write(reinterpret_cast<const char*>(buffer16_.data()), std::streamsize(block.size() * 2));
    } else {
      file_.stream().write(reinterpret_cast<const char*>(block.data()), std::streamsize(block.size() * 4));
    }
    header_.num_tokens += block.size();
  }

  uint64_t num_tokens() const { return header_.num_tokens; }

  void finish() {
    file_.stream().seekp(0);
    write_header();
    file_.commit();
  }

 private:
  void write_header() {
    char bytes[shard_header_bytes] = {};
    std::memcpy(bytes, shard_magic, 8);
    std::memcpy(bytes + 8, &shard_version, 4);
    std::memcpy(bytes + 12, &header_.vocab_size, 4);
    std::memcpy(bytes + 16, &header_.token_bytes, 4);
    std::memcpy(bytes + 20, &header_.seq_len, 4);
    std::memcpy(bytes + 24, &header_.num_tokens, 8);
    file_.stream().write(bytes, shard_header_bytes);
  }

  std::filesystem::path path_;
  AtomicFile file_;
  ShardHeader header_;
  std::vector<uint16_t> buffer16_;
};

// One block of a shard, viewed in place: ids widened to int32 on access.
class BlockView {
 public:
  BlockView(const unsigned char* data, uint32_t token_bytes, size_t size)
      : data_(data), token_bytes_(token_bytes), size_(size) {}
  size_t size() const { return size_; }
  int32_t operator[](size_t i) const {
    if (token_bytes_ == 2) { uint16_t v; std::memcpy(&v, data_ + 2 * i, 2); return v; }
    int32_t v;
    std::memcpy(&v, data_ + 4 * i, 4);
    return v;
  }
  void copy_to(std::span<int32_t> out) const {
    if (out.size() != size_) fail("BlockView::copy_to: output of " + std::to_string(out.size()) + " for a block of " + std::to_string(size_));
    for (size_t i = 0; i < size_; ++i) out[i] = (*this)[i];
  }
  std::vector<int32_t> to_vector() const {
    std::vector<int32_t> v(size_);
    copy_to(v);
    return v;
  }

 private:
  const unsigned char* data_;
  uint32_t token_bytes_;
  size_t size_;
};

// The blocks of one split (all its shard files), memory-mapped: random access without reading the
// files into memory. Every shard is validated on opening (magic, version, sizes, agreement).
class ShardReader {
 public:
  // `dir` with files <split>-00000.bin, <split>-00001.bin, ...
  ShardReader(const std::filesystem::path& dir, const std::string& split) {
    for (int i = 0; std::filesystem::exists(shard_path(dir, split, i)); ++i) open(shard_path(dir, split, i));
    if (shards_.empty()) fail(shard_path(dir, split, 0), "no shard of split '" + split + "'");
  }
  // A single shard file.
  explicit ShardReader(const std::filesystem::path& file) { open(file); }

  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  ~ShardReader() {
    for (auto& s : shards_) ::munmap(const_cast<unsigned char*>(s.map), s.map_bytes);
  }

  size_t num_blocks() const { return total_blocks_; }
  size_t seq_len() const { return header_.seq_len; }
  uint32_t vocab_size() const { return header_.vocab_size; }
  uint32_t token_bytes() const { return header_.token_bytes; }
  uint64_t num_tokens() const { return uint64_t(total_blocks_) * header_.seq_len; }

  BlockView block(size_t i) const {
    if (i >= total_blocks_) fail("block " + std::to_string(i) + " of " + std::to_string(total_blocks_) + " requested");
    const auto it = std::upper_bound(first_block_.begin(), first_block_.end(), i) - 1;
    const Shard& shard = shards_[size_t(it - first_block_.begin())];
    const size_t block_bytes = size_t(header_.seq_len) * header_.token_bytes;
    return BlockView(shard.map + shard_header_bytes + (i - *it) * block_bytes, header_.token_bytes, header_.seq_len);
  }

  // A permutation of the block indices, the same for the same seed on every machine (Fisher-Yates
  // over mt19937_64, whose output the standard fixes; no std::shuffle, whose algorithm it does not).
  std::vector<size_t> shuffled_order(uint64_t seed) const {
    std::vector<size_t> order(total_blocks_);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(seed);
    for (size_t i = order.size(); i > 1; --i) {
      const size_t j = size_t((unsigned __int128)rng() * i >> 64);     // uniform in [0, i)
      std::swap(order[i - 1], order[j]);
    }
    return order;
  }

 private:
  struct Shard {
    const unsigned char* map = nullptr;
    size_t map_bytes = 0;
  };

  void open(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0) fail(file, "cannot open shard");
    struct stat st {};
    ::fstat(fd, &st);
    const size_t bytes = size_t(st.st_size);
    if (bytes < shard_header_bytes) { ::close(fd); fail(file, "not a token shard: " + std::to_string(bytes) + " bytes, shorter than the header"); }
    void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) fail(file, "cannot memory-map the shard");
    shards_.push_back({static_cast<const unsigned char*>(map), bytes});
    ShardHeader h;
    try {
      h = validate(file, shards_.back().map, bytes);
    } catch (...) {   // a throwing constructor runs no destructor: unmap here, or every refused shard stays mapped
      for (auto& s : shards_) ::munmap(const_cast<unsigned char*>(s.map), s.map_bytes);
      shards_.clear();
      throw;
    }
    if (first_block_.empty()) header_ = h;
    else if (h.vocab_size != header_.vocab_size || h.token_bytes != header_.token_bytes || h.seq_len != header_.seq_len) {
      for (auto& s : shards_) ::munmap(const_cast<unsigned char*>(s.map), s.map_bytes);
      shards_.clear();
      fail(file, "shard disagrees with the first shard of the split (vocabulary, token width or sequence length)");
    }
    first_block_.push_back(total_blocks_);
    total_blocks_ += h.num_tokens / h.seq_len;
  }

  static ShardHeader validate(const std::filesystem::path& file, const unsigned char* p, size_t bytes) {
    if (std::memcmp(p, shard_magic, 8) != 0) fail(file, "not a token shard (bad magic)");
    uint32_t version;
    std::memcpy(&version, p + 8, 4);
    if (version != shard_version) fail(file, "shard version " + std::to_string(version) + " is not supported (expected 1)");
    ShardHeader h;
    std::memcpy(&h.vocab_size, p + 12, 4);
    std::memcpy(&h.token_bytes, p + 16, 4);
    std::memcpy(&h.seq_len, p + 20, 4);
    std::memcpy(&h.num_tokens, p + 24, 8);
    if (h.token_bytes != 2 && h.token_bytes != 4) fail(file, "token width " + std::to_string(h.token_bytes) + " (expected 2 or 4)");
    if (h.seq_len == 0 || h.num_tokens % h.seq_len != 0) fail(file, "token count is not a whole number of blocks");
    // Divided, not multiplied: 2^63 tokens of 2 bytes would wrap to a 32-byte file.
    if ((bytes - shard_header_bytes) % h.token_bytes != 0 || h.num_tokens != (bytes - shard_header_bytes) / h.token_bytes)
      fail(file, "size " + std::to_string(bytes) + " bytes does not match the header's " + std::to_string(h.num_tokens) +
                     " tokens (truncated?)");
    return h;
  }

  std::vector<Shard> shards_;
  std::vector<size_t> first_block_;     // index of each shard's first block
  size_t total_blocks_ = 0;
  ShardHeader header_;
};

}  // namespace bg2vec::data
