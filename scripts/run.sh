#!/usr/bin/env bash
# The main job on the embedded default data: installs dependencies, builds the bg2vec tool and runs the
# LLM2Vec recipe end to end (bg2vec demo): data, NTP pretraining, MNTP, SimCSE, FAISS evaluation, report.
# Extra arguments go to `bg2vec demo` (e.g. --quick for a two-minute smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bg2vec_cli
out=${BG2VEC_DEMO_OUT:-out/demo}
build/bg2vec demo --out "$out" "$@"
echo "The report is in $out/report.md (figures in $out/report.json)."
