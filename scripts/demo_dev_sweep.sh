#!/usr/bin/env bash
# Reruns the search that chose the --from-scratch demo's MNTP and SimCSE settings, on the dev set only
# (docs/demo.md, "How the settings were chosen"). Needs a finished `bg2vec demo --from-scratch` folder for
# its data and its NTP-pretrained decoder:  bash scripts/demo_dev_sweep.sh out/demo-scratch [sweep-folder]
# Prints one line per variant: its name and nDCG@10 on dev-fragments (mean pooling, BOS not pooled).
set -euo pipefail
demo=${1:?usage: demo_dev_sweep.sh DEMO_DIR [OUT_DIR]}
out=${2:-$demo/dev-sweep}
bg2vec=${BG2VEC:-$(dirname "$0")/../build/bg2vec}
data=$demo/data
[ -f "$demo/causal/model.safetensors" ] || { echo "error: $demo/causal has no model (run bg2vec demo first)" >&2; exit 1; }
mkdir -p "$out"

# variant NAME FROM OBJECTIVE ATTENTION [train flags...]: trains unless already there, then scores on dev.
variant() {
  local name=$1 from=$2 objective=$3 attention=$4; shift 4
  local dir=$out/$name source
  if [ "$objective" = simcse ]; then source=(--text-file "$data/simcse.txt"); else source=(--shards "$data/shards"); fi
  if [ ! -f "$dir/model.safetensors" ]; then
    "$bg2vec" train --objective "$objective" --attention "$attention" --model "$from" --out "$dir" --seq-len 64 \
      --checkpoint-every 0 --no-progress --seed 1 "${source[@]}" "$@" > "$dir.log" 2>&1 ||
      { tail -5 "$dir.log" >&2; exit 1; }
  fi
  score "$name" "$dir" "$attention"
}

score() {
  local name=$1 dir=$2 attention=$3
  printf '{"attention": "%s", "pooling": "mean", "skip_bos": true, "max_length": 512}\n' "$attention" > "$dir/bg2vec.json"
  "$bg2vec" eval retrieval --model "$dir" --beir "$data/eval/dev-fragments" --json "$out/$name.json" > "$out/$name.eval.log" 2>&1 ||
    { cat "$out/$name.eval.log" >&2; exit 1; }
  printf '%-28s %s\n' "$name" "$(grep -o '"ndcg@10": *[0-9.]*' "$out/$name.json")"
}

mkdir -p "$out/causal" && cp "$demo/causal/"{config.json,model.safetensors,tokenizer.model} "$out/causal/"
score causal-mean "$out/causal" causal
mntp=(--steps 150 --batch-size 32 --warmup 15)
variant mntp-bert0.2-lr5e-4 "$out/causal" mntp bidirectional "${mntp[@]}" --lr 5e-4 --mask-rate 0.2 --mask-mode bert
variant mntp-bert0.2-lr1e-3 "$out/causal" mntp bidirectional "${mntp[@]}" --lr 1e-3 --mask-rate 0.2 --mask-mode bert
variant mntp-allmask0.8-lr5e-4 "$out/causal" mntp bidirectional "${mntp[@]}" --lr 5e-4 --mask-rate 0.8 --mask-mode all-mask
simcse=(--steps 60 --batch-size 64)
for m in mntp-bert0.2-lr5e-4; do
  for setting in "0.1 1e-4" "0.3 1e-4" "0.1 3e-4" "0.2 3e-4" "0.3 3e-4" "0.1 1e-3"; do
    set -- $setting
    variant "$m+simcse-d$1-lr$2" "$out/$m" simcse bidirectional "${simcse[@]}" --dropout "$1" --lr "$2"
  done
done
for m in mntp-bert0.2-lr1e-3 mntp-allmask0.8-lr5e-4; do
  variant "$m+simcse-d0.1-lr3e-4" "$out/$m" simcse bidirectional "${simcse[@]}" --dropout 0.1 --lr 3e-4
done
for setting in "0.1 1e-4" "0.3 1e-4" "0.1 3e-4"; do
  set -- $setting
  variant "causal+simcse-d$1-lr$2" "$out/causal" simcse causal "${simcse[@]}" --dropout "$1" --lr "$2"
done
