#pragma once
// An exclusive lock on an output folder for the lifetime of the object: flock(2) on DIR/.lock. Two processes
// writing one folder (two `bg2vec train --out DIR`) would interleave their checkpoints; the second is refused.
// The kernel drops the lock when the process ends, however it ends (kill -9 included), so no stale lock
// survives a crash. Taking it also proves that the folder is writable, before any work is done.
#include <bg2vec/core/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace bg2vec {

class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(dir, "cannot create the folder: " + ec.message());
    const auto file = dir / ".lock";
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(dir, std::string("cannot write in this folder: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail(dir, "another process is writing to this folder (it holds " + file.string() + ")");
    }
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

}  // namespace bg2vec
