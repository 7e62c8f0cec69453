#pragma once
// A read-only memory map of a whole file: weights are read in place, never copied into a buffer first.
#include <bg2vec/core/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <span>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace bg2vec::io {

class MappedFile {
 public:
  explicit MappedFile(std::filesystem::path path) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path_, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { ::close(fd); fail(path_, "not a regular file"); }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) { ::close(fd); fail(path_, std::string("cannot map: ") + std::strerror(errno)); }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
  }
  MappedFile(MappedFile&& o) noexcept
      : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&& o) noexcept {
    std::swap(path_, o.path_); std::swap(data_, o.data_); std::swap(size_, o.size_);
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { if (data_) ::munmap(const_cast<std::byte*>(data_), size_); }

  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // Drops the pages of `range` (a part of bytes()) from this process's memory; touched again, they are read
  // again from the file. Readers call it on what they have converted, so that loading a model keeps at most
  // about one tensor of the file resident, not the whole file (BgGPT-7B: 14.5 GB) beside the weights.
  void release(std::span<const std::byte> range) const {
    if (range.empty()) return;
    const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = uintptr_t(range.data()) & ~(page - 1), end = uintptr_t(range.data() + range.size());
    ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);   // advice: a failure costs only memory
  }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bg2vec::io
