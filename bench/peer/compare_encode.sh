#!/usr/bin/env bash
# Side-by-side encode (forward + mean pooling, bidirectional): bench_encode (--compute f32 and bf16) against
# PyTorch/transformers (bench/peer/encode_peer.py, float32 and bf16 autocast; each torch found: the PyPI wheel's
# venv and Debian's python3-torch, see scripts/peer_setup.sh) on the SAME weights and ids: the medium Mistral shape
# of issue 11 (8 layers, hidden 512, 8/4 heads, ffn 1536, vocab 16000; random N(0, 0.02) weights written once by
# make_inputs.py) at B32 x T128 and B8 x T512. Every configuration is its own process (so that each has its own
# peak RSS, /usr/bin/time -v), run in turn REPEAT times (the order of the programs reversed on every other
# repeat). Checks that the outputs agree (the embeddings of the timed runs, bench_encode --ids --save and the
# peer's --save, against the first peer's float32: cosine per row and max |diff| / max |x|), then prints a table:
# median (min..max) over the repeats of each run's best batch, tokens per CPU-second, the faster PyTorch dtype, the ratio bg2vec (faster compute) / faster PyTorch, peak RSS, the load average.
#   BUILD=build-peer REPEAT=3 THREADS=2 ITERS=3 [PEERS="pypi debian"] [SHAPES="32x128 8x512"] bash bench/peer/compare_encode.sh
# Writes $WORK/compare_encode.json (WORK=build-peer/peer-bench). Needs the bench_encode target built in $BUILD (or
# $BENCH) and the peer venv(s).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/peer/lib.sh
BUILD="${BUILD:-build-peer}"
REPEAT="${REPEAT:-3}"
THREADS="${THREADS:-2}"
ITERS="${ITERS:-3}"
SHAPES="${SHAPES:-32x128 8x512}"
WORK="${WORK:-$BUILD/peer-bench}"
RUNS="$WORK/encode-runs.jsonl"
BENCH="${BENCH:-$BUILD}"                   # where bench_encode is, if not in $BUILD
AGREE="${AGREE:-1}"                        # AGREE=0: no agreement check
[ "${SKIP_RUNS:-0}" = 1 ] || [ -x "$BENCH/bench/bench_encode" ] || { echo "missing $BENCH/bench/bench_encode" >&2; exit 1; }
read -r -a peers <<< "$(peer_pythons)"
((${#peers[@]})) || { echo "no peer venv (bash scripts/peer_setup.sh)" >&2; exit 1; }
PY="${peers[0]#*=}"                       # any of them runs the helpers (numpy, safetensors)
mkdir -p "$WORK"
[ "${SKIP_RUNS:-0}" = 1 ] || : > "$RUNS"   # SKIP_RUNS=1: only the agreement and the tables, from the runs recorded before
export OMP_NUM_THREADS=$THREADS
inputs="$WORK/inputs"
missing=0
for shape in $SHAPES; do [ -f "$inputs/ids-$shape.safetensors" ] || missing=1; done
((missing == 0)) || "$PY" bench/peer/make_inputs.py --out "$inputs" --batches "$(tr ' ' , <<<"$SHAPES")"
model="$inputs/model"

load_before=$(loadavg)
echo "load average before: $load_before"
echo "peers: ${peers[*]}"
[ "${SKIP_RUNS:-0}" = 1 ] && REPEAT=0
for ((r = 0; r < REPEAT; ++r)); do
  for shape in $SHAPES; do
    B=${shape%x*} T=${shape#*x}
    ids="$inputs/ids-$shape.safetensors"
    jobs=()
    for c in f32 bf16; do
      save=""
      ((r == 0)) && save="--save $WORK/enc-$shape-bg2vec-$c.safetensors"
      jobs+=("bg2vec-$c|$WORK/enc-$shape-bg2vec-$c-$r.json|$BENCH/bench/bench_encode --model $model --ids $ids --iters $ITERS --attention bidirectional --pooling mean --compute $c --json $WORK/enc-$shape-bg2vec-$c-$r.json $save")
    done
    for p in "${peers[@]}"; do
      for d in float32 bf16; do
        save=""
        ((r == 0)) && save="--save $WORK/enc-$shape-${p%%=*}-$d.safetensors"
        jobs+=("torch-${p%%=*}-$d|$WORK/enc-$shape-${p%%=*}-$d-$r.json|${p#*=} bench/peer/encode_peer.py --model $model --ids $ids --iters $ITERS --threads $THREADS --attention bidirectional --dtype $d --json $WORK/enc-$shape-${p%%=*}-$d-$r.json $save")
      done
    done
    run_jobs "$r" "$shape encode" "${jobs[@]}"
  done
done
load_after=$(loadavg)
echo "load average after: $load_after"
if [ "${SKIP_RUNS:-0}" = 1 ]; then { read -r load_before; read -r load_after; } < "$WORK/encode-load.txt"
else printf '%s\n%s\n' "$load_before" "$load_after" > "$WORK/encode-load.txt"; fi

# Agreement on the same weights and ids, against the first peer's float32 embeddings: bg2vec's timed runs in f32 and
# bf16, and every other peer run (PyTorch's own bf16 autocast: the size of a bf16 difference).
agree=()
ref_peer=${peers[0]%%=*}
[ "$AGREE" = 0 ] && SHAPES_AGREE="" || SHAPES_AGREE=$SHAPES
for shape in $SHAPES_AGREE; do
  ref="torch-$ref_peer float32|$WORK/enc-$shape-$ref_peer-float32.safetensors:embeddings_float32"
  for c in f32 bf16; do
    agree+=("$shape|bg2vec $c|$WORK/enc-$shape-bg2vec-$c.safetensors:embeddings_$c|$ref")
  done
  for p in "${peers[@]}"; do
    for d in float32 bf16; do
      [[ ${p%%=*} == "$ref_peer" && $d == float32 ]] && continue
      agree+=("$shape|torch-${p%%=*} $d|$WORK/enc-$shape-${p%%=*}-$d.safetensors:embeddings_$d|$ref")
    done
  done
done
"$PY" bench/peer/summarize.py encode --runs "$RUNS" --out "$WORK/compare_encode.json" --threads "$THREADS" \
  --load-before "$load_before" --load-after "$load_after" --agree "${agree[@]}"
