#pragma once
// Helpers shared by the test suites: fixture paths and comparisons against reference tensors.
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/safetensors.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <unistd.h>

namespace bg2vec::test {

inline std::filesystem::path fixture(const std::string& relative) { return std::filesystem::path(BG2VEC_TEST_DATA) / relative; }

// max |a - b| / max |b|: the error relative to the reference's largest value.
inline double relative_error(std::span<const float> actual, std::span<const float> expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    diff = std::max(diff, double(std::abs(actual[i] - expected[i])));
    scale = std::max(scale, double(std::abs(expected[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

inline std::span<const float> span_of(const Eigen::Ref<const Matrix>& m) {
  return {m.data(), size_t(m.size())};
}

// A fresh empty directory under the system's temp dir, removed when the object dies.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / ("bg2vec-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
  std::filesystem::path operator/(const std::string& p) const { return path / p; }
};

}  // namespace bg2vec::test
