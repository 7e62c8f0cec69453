#pragma once
// Decompression on its own thread: a `PrefetchingReader` keeps a few chunks of a DumpSource decoded
// ahead of the consumer, so that bz2 decoding (one core) overlaps XML parsing and cleaning (the other).
// Memory is bounded by `chunks x chunk_bytes`. An error on the decoding thread is rethrown by next().
#include <bg2vec/text/bz2_stream.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>

namespace bg2vec::text {

class PrefetchingReader {
 public:
  explicit PrefetchingReader(const std::filesystem::path& path, size_t chunk_bytes = size_t(1) << 20,
                             size_t chunks = 4)
      : source_(path) {
    for (size_t i = 0; i < chunks; ++i) free_.push_back(std::string(chunk_bytes, '\0'));
    worker_ = std::thread([this] { produce(); });
  }
  PrefetchingReader(const PrefetchingReader&) = delete;
  PrefetchingReader& operator=(const PrefetchingReader&) = delete;
  ~PrefetchingReader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  // The next chunk of decoded bytes, valid until the following call; empty at the end of the data.
  std::string_view next() {
    std::unique_lock lock(mutex_);
    if (!current_.empty()) free_.push_back(std::move(current_));
    changed_.notify_all();
    changed_.wait(lock, [this] { return !ready_.empty() || finished_; });
    if (ready_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return {};
    }
    current_ = std::move(ready_.front());
    ready_.pop_front();
    return current_;
  }

  const DumpSource& source() const { return source_; }

 private:
  void produce() {
    try {
      for (;;) {
        std::string buffer;
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [this] { return !free_.empty() || stopping_; });
          if (stopping_) break;
          buffer = std::move(free_.front());
          free_.pop_front();
        }
        buffer.resize(buffer.capacity());
        const size_t n = source_.read(buffer.data(), buffer.size());
        buffer.resize(n);
        if (n == 0) break;
        {
          std::lock_guard lock(mutex_);
          ready_.push_back(std::move(buffer));
        }
        changed_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    changed_.notify_all();
  }

  DumpSource source_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> free_, ready_;
  std::string current_;
  std::exception_ptr error_;
  bool stopping_ = false, finished_ = false;
  std::thread worker_;
};

}  // namespace bg2vec::text
