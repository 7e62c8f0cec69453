#!/usr/bin/env bash
# Side-by-side MNTP training step (bidirectional forward, lm_head cross-entropy over the masked positions,
# backward, AdamW): bench_train --objectives mntp (--compute f32 and bf16) against PyTorch/transformers + PEFT
# (bench/peer/train_peer.py, float32 and bf16 autocast, eager, fused AdamW where the torch has it; each torch found:
# the PyPI wheel's venv and Debian's python3-torch) on the SAME weights and batch: make_inputs.py's medium Mistral
# shape (8 layers, hidden 512, 8/4 heads, ffn 1536, vocab 16000; 80% of the positions masked) at B32 x T128 and
# B8 x T512, full fine-tuning and LoRA (r 16, alpha 32, no dropout, on q, k, v, o, gate, up, down). Every
# configuration is its own process (its own peak RSS, /usr/bin/time -v), in turn, REPEAT times (reversed on
# every other repeat). Checks that the first step's loss (the initial weights') agrees with PyTorch float32's,
# then prints a table: median (min..max) over the repeats of each run's best step, ratios bg2vec (faster compute)
# / faster PyTorch, peak RSS, the load average.
#   BUILD=build-peer REPEAT=3 THREADS=2 STEPS=3 [PEERS="pypi debian"] [SHAPES="32x128 8x512"] [MODES="full lora"] \
#     bash bench/peer/compare_train.sh
# Writes $WORK/compare_train.json (WORK=build-peer/peer-bench). Needs the bench_train target built in $BUILD and the
# peer venv(s).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/peer/lib.sh
BUILD="${BUILD:-build-peer}"
REPEAT="${REPEAT:-3}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-3}"
SHAPES="${SHAPES:-32x128 8x512}"
MODES="${MODES:-full lora}"
RANK="${RANK:-16}"
WORK="${WORK:-$BUILD/peer-bench}"
RUNS="$WORK/train-runs.jsonl"
[ -x "$BUILD/bench/bench_train" ] || { echo "missing $BUILD/bench/bench_train (cmake --build $BUILD --target bench_train)" >&2; exit 1; }
read -r -a peers <<< "$(peer_pythons)"
((${#peers[@]})) || { echo "no peer venv (bash scripts/peer_setup.sh)" >&2; exit 1; }
PY="${peers[0]#*=}"
mkdir -p "$WORK"
: > "$RUNS"
export OMP_NUM_THREADS=$THREADS
inputs="$WORK/inputs"
missing=0
for shape in $SHAPES; do [ -f "$inputs/mntp-$shape.safetensors" ] || missing=1; done
((missing == 0)) || "$PY" bench/peer/make_inputs.py --out "$inputs" --batches "$(tr ' ' , <<<"$SHAPES")"
model="$inputs/model"

load_before=$(loadavg)
echo "load average before: $load_before"
echo "peers: ${peers[*]}"
for ((r = 0; r < REPEAT; ++r)); do
  for shape in $SHAPES; do
    B=${shape%x*} T=${shape#*x}
    batch="$inputs/mntp-$shape.safetensors"
    for mode in $MODES; do
      ours_lora="" peer_lora=""
      [ "$mode" = lora ] && ours_lora="--lora $RANK" peer_lora="--lora $RANK"
      jobs=()
      for c in f32 bf16; do
        json="$WORK/train-$shape-$mode-bg2vec-$c-$r.json"
        jobs+=("bg2vec-$c|$json|$BUILD/bench/bench_train --model $model --batch $B --seq-len $T --batch-file $batch --objectives mntp --steps $STEPS --compute $c $ours_lora --json $json")
      done
      for p in "${peers[@]}"; do
        for d in float32 bf16; do
          json="$WORK/train-$shape-$mode-${p%%=*}-$d-$r.json"
          jobs+=("torch-${p%%=*}-$d|$json|${p#*=} bench/peer/train_peer.py --model $model --batch $batch --steps $STEPS --threads $THREADS --dtype $d $peer_lora --json $json")
        done
      done
      run_jobs "$r" "$shape $mode" "${jobs[@]}"
    done
  done
done
load_after=$(loadavg)
echo "load average after: $load_after"
"$PY" bench/peer/summarize.py train --runs "$RUNS" --out "$WORK/compare_train.json" --threads "$THREADS" \
  --load-before "$load_before" --load-after "$load_after"
