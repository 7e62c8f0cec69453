#!/usr/bin/env bash
# Side-by-side encode throughput (forward + mean pooling, bidirectional, 2 threads): build/bench/bench_encode
# against PyTorch/transformers (bench/peer/encode_peer.py, float32 and bf16 autocast) on identical shapes,
# one program after the other, REPEAT times each (alternating). Prints the median tokens/s with the
# min..max spread, and the ratio bg2vec/peer of the medians. The load average is printed before and after:
# the figures are only comparable on an otherwise idle machine.
#   BUILD=build-peer REPEAT=3 bash bench/peer/compare_encode.sh
# Needs: the bench_encode target built in $BUILD, and the peer venv (scripts/peer_setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build-peer}"
PY="${BG2VEC_PEER_VENV:-$PWD/.venv-peer}/bin/python"
REPEAT="${REPEAT:-3}"
THREADS="${THREADS:-2}"
[ -x "$BUILD/bench/bench_encode" ] || { echo "missing $BUILD/bench/bench_encode (cmake --build $BUILD --target bench_encode)" >&2; exit 1; }
[ -x "$PY" ] || { echo "missing $PY (bash scripts/peer_setup.sh)" >&2; exit 1; }

shapes=(
  "demo 7.0M|--layers 4 --hidden 256 --heads 4 --kv-heads 2 --ffn 688 --vocab 8000 --batch 16 --seq-len 128 --iters 5"
  "124.7M|--layers 12 --hidden 768 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 --batch 4 --seq-len 512 --iters 2"
)
tokens() { sed -n 's/.*: \([0-9]*\) tokens\/s.*/\1/p'; }
# "median min..max" of the numbers on stdin
stats() { sort -n | awk '{v[NR]=$1} END {m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.0f %.0f..%.0f\n", m, v[1], v[NR]}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for entry in "${shapes[@]}"; do
  name="${entry%%|*}"; flags="${entry#*|}"
  ours=() f32=() bf16=()
  for ((r = 0; r < REPEAT; ++r)); do
    line=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench/bench_encode" $flags --attention bidirectional)
    echo "$line"; ours+=("$(tokens <<<"$line")")
    peer=$(OMP_NUM_THREADS=$THREADS "$PY" bench/peer/encode_peer.py $flags --attention bidirectional --threads "$THREADS")
    echo "$peer"
    f32+=("$(grep float32 <<<"$peer" | tokens)"); bf16+=("$(grep bf16 <<<"$peer" | tokens)")
  done
  read -r o_med o_rng < <(printf '%s\n' "${ours[@]}" | stats)
  read -r f_med f_rng < <(printf '%s\n' "${f32[@]}" | stats)
  read -r b_med b_rng < <(printf '%s\n' "${bf16[@]}" | stats)
  rows+=("$(printf '| %-10s | %s | %7s (%s) | %7s (%s) | %7s (%s) | %.2f | %.2f |' "$name" \
    "$(sed 's/.*--batch \([0-9]*\) --seq-len \([0-9]*\).*/\1x\2/' <<<"$flags")" \
    "$o_med" "$o_rng" "$f_med" "$f_rng" "$b_med" "$b_rng" \
    "$(awk -v a="$o_med" -v b="$f_med" 'BEGIN{print a/b}')" "$(awk -v a="$o_med" -v b="$b_med" 'BEGIN{print a/b}')")")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "encode tokens/s, median (min..max) of $REPEAT runs, $THREADS threads, bidirectional, mean pooling"
echo "| model      | batch | bg2vec f32 | torch f32 | torch bf16 autocast | bg2vec/torch f32 | bg2vec/torch bf16 |"
echo "|------------|-------|------------|-----------|---------------------|------------------|-------------------|"
printf '%s\n' "${rows[@]}"
