#!/usr/bin/env bash
# Crash-safe training, checked: every `bg2vec train` configuration below runs once uninterrupted, then again
# under SIGKILL at random moments (a checkpoint every step, so many kills land while one is being written),
# resuming each time from what is on disk, until a run finishes; the final weights (and the adapter) must
# equal the uninterrupted run's byte for byte, and so must every logged loss.
#
#   scripts/kill_resume.sh [--kills N] [--steps S] [--configs a,b,...] [--bg2vec PATH] [--keep DIR]
#     --kills    kills per configuration (default 25)
#     --steps    training steps per run, a checkpoint after each (default 40)
#     --configs  a subset of: ntp-full ntp-full-f32 mntp-full mntp-lora simcse-full simcse-lora mntp-lora-f32
#                (default all; -f32: --compute f32, the others the default, bf16 where the CPU has it)
#     --bg2vec   the tool (default build/bg2vec)
#     --keep     work in DIR and keep it (default: a temporary folder, removed at the end)
# Prints one line per configuration and exits 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=25 steps=40 configs="ntp-full ntp-full-f32 mntp-full mntp-lora simcse-full simcse-lora mntp-lora-f32" bg2vec=build/bg2vec work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --configs) configs=${2//,/ }; shift 2 ;;
    --bg2vec) bg2vec=$2; shift 2 ;;
    --keep) work=$2; shift 2 ;;
    *) echo "kill_resume.sh: unknown argument '$1'" >&2; exit 1 ;;
  esac
done
[ -x "$bg2vec" ] || { echo "kill_resume.sh: $bg2vec is not built (cmake --build build --target bg2vec_cli)" >&2; exit 1; }
bg2vec=$(realpath "$bg2vec")
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; else mkdir -p "$work"; fi

# The data: shipped Wikipedia sentences, tokenized for the Mistral-shaped GGUF fixture (its own vocabulary).
"$bg2vec" gguf import --gguf tests/fixtures/gguf/mistral-dev-f32.gguf --out "$work/model" >/dev/null
{ bzcat data/corpus/wikiann-bg.sentences.txt.bz2 || true; } | head -n 4000 >"$work/sentences.txt"   # bzcat ends at the pipe
"$bg2vec" data tokenize --tokenizer "$work/model/tokenizer.model" --input "$work/sentences.txt" --out "$work/shards" \
  --seq-len 32 --val-fraction 0 -q >/dev/null

args_of() {
  local common="--model $work/model --steps $steps --seq-len 32 --batch-size 4 --checkpoint-every 1 --seed 7 --no-progress"
  case "$1" in
    ntp-full) echo "$common --objective ntp --shards $work/shards --lr 1e-3" ;;
    ntp-full-f32) echo "$common --objective ntp --shards $work/shards --lr 1e-3 --compute f32" ;;
    mntp-full) echo "$common --objective mntp --shards $work/shards --lr 1e-3 --mask-token-id 4 --mask-mode bert" ;;
    mntp-lora) echo "$common --objective mntp --shards $work/shards --lr 1e-3 --mask-token-id 4 --lora-rank 4 --lora-dropout 0.1" ;;
    mntp-lora-f32) echo "$common --objective mntp --shards $work/shards --lr 1e-3 --mask-token-id 4 --lora-rank 4 --lora-dropout 0.1 --compute f32" ;;
    simcse-full) echo "$common --objective simcse --text-file $work/sentences.txt --lr 1e-4 --dropout 0.1" ;;
    simcse-lora) echo "$common --objective simcse --text-file $work/sentences.txt --lr 1e-4 --dropout 0.1 --lora-rank 4 --lora-dropout 0.1 --group-by-length" ;;
    *) echo "kill_resume.sh: unknown configuration '$1'" >&2; return 1 ;;
  esac
}

# Every logged step's loss, learning rate and gradient norm (not the timings).
log_figures() { sed -E 's/,?"tokens_per_s":[^,}]*//' "$1/train_log.jsonl"; }

