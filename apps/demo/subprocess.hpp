#pragma once
// Runs a stage as the `bg2vec` command a user would type, so every step of the demo can be rerun by
// hand: the command line is printed first, the child shares our terminal (its progress shows). The
// child's peak resident memory comes back for the report.
#include <bg2vec/core/error.hpp>

#include <cstdio>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace bg2vec::demo {

inline std::string quoted(const std::string& arg) {
  if (arg.find_first_of(" \t\"'$\\") == std::string::npos && !arg.empty()) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `bg2vec <args...>` (this very executable); throws if it fails. Returns the child's peak RSS in bytes.
inline size_t run_bg2vec(const std::vector<std::string>& args) {
  std::string shown = "$ bg2vec";
  for (const auto& a : args) shown += " " + quoted(a);
  std::fprintf(stderr, "%s\n", shown.c_str());
  std::fflush(stderr);
  std::vector<std::string> owned = {"bg2vec"};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0)
    fail("cannot start a bg2vec subprocess for: " + shown);
  int status = 0;
  struct rusage usage {};
  if (wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("the stage failed: " + shown.substr(2));
  return size_t(usage.ru_maxrss) * 1024;   // Linux reports kilobytes
}

}  // namespace bg2vec::demo
