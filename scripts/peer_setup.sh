#!/usr/bin/env bash
# Creates the Python virtual environment for the OPTIONAL peer benchmarks and cross-checks in bench/peer/
# (PyTorch CPU, transformers, PEFT, safetensors, faiss-cpu). Nothing in the build or scripts/test.sh needs it.
# Location: $BG2VEC_PEER_VENV, default <repo>/.venv-peer. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BG2VEC_PEER_VENV:-$PWD/.venv-peer}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q torch transformers peft safetensors faiss-cpu numpy
"$venv/bin/python" -c 'import torch, transformers, peft, faiss; print("peer venv:", "'"$venv"'",
  "torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "faiss", faiss.__version__)'
