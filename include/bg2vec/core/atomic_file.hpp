#pragma once
// Writing files without ever leaving a half-written one: write to "<path>.tmp.<pid>", flush, rename.
// A crash leaves the old file (or none) in place, never a truncated one.
#include <bg2vec/core/error.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace bg2vec {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target)
      : target_(std::move(target)),
        temp_(target_.string() + ".tmp." + std::to_string(::getpid())) {
    if (target_.has_parent_path()) std::filesystem::create_directories(target_.parent_path());
    out_.open(temp_, std::ios::binary | std::ios::trunc);
    if (!out_) fail(target_, "cannot open for writing");
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (!committed_) {
      out_.close();
      std::error_code ec;
      std::filesystem::remove(temp_, ec);
    }
  }

  std::ofstream& stream() { return out_; }

  void commit() {
    out_.flush();
    if (!out_) fail(target_, "write failed (disk full?)");
    out_.close();
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec) fail(target_, "cannot rename temporary file: " + ec.message());
    committed_ = true;
  }

 private:
  std::filesystem::path target_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

inline void write_file_atomically(const std::filesystem::path& path, const std::string& contents) {
  AtomicFile f(path);
  f.stream().write(contents.data(), std::streamsize(contents.size()));
  f.commit();
}

// A folder written whole or not at all: fill(temp) writes "<out>.tmp.<pid>", which then takes the place of
// `out` (new, or an empty folder: remove() refuses any other); on an error the temporary folder goes and the
// error goes on.
template <class Fill>
void write_folder_atomically(const std::filesystem::path& out, Fill&& fill) {
  const std::filesystem::path temp = out.string() + ".tmp." + std::to_string(::getpid());
  try {
    fill(temp);
    if (std::filesystem::exists(out)) std::filesystem::remove(out);
    std::filesystem::rename(temp, out);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(temp, ec);
    throw;
  }
}

}  // namespace bg2vec
