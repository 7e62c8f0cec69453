#!/usr/bin/env bash
# Installs the dependencies, builds everything (library, apps, tests, benchmarks) and runs the tests;
# then fuzzes every reader of outside input for a few seconds each (scripts/fuzz.sh) and runs the whole suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh: every suite and every `bg2vec`
# process they start instrumented). docs/reliability.md says what each part covers, and what each costs: 51 min in
# all on 2 idle cores without AVX-512 (CI's limit is 90).
# BG2VEC_TEST_FUZZ_SECONDS: seconds per fuzz target (default 4; 0 skips fuzzing);
# BG2VEC_TEST_SANITIZE=0 skips the sanitizer run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

fuzz_seconds=${BG2VEC_TEST_FUZZ_SECONDS:-4}
if [ "$fuzz_seconds" != 0 ]; then BG2VEC_FUZZ_SEED=${BG2VEC_FUZZ_SEED:-1} bash scripts/fuzz.sh "$fuzz_seconds"; fi
if [ "${BG2VEC_TEST_SANITIZE:-1}" != 0 ]; then bash scripts/sanitize.sh; fi
