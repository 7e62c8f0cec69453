#!/usr/bin/env bash
# The main job on the embedded default: installs dependencies and the embedded Gemma-3-270M, builds the bg2vec
# tool and runs the LLM2Vec recipe end to end on it (bg2vec demo): data, import, MNTP and SimCSE with LoRA,
# a FAISS index, the evaluation of every stage, report. Extra arguments go to `bg2vec demo` (e.g. --quick
# for a smoke run, --from-scratch for the offline recipe). The whole output also goes to out/demo.log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bg2vec_cli
out=${BG2VEC_DEMO_OUT:-out/demo}
mkdir -p "$(dirname "$out")"
build/bg2vec demo --out "$out" --overwrite "$@" 2>&1 | tee "$out.log"
echo "The report is in $out/report.md (figures in $out/report.json)."
