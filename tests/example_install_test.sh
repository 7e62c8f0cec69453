#!/usr/bin/env bash
# The examples build against the *installed* package, as an outside project would (find_package(bg2vec)):
# embed_sentences embeds sentences with a model folder; examples/policies' experiment runner trains and
# evaluates every combination of its type list on that model (two steps each: a smoke test, not a result).
set -euo pipefail
source_dir=$1 build_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/examples/embed_sentences" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" -j2 >/dev/null
cmake -S "$source_dir/examples/policies" -B "$work/policies" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/policies" -j2 >/dev/null

# A model folder: the mistral-dev test weights with a small tokenizer trained on shipped sentences.
model="$work/model"
mkdir -p "$model"
cp "$source_dir/tests/fixtures/hf/mistral-dev/config.json" "$source_dir/tests/fixtures/hf/mistral-dev/model.safetensors" "$model/"
# Sentences without Latin letters, digits or ASCII punctuation: few distinct characters, so a 380-piece
# tokenizer (the test model's vocabulary is 384) covers them. sed, not head: no SIGPIPE under pipefail.
bzcat "$source_dir/data/corpus/wikiann-bg.sentences.txt.bz2" | LC_ALL=C grep -vE '[A-Za-z0-9()";:!?/-]' |
  sed -n "1,2000p" > "$work/sentences.txt"
"$work/prefix/bin/bg2vec" tokenizer train --input "$work/sentences.txt" --vocab-size 380 --model-type bpe \
  --out "$model/tokenizer.model" >/dev/null 2>&1

output=$("$work/build/embed_sentences" "$model" bidirectional mean 2>/dev/null)
echo "$output"
# four rows of four similarities, each sentence identical to itself
[ "$(echo "$output" | grep -c ' 1.000 ')" -eq 4 ] || { echo "unexpected output" >&2; exit 1; }

table=$("$work/policies/experiments" --model "$model" --sentences "$work/sentences.txt" --beir "$source_dir/tests/fixtures/beir-tiny" \
  --steps 2 --batch 4 --max-length 16 --passage-length 32 --compute f32)
echo "$table"
# one row per experiment of the type list, each with a finite nDCG@10 in [0, 1]
[ "$(echo "$table" | grep -cE '\| (0|1)\.[0-9]{3} \|$')" -eq 7 ] || { echo "unexpected experiment table" >&2; exit 1; }
