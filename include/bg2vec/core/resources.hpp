#pragma once
// What the machine has left, read before long work starts: memory a new allocation can get without swapping
// (MemAvailable, or the cgroup's limit when that is lower) and free disk space under a folder. A run that would
// not fit is refused with the numbers, instead of being killed by the OOM killer or by a full disk an hour in.
#include <bg2vec/core/error.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <sys/statvfs.h>

namespace bg2vec {

// Bytes of memory available to this process, if the system says.
inline std::optional<double> available_memory_bytes() {
  std::optional<double> avail;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    double kib = 0;
    meminfo >> kib;
    meminfo.ignore(64, '\n');
    if (key == "MemAvailable:") { avail = kib * 1024; break; }
  }
  // A container's cgroup v2 limit, less what the cgroup already uses.
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  double current = 0;
  if (max_file >> max_text && max_text != "max" && current_file >> current) {
    const double left = std::stod(max_text) - current;
    if (!avail || left < *avail) avail = left;
  }
  return avail;
}

// Bytes free for an unprivileged writer on the file system holding `dir` (an existing folder).
inline double free_disk_bytes(const std::filesystem::path& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) fail(dir, "cannot read the free disk space");
  return double(s.f_bavail) * double(s.f_frsize);
}

inline std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return text;
}

}  // namespace bg2vec
