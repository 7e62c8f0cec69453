#pragma once
// Streaming input of a file that may be bz2-compressed: `DumpSource` reads the decompressed bytes in
// chunks, in bounded memory whatever the file's size. Wikimedia's multistream dumps are several bz2
// streams concatenated; they are decoded one after the other as a single byte stream. A file that ends
// inside a stream is an error (a truncated download), never a silently short dump.
#include <bg2vec/core/error.hpp>

#include <algorithm>
#include <bzlib.h>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace bg2vec::text {

class DumpSource {
 public:
  explicit DumpSource(std::filesystem::path path, size_t chunk_bytes = size_t(1) << 20)
      : path_(std::move(path)), file_(std::fopen(path_.c_str(), "rb"), &std::fclose), in_(chunk_bytes) {
    if (!file_) fail(path_, "cannot open for reading");
    std::error_code ec;
    file_bytes_ = std::filesystem::file_size(path_, ec);
    fill_input();
    compressed_ = in_size_ >= 3 && in_[0] == 'B' && in_[1] == 'Z' && in_[2] == 'h';
    if (compressed_) start_stream();
  }
  DumpSource(const DumpSource&) = delete;
  DumpSource& operator=(const DumpSource&) = delete;
  ~DumpSource() {
    if (in_stream_) BZ2_bzDecompressEnd(&bz_);
  }

  // Fills up to `capacity` bytes of `out`; returns 0 only at the end of the data.
  size_t read(char* out, size_t capacity) {
    if (!compressed_) return read_plain(out, capacity);
    return read_bz2(out, capacity);
  }

  bool compressed() const { return compressed_; }
  uint64_t file_bytes() const { return file_bytes_; }            // size on disk (0 if unknown)
  uint64_t file_bytes_consumed() const { return consumed_ - (in_size_ - in_pos_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  void fill_input() {
    in_size_ = std::fread(in_.data(), 1, in_.size(), file_.get());
    in_pos_ = 0;
    consumed_ += in_size_;
    if (in_size_ == 0 && std::ferror(file_.get())) fail(path_, "read error");
  }

  size_t read_plain(char* out, size_t capacity) {
    size_t n = 0;
    while (n < capacity) {
      if (in_pos_ == in_size_) {
        fill_input();
        if (in_size_ == 0) break;
      }
      const size_t take = std::min(capacity - n, in_size_ - in_pos_);
      std::copy_n(in_.data() + in_pos_, take, out + n);
      in_pos_ += take;
      n += take;
    }
    return n;
  }

  void start_stream() {
    bz_ = bz_stream{};
    if (BZ2_bzDecompressInit(&bz_, 0, 0) != BZ_OK) fail(path_, "cannot initialise the bz2 decoder");
    in_stream_ = true;
  }

  size_t read_bz2(char* out, size_t capacity) {
    size_t n = 0;
    while (n < capacity) {
      if (!in_stream_) {                                   // between streams: another one, or the end
        if (in_pos_ == in_size_) fill_input();
        if (in_size_ == 0) break;
        if (in_size_ - in_pos_ < 3 && !std::feof(file_.get())) compact_and_fill();
        if (in_size_ - in_pos_ < 3 || in_[in_pos_] != 'B' || in_[in_pos_ + 1] != 'Z' || in_[in_pos_ + 2] != 'h')
          fail(path_, "data after the end of a bz2 stream is not another bz2 stream (byte offset " +
                          std::to_string(file_bytes_consumed()) + ")");
        start_stream();
      }
      if (in_pos_ == in_size_) fill_input();
      bz_.next_in = in_.data() + in_pos_;
      bz_.avail_in = unsigned(in_size_ - in_pos_);
      bz_.next_out = out + n;
      bz_.avail_out = unsigned(std::min<size_t>(capacity - n, 1u << 30));
      const size_t before = n;
      const int rc = BZ2_bzDecompress(&bz_);
      n = size_t(bz_.next_out - out);
      in_pos_ = size_t(bz_.next_in - in_.data());
      if (rc == BZ_STREAM_END) {
        BZ2_bzDecompressEnd(&bz_);
        in_stream_ = false;
      } else if (rc != BZ_OK) {
        fail(path_, "corrupt bz2 data near compressed byte offset " + std::to_string(file_bytes_consumed()));
      } else if (in_size_ == 0 && n == before) {   // no input left and nothing more to give
        fail(path_, "truncated bz2 stream: the file ends inside a stream (after " + std::to_string(consumed_) +
                        " compressed bytes)");
      }
    }
    return n;
  }

  // Keeps the unread tail and reads more behind it, so that a stream's magic is never split.
  void compact_and_fill() {
    const size_t tail = in_size_ - in_pos_;
    std::copy_n(in_.data() + in_pos_, tail, in_.data());
    const size_t more = std::fread(in_.data() + tail, 1, in_.size() - tail, file_.get());
    consumed_ += more;
    in_size_ = tail + more;
    in_pos_ = 0;
  }

  std::filesystem::path path_;
  std::unique_ptr<FILE, int (*)(FILE*)> file_;
  std::vector<char> in_;
  size_t in_size_ = 0, in_pos_ = 0;
  uint64_t consumed_ = 0, file_bytes_ = 0;
  bool compressed_ = false, in_stream_ = false;
  bz_stream bz_{};
};

}  // namespace bg2vec::text
