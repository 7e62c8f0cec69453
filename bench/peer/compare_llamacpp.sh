#!/usr/bin/env bash
# Side-by-side encode of the real Gemma-3-270M (models/gemma3-270m/gemma-3-270m-q4_k_m.gguf, scripts/setup_model.sh)
# against llama.cpp on the same file: B32 x T128 of Bulgarian text (32 texts of the shipped Wikipedia sentences,
# each cut to 127 tokens of the model's tokenizer, + BOS = 128), 2 threads.
#   llama.cpp  built here by bench/peer/llamacpp_build.sh from the llama-cpp-python sdist with -march=native;
#              it computes on the Q4_K/Q6_K blocks directly. Throughput: llama-batched-bench, 32 sequences of 128
#              tokens in one batch (-npp 128 -npl 32, the prompt-processing speed, best of 3 in the process after its
#              warm-up), its settings swept: flash attention off/on x micro-batch 512 / 4096 (-c = -b = 4096).
#              Embeddings and a whole process on the texts: llama-embedding (mean pooling, causal attention: a
#              decoder's own; all 32 texts in one batch).
#   bg2vec     bench_encode --model FILE --ids (dequantized to float32 at load; --compute f32 and bf16; the texts'
#              ids from our tokenizer with BOS, as bg2vec encode feeds them), best batch of ITERS after a warm-up,
#              causal (as llama.cpp) and bidirectional (the encoder's); its embeddings (--save) are compared with
#              llama-embedding's (mean pooling over every token, BOS included, on both sides: llama.cpp adds BOS
#              and no EOS for this GGUF); and, where the CLI is built, `bg2vec encode --text-file` on the same
#              texts as a whole process (tokens / wall seconds) against llama-embedding's.
# Every configuration is its own process (peak RSS: /usr/bin/time -v), in turn, REPEAT times (reversed on every
# other repeat). Prints the table (bench/peer/summarize.py), the cosines, and writes $WORK/compare_llamacpp.json.
#   BUILD=build-peer REPEAT=3 THREADS=2 ITERS=3 [GGUF=...] [LLAMACPP_WORK=build-llamacpp] bash bench/peer/compare_llamacpp.sh
# Compiling llama.cpp takes 10-20 minutes on 2 busy cores (once: LLAMACPP_WORK keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source bench/peer/lib.sh
source bench/peer/llamacpp_build.sh
BUILD="${BUILD:-build-peer}"
REPEAT="${REPEAT:-3}"
THREADS="${THREADS:-2}"
ITERS="${ITERS:-3}"
GGUF="${GGUF:-$repo/models/gemma3-270m/gemma-3-270m-q4_k_m.gguf}"
LLAMACPP_WORK="${LLAMACPP_WORK:-$repo/build-llamacpp}"
WORK="${WORK:-$BUILD/peer-bench}"
RUNS="$WORK/llamacpp-runs.jsonl"
BG2VEC="${BG2VEC:-$BUILD/bg2vec}"
N_TEXTS=32 TOKENS=127
[ -f "$GGUF" ] || { echo "missing $GGUF (bash scripts/setup_model.sh)" >&2; exit 1; }
BENCH="${BENCH:-$BUILD}"                   # where bench_encode is, if not in $BUILD
[ -x "$BENCH/bench/bench_encode" ] || { echo "missing $BENCH/bench/bench_encode (cmake --build $BUILD --target bench_encode)" >&2; exit 1; }
[ -x "$BG2VEC" ] || echo "no $BG2VEC: the whole-process comparison with llama-embedding is left out"
read -r -a peers <<< "$(peer_pythons)"
PY="${peers[0]#*=}"
[ -x "${PY:-}" ] || PY=python3
mkdir -p "$WORK"
: > "$RUNS"
export OMP_NUM_THREADS=$THREADS

llamacpp_build "$LLAMACPP_WORK" "$LLAMACPP_WORK/llama-build-native" ON llama-embedding llama-batched-bench
embedding="$LLAMACPP_WORK/llama-build-native/bin/llama-embedding"
batched="$LLAMACPP_WORK/llama-build-native/bin/llama-batched-bench"
echo "llama.cpp: $LLAMACPP_VERSION (vendor/llama.cpp $(sed -n 's/.*ggml commit: *//p' "$LLAMACPP_WORK/llama-build-native.configure.log" 2>/dev/null | head -1))"
gguf_token_ids_build "$repo" "$LLAMACPP_WORK"

