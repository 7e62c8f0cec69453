#pragma once
// Helpers shared by the test suites: fixture paths and comparisons against reference tensors.
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/attention_policy.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unistd.h>

namespace bg2vec::test {

inline std::filesystem::path fixture(const std::string& relative) { return std::filesystem::path(BG2VEC_TEST_DATA) / relative; }

// BG2VEC_TEST_SKIP_REAL_MODEL=1 skips the cases that run the embedded Gemma-3-270M through the CLI (the
// demo, perplexity and generation: minutes each); the sanitizer run of scripts/test.sh sets it.
inline bool skip_real_model() {
  const char* v = std::getenv("BG2VEC_TEST_SKIP_REAL_MODEL");
  return v && *v && std::string_view(v) != "0";
}

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

// The Hugging Face reference fixtures (tests/fixtures/hf/<name>), as types so that a parity test can run
// the same case on each with TEST_CASE_TEMPLATE.
struct MistralDev { static constexpr const char* name = "mistral-dev"; };
struct Gemma2Dev { static constexpr const char* name = "gemma2-dev"; };
struct Gemma3Dev { static constexpr const char* name = "gemma3-dev"; };

// reference.safetensors of a fixture, opened once.
inline const io::SafetensorsFile& hf_reference(const std::string& fixture_name) {
  static std::map<std::string, std::unique_ptr<io::SafetensorsFile>> files;
  auto& file = files[fixture_name];
  if (!file) file = std::make_unique<io::SafetensorsFile>(fixture("hf/" + fixture_name + "/reference.safetensors"));
  return *file;
}

// The fixtures' causal_* and ntp_* references use a custom mask: causal AND key padding, without
// Gemma's sliding window (see tests/fixtures/hf/README.md). Comparing them with `Causal`, which honours
// the window as transformers' default mask does, would compare unlike things; this policy is that custom
// mask. (mistral-dev has no window, so there it is `Causal` itself.)
struct CausalWithoutWindow {
  static constexpr std::string_view name = "causal-without-window";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees(int query, int key) { return key <= query; }
};

// One fixture under one attention policy; prefix() names its references (bidir_* or causal_*). The causal_*
// references have no sliding window, so a causal case is On<F, CausalWithoutWindow>.
template <class F, class A>
struct On {
  using fixture = F;
  using attention = A;
  static std::string prefix() { return std::is_same_v<A, Bidirectional> ? "bidir_" : "causal_"; }
};

// Normal(0, scale) entries, the same for a seed wherever the test runs (mt19937_64; libstdc++'s
// normal_distribution).
inline Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
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

// The bg2vec binary run with `arguments` as a user would; its stdout and stderr together, also left in
// dir/output.txt for a look after a failure.
struct CliRun {
  int status;
  std::string output;
};

inline CliRun run_cli(const std::string& arguments, const std::filesystem::path& dir) {
  const auto log = dir / "output.txt";
  const int raw = std::system((std::string(BG2VEC_CLI) + " " + arguments + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  return {WEXITSTATUS(raw), std::string((std::istreambuf_iterator<char>(in)), {})};
}
inline CliRun run_cli(const std::string& arguments, const TempDir& dir) { return run_cli(arguments, dir.path); }

}  // namespace bg2vec::test
