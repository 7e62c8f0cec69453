#!/usr/bin/env bash
# Builds the library, the CLI and the test suites with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DBG2VEC_SANITIZE=ON, in build-asan, benchmarks left out) and runs them: any report (memory error, leak,
# undefined behaviour, in a test or in the CLI it runs) fails. The cases that run the embedded Gemma-3-270M
# through the CLI (test_demo's Gemma-3-270M demo, test_cli_gguf's perplexity and generation) are skipped
# (BG2VEC_TEST_SKIP_REAL_MODEL=1): minutes each at full speed, several times that instrumented, over the same
# GGUF and model code that the fixtures and the fuzzers cover.
# The compile-failure tests and example_installed_package are left out: they build other code (a refused
# translation unit; the examples against the installed package, with their own flags) and run nothing instrumented.
#   bash scripts/sanitize.sh                      every suite (what scripts/test.sh, and so CI, runs)
#   bash scripts/sanitize.sh test_io test_shards  only these tests (suites of tests/test_*.cpp, kill_resume: the CLI and
#                                                 bg2vec_tests are built, then these run)
# Environment: BG2VEC_SANITIZE_BUILD (default build-asan), BG2VEC_SANITIZE_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BG2VEC_SANITIZE_BUILD:-build-asan}
jobs=${BG2VEC_SANITIZE_JOBS:-$(nproc)}
# -O1: far less compile time than -O3 under the sanitizers, and their usual setting.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DBG2VEC_SANITIZE=ON \
  -DBG2VEC_BUILD_BENCH=OFF >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export BG2VEC_TEST_SKIP_REAL_MODEL=1
if (($#)); then
  cmake --build "$build" -j"$jobs" --target bg2vec_cli bg2vec_tests
  regex="^($(IFS='|'; echo "$*"))\$"
  ctest --test-dir "$build" --output-on-failure -j"$jobs" -R "$regex"
else
  cmake --build "$build" -j"$jobs"
  ctest --test-dir "$build" --output-on-failure -j"$jobs" -E '^(compile_fail_.*|example_installed_package)$'
fi
