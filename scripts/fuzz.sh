#!/usr/bin/env bash
# Fuzzes every reader of outside input: builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp, clang with
# AddressSanitizer + UndefinedBehaviorSanitizer) in build-fuzz and runs each for SECONDS (default 60) on a
# copy of its seed corpus (tests/fuzz/corpus/<target>/, never modified). Fails when any target finds a
# crash, a leak, a sanitizer report, a timeout or an out-of-memory; the input that did it is kept as
# build-fuzz/findings/<target>-<kind>-<hash>. Prints the executions of each target.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     e.g. bash scripts/fuzz.sh 600 fuzz_gguf_file
# Environment: BG2VEC_FUZZ_BUILD (build folder, default build-fuzz), BG2VEC_FUZZ_JOBS (build jobs, default nproc),
# BG2VEC_FUZZ_SEED (libFuzzer's -seed; default random; scripts/test.sh fixes it, so that CI repeats itself).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${BG2VEC_FUZZ_BUILD:-build-fuzz}
jobs=${BG2VEC_FUZZ_JOBS:-$(nproc)}

targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found; install the dependencies first: bash scripts/setup.sh" >&2
  exit 1
fi
# Debug: asserts (ours and Eigen's) stay on; the targets' own -O1 replaces -O0. The configure output is
# shown only when it fails (a missing package names itself there; scripts/setup.sh installs them all).
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DBG2VEC_FUZZ=ON \
  -DBG2VEC_BUILD_APPS=OFF -DBG2VEC_BUILD_TESTS=OFF -DBG2VEC_BUILD_BENCH=OFF >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  echo "fuzz: configuring $build failed (above); missing packages: bash scripts/setup.sh" >&2
  exit 1
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# The inputs are written to files thousands of times a second: in memory (/dev/shm) where there is one.
tmp_base=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_base=/dev/shm; fi
work=$(mktemp -d "$tmp_base/bg2vec-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
findings="$PWD/$build/findings"
logs="$PWD/$build/logs"
mkdir -p "$findings" "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
total_execs=0
printf '%-28s %8s %12s %8s  %s\n' target seconds executions corpus result
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus/$target" ]; then cp tests/fuzz/corpus/"$target"/* "$corpus"/; fi
  dict=()
  case $target in
    fuzz_hf_config | fuzz_peft_config | fuzz_checkpoint | fuzz_safetensors | fuzz_beir) dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  log="$logs/$target.log"
  status=0
  start=$(date +%s)
  # One process per target; each input may take 10 s at most and 2 GiB (a reader must not allocate
  # what the file cannot justify). TMPDIR: the targets write their input files under it.
  TMPDIR="$work" OMP_NUM_THREADS=1 "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/$target-" \
    ${BG2VEC_FUZZ_SEED:+-seed="$BG2VEC_FUZZ_SEED"} "${dict[@]}" "$corpus" >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  size=$(find "$corpus" -type f | wc -l)
  if ((status == 0)); then
    result=ok
  else
    result="FAILED (exit $status; log $log)"
    failed+=("$target")
    grep -m3 -E 'ERROR: |runtime error|property violated|SUMMARY' "$log" | sed 's/^/    /' || true
  fi
  printf '%-28s %8s %12s %8s  %s\n' "$target" "$elapsed" "$execs" "$size" "$result"
done
echo "fuzz: ${#targets[@]} targets, $total_execs executions, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "fuzz: findings in $findings; reproduce with $build/tests/fuzz/TARGET FILE" >&2
  exit 1
fi
