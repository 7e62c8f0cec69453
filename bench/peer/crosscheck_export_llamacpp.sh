#!/usr/bin/env bash
# Optional cross-check of `bg2vec gguf export` against llama.cpp (built by llamacpp_build.sh from the sources that the
# PyPI package llama-cpp-python ships; nothing of it is committed): llama.cpp loads each exported encoder and embeds
# Bulgarian Wikipedia sentences (data/corpus/wikiann-bg.sentences.txt.bz2) with the attention and pooling the file
# says; its embeddings are compared, by cosine per sentence, with `bg2vec encode` of the same file (f32 compute).
# Encoders: the HF fixtures (tests/fixtures/hf: mistral-dev as `llama`, gemma2-dev as `gemma2`, gemma3-dev as
# `gemma-embedding`; random weights, tokenizers of tests/fixtures/gguf/tokenizers), bidirectional + mean, and the
# demo's encoder ($DEMO, default out/demo/encoder; Gemma-3-270M after MNTP + SimCSE, bidirectional, mean without BOS)
# exported three ways: --include-bos (llama.cpp's mean over every token, against bg2vec's mean over every token),
# --token-embeddings (llama.cpp's token vectors averaged here without BOS, against the encoder's own embeddings) and
# --type q8_0 --include-bos (against bg2vec's f32 embeddings: the quantization error).
#   bash bench/peer/crosscheck_export_llamacpp.sh            (WORK=build-export/crosscheck, N_TEXTS=32, THREADS=2)
# Writes $WORK/summary.json and prints a table.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/bench/peer/llamacpp_build.sh"
BG2VEC=${BG2VEC:-$repo/build/bg2vec}
WORK=${WORK:-$repo/build-export/crosscheck}
LLAMACPP_WORK=${LLAMACPP_WORK:-$repo/build-llamacpp}
DEMO=${DEMO:-$repo/out/demo/encoder}
N_TEXTS=${N_TEXTS:-32}
THREADS=${THREADS:-2}
PY=${PY:-$repo/.venv-peer/bin/python}
[ -x "$PY" ] || PY=python3
[ -x "$BG2VEC" ] || { echo "no $BG2VEC (build bg2vec_cli, or set BG2VEC)"; exit 1; }
mkdir -p "$WORK"
llamacpp_build "$LLAMACPP_WORK" "$LLAMACPP_WORK/llama-build-native" ON llama-embedding
embedding="$LLAMACPP_WORK/llama-build-native/bin/llama-embedding"

texts="$WORK/texts.txt"
# Sentences without Latin letters or digits: the fixtures' 384-piece tokenizers have no byte fallback, and a run of
# unknown characters is one unk for sentencepiece but one unk per character for llama.cpp.
bzcat "$repo/data/corpus/wikiann-bg.sentences.txt.bz2" | grep -v '[A-Za-z0-9]' | awk 'length($0) > 40 && length($0) < 400' |
  head -"$((N_TEXTS * 8))" > "$texts" || true   # head closes the pipe early (SIGPIPE under pipefail)

# An encoder folder of a fixture, as train writes one.
fixture_folder() {
  local hf=$1 dir="$WORK/$1"
  mkdir -p "$dir"
  cp "$repo/tests/fixtures/hf/$hf/config.json" "$repo/tests/fixtures/hf/$hf/model.safetensors" "$dir/"
  local tok=gemma3-dev
  [ "$hf" = mistral-dev ] && tok=mistral-dev
  cp "$repo/tests/fixtures/gguf/tokenizers/$tok.model" "$dir/tokenizer.model"
  echo '{"attention": "bidirectional", "pooling": "mean", "skip_bos": false, "max_length": 512}' > "$dir/bg2vec.json"
  echo "$dir"
}

cases=()   # name|model|export flags|reference model (bg2vec encode)|pool the token vectors here without BOS (0/1)
for hf in mistral-dev gemma2-dev gemma3-dev; do
  d=$(fixture_folder "$hf")
  cases+=("$hf-f32|$d|--type f32|GGUF|0" "$hf-q8_0|$d|--type q8_0|$d|0")
done
if [ -f "$DEMO/model.safetensors" ]; then
  cases+=("demo-include-bos-f32|$DEMO|--include-bos|GGUF|0"
          "demo-include-bos-q8_0|$DEMO|--include-bos --type q8_0|$WORK/demo-include-bos-f32.gguf|0"
          "demo-tokens-f32|$DEMO|--token-embeddings|$DEMO|1")
