#!/usr/bin/env bash
# The GPU run of issue #16, in one go on the GPU machine (an H200; nvcc, cmake, PyTorch and transformers, but no
# Debian packages and no network), within 8 minutes: builds the CUDA backend, its suites and the benchmark
# (bench/gpu/CMakeLists.txt, from the headers that .gpu-deps/ carries), runs the suites, then our encode and
# MNTP-step benchmarks and the transformers peers on the same weights and ids, and writes under $OUT:
#   NAME.log, NAME.status                         what each step printed; its exit status and seconds (77: skipped)
#   bench_encode.json, bench_train.json           our figures (bench_cuda: encode in bf16 and f32; MNTP and
#                                                 LoRA MNTP steps in bf16)
#   encode_peer.json, mntp_peer.json              transformers' figures
#   summary.json                                  the ratios, the agreement, the GPU, the wall times
# Invocation (docs/performance.md, "GPU"): bash bench/gpu/prepare_deps.sh here once, then the device tool's
#   run(command="bash bench/gpu/run.sh", carry=[".gpu-deps"], timeout_s=540)
# BG2VEC_GPU_STEPS=build,tests,bench (the default) picks steps; BG2VEC_GPU_DRY_RUN=1 prints the commands
# without running them (what can be checked without a GPU); BG2VEC_GPU_COMPILE=1 adds the peers' torch.compile
# runs (a minute of compiling: over the 8 minutes unless other steps are left out).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:?set OUT to the folder for the results}
steps=${BG2VEC_GPU_STEPS:-build,tests,bench}
compile=()
if [[ ${BG2VEC_GPU_COMPILE:-0} == 1 ]]; then compile=(--compile); fi
dry=${BG2VEC_GPU_DRY_RUN:-0}
python=${PYTHON:-python3}
build=${BG2VEC_GPU_BUILD:-/tmp/bg2vec-gpu-build}
work=${BG2VEC_GPU_WORK:-/tmp/bg2vec-gpu-work}
jobs=$(nproc)
mkdir -p "$out"
start=$(date +%s)

if [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi

# step NAME LIMIT_S COMMAND...: runs it (tee'd to $out/NAME.log) under a time limit; its status goes to
# $out/NAME.status; a failure does not stop the later steps (their results are still wanted). The limits add
# up to 480 s, so that the run ends inside 8 minutes even when every step hangs.
step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s): $*"
  if [[ $dry == 1 ]]; then return 0; fi
  local t0 rc=0
  t0=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1 || rc=$?
  echo "$rc $(($(date +%s) - t0))" > "$out/$name.status"
  tail -n 5 "$out/$name.log"
  echo "== $name: exit $rc in $(($(date +%s) - t0)) s"
}

wants() { [[ ,$steps, == *,$1,* ]]; }

if wants build; then
  step configure 30 cmake -S "$root/bench/gpu" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBG2VEC_DEPS="$root/.gpu-deps"
  step build 140 cmake --build "$build" -j "$jobs"
fi

if wants tests; then
  # -s: doctest prints the MESSAGE lines (the measured errors) of passing cases too
  step test_cuda_math 20 "$build/test_cuda_math"
  step test_cuda_device 60 "$build/tests/cuda/test_cuda_device" -s
fi

if wants bench; then
  mkdir -p "$work"
  # encode in both modes (the peer compares its float32 embeddings with ours); training in bf16 only (the float32
  # mode is the tests')
  step bench_encode 40 "$build/bench_cuda" --bench encode --batch 16 --seq-len 512 --iters 10 --mode both \
    --save-model "$work/mistral-124m" --save-ids "$work/ids.safetensors" --save-embeddings "$work/ours.safetensors" \
    --json "$out/bench_encode.json"
  step bench_train 60 "$build/bench_cuda" --bench mntp,lora-mntp,lora-simcse --batch 16 --seq-len 512 --iters 5 --mask-rate 0.2 \
    --mode bf16 --json "$out/bench_train.json"
  step encode_peer 70 "$python" "$root/bench/gpu/peer_encode.py" --model "$work/mistral-124m" --ids "$work/ids.safetensors" \
    --ours "$work/ours.safetensors" --dtype bf16 float32 --iters 10 "${compile[@]}" --json "$out/encode_peer.json"
  step mntp_peer 60 "$python" "$root/bench/gpu/peer_mntp.py" --model "$work/mistral-124m" --ids "$work/ids.safetensors" \
    --iters 10 "${compile[@]}" --json "$out/mntp_peer.json"
fi

if [[ $dry == 1 ]]; then exit 0; fi
"$python" "$root/bench/gpu/summarize.py" --out "$out" --wall "$(($(date +%s) - start))"