now_ms() { date +%s%3N; }
last_logged_step() {
  local line
  line=$(tail -n 1 "$1/train_log.jsonl" 2>/dev/null || true)
  [[ $line =~ \"step\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}
failed=0
for config in $configs; do
  args=$(args_of "$config")
  start=$(now_ms)
  # shellcheck disable=SC2086
  "$bg2vec" train $args --out "$work/$config-ref" >"$work/$config-ref.log" 2>&1 ||
    { echo "$config: the uninterrupted run failed:"; cat "$work/$config-ref.log"; exit 1; }
  duration=$(( $(now_ms) - start ))
  # Start-up, loading and saving alone: the finished run again (it resumes at its last step and saves).
  start=$(now_ms)
  # shellcheck disable=SC2086
  "$bg2vec" train $args --out "$work/$config-ref" >>"$work/$config-ref.log" 2>&1
  fixed=$(( $(now_ms) - start ))

  out="$work/$config-killed"
  killed=0 mid_write=0 attempts=0
  while :; do
    attempts=$((attempts + 1))
    # shellcheck disable=SC2086
    "$bg2vec" train $args --out "$out" >>"$out.log" 2>&1 &
    pid=$!
    if [ "$killed" -lt "$kills" ]; then
      # A quarter of the kills at a random moment of start-up and loading. The others once the run has
      # logged a random step among the next few (not the last: the run could end before the kill), then half of
      # them within 3 ms (the log line comes just before that step's checkpoint is written: these aim at the
      # write) and half within a step's time (at the next step's work).
      done_steps=$(sed -nE 's/^ *"step": *([0-9]+).*/\1/p' "$out/checkpoint/trainer_state.json" 2>/dev/null || true)
      done_steps=${done_steps:-0}
      if [ $((RANDOM % 4)) -eq 0 ] || [ "$done_steps" -ge $((steps - 1)) ]; then
        sleep "$(awk -v c="$fixed" -v r="$RANDOM" 'BEGIN { printf "%.3f", c * r / 32768 / 1000 }')"
      else
        span=$(((steps - 1 - done_steps) / (kills - killed)))   # the kills left, spread over the steps left
        target=$((done_steps + 1 + RANDOM % (span > 0 ? span : 1)))
        while kill -0 "$pid" 2>/dev/null && [ "$(last_logged_step "$out")" -lt "$target" ]; do sleep 0.002; done
        window=$(awk -v d="$duration" -v c="$fixed" -v s="$steps" -v aim=$((RANDOM % 2)) \
          'BEGIN { printf "%.6f", aim ? 0.003 : (d - c) / s / 1000 }')
        sleep "$(awk -v w="$window" -v r="$RANDOM" 'BEGIN { printf "%.4f", w * r / 32768 }')"
      fi
      if kill -KILL "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        killed=$((killed + 1))
        # Left behind only by a kill inside save_checkpoint: this process's temporary checkpoint folder.
        if [ -d "$out/checkpoint.tmp.$pid" ]; then mid_write=$((mid_write + 1)); fi
        continue
      fi
    fi
    if ! wait "$pid"; then echo "$config: a resumed run failed (see $out.log):"; tail -5 "$out.log"; exit 1; fi
    break
  done

  same=yes
  for f in model.safetensors adapter/adapter_model.safetensors; do
    if [ -f "$work/$config-ref/$f" ] || [ -f "$out/$f" ]; then cmp -s "$work/$config-ref/$f" "$out/$f" || same="no ($f differs)"; fi
  done
  if [ "$same" = yes ] && ! diff -q <(log_figures "$work/$config-ref") <(log_figures "$out") >/dev/null; then same="no (train_log.jsonl differs)"; fi
  printf '%-14s %3d kills (%2d inside a checkpoint write), %3d runs, uninterrupted %5d ms: identical %s\n' \
    "$config" "$killed" "$mid_write" "$attempts" "$duration" "$same"
  [ "$same" = yes ] || failed=1
done
exit "$failed"
