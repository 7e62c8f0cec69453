#pragma once
// An exclusive lock on an output folder for the lifetime of the object: flock(2) on DIR/.lock. Two processes
// writing one folder (two `bg2vec train --out DIR`) would interleave their checkpoints; the second is refused.
// The kernel drops the lock when the process ends, however it ends (kill -9 included), so no stale lock
// survives a crash. Taking it also proves that the folder is writable, before any work is done.
// A run refused after taking the lock (not enough memory, a bad flag) leaves nothing behind: when the folder
// still holds only the lock file, the lock file goes, and so does the folder if the lock created it.
#include <bg2vec/core/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bg2vec {

class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& dir) : dir_(dir) {
    std::error_code ec;
    created_folder_ = std::filesystem::create_directories(dir, ec);
    if (ec) fail(dir, "cannot create the folder: " + ec.message());
    const auto file = dir / ".lock";
    // The lock file may be unlinked by the holder between our open and our flock (see the destructor): a lock
    // on an unlinked file locks nothing, so take it again until the locked file is the one at the path.
    for (;;) {
      created_file_ = !std::filesystem::exists(file);
      fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ < 0) fail(dir, std::string("cannot write in this folder: ") + std::strerror(errno));
      if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd_);
        fail(dir, "another process is writing to this folder (it holds " + file.string() + ")");
      }
      struct stat locked{}, at_path{};
      if (::fstat(fd_, &locked) == 0 && ::stat(file.c_str(), &at_path) == 0 && locked.st_ino == at_path.st_ino &&
          locked.st_dev == at_path.st_dev)
        break;
      ::close(fd_);
    }
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() {
    if (created_file_ && holds_only_the_lock()) {
      std::error_code ec;   // best effort: a destructor must not throw, and a leftover empty folder is harmless
      std::filesystem::remove(dir_ / ".lock", ec);
      if (created_folder_ && !ec) std::filesystem::remove(dir_, ec);
    }
    ::close(fd_);
  }

 private:
  bool holds_only_the_lock() const {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename() != ".lock") return false;
    return !ec;
  }

  std::filesystem::path dir_;
  bool created_folder_ = false, created_file_ = false;
  int fd_ = -1;
};

}  // namespace bg2vec
