#pragma once
// One exception type for every failure the library reports. Messages name the file (or input)
// and the problem, so that a command line can print them as one clear line.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace bg2vec {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "FILE: message", the shape of every error about a file.
[[noreturn]] inline void fail(const std::filesystem::path& file, const std::string& message) {
  throw Error(file.string() + ": " + message);
}

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

inline void require(bool condition, const std::string& message) {
  if (!condition) fail(message);
}

}  // namespace bg2vec
