#!/usr/bin/env bash
# Side-by-side training throughput, bidirectional MNTP step (forward, cross-entropy, backward, AdamW), 2 threads:
# build/bench/bench_train's "mntp" line against PyTorch/transformers (bench/peer/train_peer.py, float32 and
# bf16 autocast) on bench_train's shape (4 layers, hidden 256, 4/2 heads, ffn 688, vocab 8000, batch 16 x 128,
# 80% masked), one program after the other, REPEAT times each (alternating). Prints the median tokens/s with
# the min..max spread and the ratio bg2vec/peer of the medians, and the load average before and after.
#   BUILD=build-peer REPEAT=3 bash bench/peer/compare_train.sh
# Needs: the bench_train target built in $BUILD, and the peer venv (scripts/peer_setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build-peer}"
PY="${BG2VEC_PEER_VENV:-$PWD/.venv-peer}/bin/python"
REPEAT="${REPEAT:-3}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-5}"
[ -x "$BUILD/bench/bench_train" ] || { echo "missing $BUILD/bench/bench_train (cmake --build $BUILD --target bench_train)" >&2; exit 1; }
[ -x "$PY" ] || { echo "missing $PY (bash scripts/peer_setup.sh)" >&2; exit 1; }
stats() { sort -n | awk '{v[NR]=$1} END {m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.0f %.0f..%.0f\n", m, v[1], v[NR]}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=() f32=() bf16=()
for ((r = 0; r < REPEAT; ++r)); do
  out=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench/bench_train" --steps "$STEPS")
  echo "$out"; ours+=("$(awk '$1 == "mntp" {print $2}' <<<"$out")")
  peer=$(OMP_NUM_THREADS=$THREADS "$PY" bench/peer/train_peer.py --steps "$STEPS" --threads "$THREADS")
  echo "$peer"
  f32+=("$(sed -n 's/.*float32.*: \([0-9]*\) tokens\/s.*/\1/p' <<<"$peer")")
  bf16+=("$(sed -n 's/.*bf16.*: \([0-9]*\) tokens\/s.*/\1/p' <<<"$peer")")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r o_med o_rng < <(printf '%s\n' "${ours[@]}" | stats)
read -r f_med f_rng < <(printf '%s\n' "${f32[@]}" | stats)
read -r b_med b_rng < <(printf '%s\n' "${bf16[@]}" | stats)
echo
echo "MNTP training step tokens/s, median (min..max) of $REPEAT runs, $THREADS threads"
echo "| model    | batch  | bg2vec f32 | torch f32 | torch bf16 autocast | bg2vec/torch f32 | bg2vec/torch bf16 |"
echo "|----------|--------|------------|-----------|---------------------|------------------|-------------------|"
printf '| demo 7.0M | 16x128 | %s (%s) | %s (%s) | %s (%s) | %.2f | %.2f |\n' "$o_med" "$o_rng" "$f_med" "$f_rng" \
  "$b_med" "$b_rng" "$(awk -v a="$o_med" -v b="$f_med" 'BEGIN{print a/b}')" "$(awk -v a="$o_med" -v b="$b_med" 'BEGIN{print a/b}')"