else
  echo "no demo encoder at $DEMO (bash scripts/run.sh makes it): only the fixtures are checked"
fi

rows=()
for c in "${cases[@]}"; do
  IFS='|' read -r name model flags reference tokens <<< "$c"
  gguf="$WORK/$name.gguf"
  # shellcheck disable=SC2086
  "$BG2VEC" gguf export --model "$model" --out "$gguf" $flags > "$WORK/$name.export.log" 2>&1
  [ "$reference" = GGUF ] && reference=$gguf
  # llama.cpp stops on a character outside a vocabulary without byte pieces (the fixtures'): their texts are the
  # sentences made of the vocabulary's characters only.
  case_texts="$WORK/$name.texts.txt"
  "$PY" - "$gguf" "$texts" "$case_texts" "$N_TEXTS" <<'PY'
import sys
import gguf
r = gguf.GGUFReader(sys.argv[1])
f = r.fields["tokenizer.ggml.tokens"]
tokens = [bytes(f.parts[i]).decode() for i in f.data]
chars = {t for t in tokens if len(t) == 1} | ({" "} if "\u2581" in tokens else set())
byte_fallback = "<0x41>" in tokens
lines = [l for l in open(sys.argv[2]).read().splitlines() if byte_fallback or set(l) <= chars][:int(sys.argv[4])]
open(sys.argv[3], "w").write("".join(l + "\n" for l in lines))
PY
  nice "$BG2VEC" encode --compute f32 --model "$reference" --text-file "$case_texts" --out "$WORK/$name.bg2vec.safetensors" \
    > "$WORK/$name.encode.log" 2>&1
  # llama-embedding's logger runs in a thread that is not always drained at exit: the JSON on stdout comes out cut
  # short now and then (seen on the fixtures' small outputs, up to half the runs under load); such a run is repeated.
  for try in $(seq 20); do
    nice "$embedding" -m "$gguf" -f "$case_texts" -t "$THREADS" -c 4096 -b 4096 -ub 4096 --embd-normalize -1 \
      --embd-output-format json --verbose-prompt > "$WORK/$name.llama.json" 2> "$WORK/$name.llama.log"
    "$PY" -c 'import json, sys; t = open(sys.argv[1]).read(); json.loads(t[t.index("{\n  \"object\""):])' \
      "$WORK/$name.llama.json" 2> /dev/null && break
    echo "$name: llama-embedding's output was cut short (try $try)"
  done
  rows+=("$name|$WORK/$name.bg2vec.safetensors|$WORK/$name.llama.json|$WORK/$name.llama.log|$tokens")
done

"$PY" - "$WORK/summary.json" "${rows[@]}" <<'PY'
import json, re, sys
import numpy as np
from safetensors.numpy import load_file

out = []
for row in sys.argv[2:]:
    name, ours, theirs, log, tokens = row.split("|")
    a = load_file(ours)["embeddings"].astype(np.float64)
    text = open(theirs).read()   # --verbose-prompt lists each prompt's tokens on stdout before the JSON
    data = json.loads(text[text.index('{\n  "object"'):])["data"]
    b = np.array([e["embedding"] for e in sorted(data, key=lambda e: e["index"])], dtype=np.float64)
    counts = [int(n) for n in re.findall(r"number of tokens in prompt = (\d+)", open(log).read())]
    if tokens == "1":   # token vectors in prompt order: the mean of each prompt's tokens after the first (BOS)
        assert sum(counts) == len(b), (sum(counts), len(b))
        means, at = [], 0
        for n in counts:
            means.append(b[at + 1:at + n].mean(axis=0))
            at += n
        b = np.array(means)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    rel = np.abs(a - b).max() / np.abs(a).max()
    out.append({"case": name, "texts": len(a), "tokens": sum(counts), "cosine_min": float(cos.min()),
                "cosine_mean": float(cos.mean()), "max_abs_diff_relative": float(rel)})
json.dump(out, open(sys.argv[1], "w"), indent=2)
print(f"{'case':28s} {'texts':>5s} {'tokens':>6s} {'cos min':>9s} {'cos mean':>9s} {'max|diff|/max':>13s}")
for r in out:
    print(f"{r['case']:28s} {r['texts']:5d} {r['tokens']:6d} {r['cosine_min']:9.6f} {r['cosine_mean']:9.6f} {r['max_abs_diff_relative']:13.2e}")
PY
echo "llama.cpp $LLAMACPP_VERSION; details in $WORK"