# The texts: consecutive shipped sentences joined until long enough, cut to TOKENS ids, one text a line.
texts_dir="$WORK/gemma-texts"
rm -rf "$texts_dir"
mkdir -p "$texts_dir"
python3 - "$repo" "$texts_dir" "$N_TEXTS" <<'PY'
import bz2, os, sys
repo, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l.strip() for l in bz2.open(os.path.join(repo, "data/corpus/wikiann-bg.sentences.txt.bz2"), "rt", encoding="utf-8")]
lines = [l for l in lines if l]
k = 0
for i in range(n):
    text = ""
    while len(text) < 1200:                      # ~3 characters a token: well over 127 tokens
        text += (" " if text else "") + lines[k]
        k += 1
    open(os.path.join(out, f"t{i:02d}.txt"), "w", encoding="utf-8").write(text)
PY
counts=$("$GGUF_TOKEN_IDS" --truncate "$TOKENS" "$GGUF" "$texts_dir"/t*.txt)
texts="$WORK/gemma-texts.txt"
for f in "$texts_dir"/t*.txt; do tr '\n' ' ' < "$f"; echo; done > "$texts"
echo "texts: $(wc -l < "$texts") lines, our token counts (no BOS): $(awk '{print $2}' <<<"$counts" | sort -n | uniq -c | tr '\n' ' ')"
# The same texts as our token ids with BOS (what bg2vec encode would feed the model), padded right: bench_encode --ids.
ids="$WORK/gemma-ids.safetensors"
"$GGUF_TOKEN_IDS" "$GGUF" "$texts_dir"/t*.txt > "$WORK/gemma-ids.txt"
"$PY" - "$ids" "$("$GGUF_TOKEN_IDS" --bos "$GGUF")" "$WORK/gemma-ids.txt" <<'PY'
import ast, sys
import numpy as np
from safetensors.numpy import save_file
rows = [[int(sys.argv[2])] + ast.literal_eval(l.split(" ", 1)[1]) for l in open(sys.argv[3]) if l.strip()]
T = max(len(r) for r in rows)
ids = np.zeros((len(rows), T), dtype=np.int64)
mask = np.zeros((len(rows), T), dtype=np.int64)
for i, r in enumerate(rows):
    ids[i, :len(r)] = r
    mask[i, :len(r)] = 1
save_file({"input_ids": ids, "attention_mask": mask}, sys.argv[1])
print(f"ids: {len(rows)} x {T} (BOS {sys.argv[2]} + the text), {int(mask.sum())} real tokens")
PY

# llama-batched-bench's figures (JSON lines on stdout): the best of its repeats' prompt-processing speed.
batched_json() {
  python3 - "$WORK/stdout.txt" "$1" <<'PY'
import json, re, sys
runs = [json.loads(re.sub(r"-?nan", "null", l)) for l in open(sys.argv[1]) if l.startswith("{")]   # speed_tg is nan with -ntg 0
best = max(runs, key=lambda r: r["speed_pp"])
json.dump({"tokens_per_s": best["speed_pp"], "all_speed_pp": [r["speed_pp"] for r in runs], "n_ubatch": best["n_ubatch"],
           "flash_attn": best["flash_attn"]}, open(sys.argv[2], "w"))
PY
}
# A whole process on the texts (load, tokenize, one batch, write): tokens / wall seconds of the last run recorded.
e2e_json() {
  python3 - "$RUNS" "$1" "$((N_TEXTS * (TOKENS + 1)))" <<'PY'
import json, re, sys
rec = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
json.dump({"tokens_per_s": int(sys.argv[3]) / rec["wall_s"], "wall_s": rec["wall_s"]}, open(sys.argv[2], "w"))
PY
}

