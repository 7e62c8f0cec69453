#pragma once
// Shared by the fuzz targets (one LLVMFuzzerTestOneInput per fuzz_*.cpp). A reader may refuse any input
// with bg2vec::Error, the library's one error type: that is the expected outcome for damaged bytes. Any
// other exception escaping, a crash, a sanitizer report, a leak or a timeout is a finding.
// Readers that take a path get the input written to a file in a folder of this process's own.
#include <bg2vec/core/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace bg2vec::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// A fresh folder under $TMPDIR for this process, removed at exit.
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "bg2vec-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    return std::filesystem::path(pattern);
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

// Writes `bytes` to work_dir()/relative (creating its folder) and returns the path.
inline std::filesystem::path write_file(const std::filesystem::path& relative, std::string_view bytes) {
  const std::filesystem::path path = work_dir() / relative;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// The input cut at each occurrence of `separator`, into exactly `parts` pieces (the last takes the rest;
// missing ones are empty): how a target that reads several files gets them from one input.
inline std::vector<std::string_view> split(std::string_view input, std::string_view separator, size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const size_t at = input.find(separator);
    if (at == std::string_view::npos) break;
    out.push_back(input.substr(0, at));
    input.remove_prefix(at + separator.size());
  }
  out.push_back(input);
  out.resize(parts);
  return out;
}

// Runs f; bg2vec::Error (a refusal) is expected, anything else propagates to libFuzzer.
template <class F>
void refusals_allowed(F&& f) {
  try {
    f();
  } catch (const bg2vec::Error&) {
  }
}

// A property that must hold whatever the input: a finding when it does not.
inline void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace bg2vec::fuzz
