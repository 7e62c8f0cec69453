#!/usr/bin/env bash
# The main job on the embedded default data: installs dependencies, builds, runs the pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBG2VEC_BUILD_TESTS=OFF -DBG2VEC_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target bg2vec_cli
build/bg2vec version