load_before=$(loadavg)
echo "load average before: $load_before"
shape="32x128"
for ((r = 0; r < REPEAT; ++r)); do
  jobs=()
  for attn in causal bidirectional; do
    for c in f32 bf16; do
      json="$WORK/gemma-bg2vec-$attn-$c-$r.json"
      save=""
      ((r == 0)) && save="--save $WORK/gemma-bg2vec-$attn-$c.safetensors"
      jobs+=("$attn bg2vec-$c|$json|$BENCH/bench/bench_encode --model $GGUF --ids $ids --iters $ITERS --attention $attn --pooling mean --compute $c --json $json $save")
    done
  done
  for fa in off on; do
    for ub in 512 4096; do
      json="$WORK/gemma-llama-fa$fa-ub$ub-$r.json"
      jobs+=("causal llama.cpp-fa${fa}ub$ub|$json|$batched -m $GGUF -npp 128 -ntg 0 -npl 32,32,32 -c 4096 -b 4096 -ub $ub -fa $fa -t $THREADS -tb $THREADS --output-format jsonl")
    done
  done
  [ -x "$BG2VEC" ] && jobs+=("e2e bg2vec-bf16|$WORK/gemma-e2e-bg2vec-$r.json|$BG2VEC encode --model $GGUF --text-file $texts --attention causal --pooling mean --batch-size 32 --compute bf16 --out $WORK/gemma-e2e-bg2vec.safetensors")
  jobs+=("e2e llama.cpp-embedding|$WORK/gemma-e2e-llama-$r.json|$embedding -m $GGUF -f $texts --pooling mean -t $THREADS -tb $THREADS -c 4096 -b 4096 -ub 4096 -fa on --embd-normalize -1")
  n=${#jobs[@]}
  for ((i = 0; i < n; ++i)); do
    k=$i
    ((r % 2)) && k=$((n - 1 - i))
    IFS='|' read -r label json cmd <<< "${jobs[k]}"
    MEASURE_LINES=3 measure "$shape $label" "$json" -- $cmd
    case $label in
      causal\ llama.cpp*) batched_json "$json" ;;
      e2e*) e2e_json "$json" ;;
    esac
  done
done
load_after=$(loadavg)
echo "load average after: $load_after"

# Embeddings of the same texts: llama.cpp (JSON output, flash attention off, one run) vs bg2vec encode.
"$embedding" -m "$GGUF" -f "$texts" --pooling mean -t "$THREADS" -c 4096 -b 4096 -ub 4096 -fa off --embd-normalize -1 \
  --embd-output-format json > "$WORK/gemma-llama-embeddings.json" 2> "$WORK/gemma-llama-embeddings.log"
grep -E "last token in the prompt|add_bos|add_eos|n_tokens|prompt eval" "$WORK/gemma-llama-embeddings.log" | head -5 || true
agree=()
for c in f32 bf16; do
  agree+=("32x128|bg2vec $c causal|$WORK/gemma-bg2vec-causal-$c.safetensors:embeddings_$c|llama.cpp|$WORK/gemma-llama-embeddings.safetensors:embeddings")
done
agree+=("32x128|bg2vec bf16 causal|$WORK/gemma-bg2vec-causal-bf16.safetensors:embeddings_bf16|bg2vec f32 causal|$WORK/gemma-bg2vec-causal-f32.safetensors:embeddings_f32")
agree+=("32x128|bg2vec f32 bidirectional|$WORK/gemma-bg2vec-bidirectional-f32.safetensors:embeddings_f32|llama.cpp (causal)|$WORK/gemma-llama-embeddings.safetensors:embeddings")
"$PY" - "$WORK/gemma-llama-embeddings.json" "$WORK/gemma-llama-embeddings.safetensors" <<'PY'
import json, re, sys
import numpy as np
from safetensors.numpy import save_file
d = json.load(open(sys.argv[1]))["data"]
save_file({"embeddings": np.array([e["embedding"] for e in sorted(d, key=lambda e: e["index"])], dtype=np.float32)}, sys.argv[2])
PY
"$PY" bench/peer/summarize.py llamacpp --runs "$RUNS" --out "$WORK/compare_llamacpp.json" --threads "$THREADS" \
  --load-before "$load_before" --load-after "$load_after" --agree "${agree[@]}" \
  --note "llama.cpp $LLAMACPP_VERSION; texts $N_TEXTS x ($TOKENS + BOS) tokens"
