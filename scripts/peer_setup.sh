#!/usr/bin/env bash
# Creates the Python virtual environments for the OPTIONAL peer benchmarks and cross-checks in bench/peer/.
# Nothing in the build or scripts/test.sh needs them.
#   $BG2VEC_PEER_VENV (default <repo>/.venv-peer): the newest torch that installs from PyPI (its Linux wheel pulls
#       CUDA libraries; it runs on the CPU here), transformers, PEFT, safetensors, faiss-cpu, numpy.
#   $BG2VEC_PEER_VENV/debian: Debian's python3-torch (apt), when it is installed or PEER_DEBIAN=1 installs it
#       (root; apt-get install --no-install-recommends python3-torch), in a venv over the system site-packages with
#       the newest transformers/PEFT that still support that torch, installed --no-deps so that pip cannot replace
#       Debian's torch with PyPI's. The compare scripts run every venv they find (PEERS="pypi debian").
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BG2VEC_PEER_VENV:-$PWD/.venv-peer}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q torch transformers peft safetensors faiss-cpu numpy
"$venv/bin/python" -c 'import torch, transformers, peft, faiss; print("peer venv:", "'"$venv"'",
  "torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "faiss", faiss.__version__)'

# Debian's torch (1.13 on Debian 12): transformers 4.46 is the last line that runs on torch < 2 (eager attention),
# PEFT 0.13 likewise.
if [ "${PEER_DEBIAN:-0}" = 1 ] && ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-torch python3-venv
fi
if /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  deb="$venv/debian"
  [ -x "$deb/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$deb"
  "$deb/bin/python" -m pip install -q --no-deps "transformers>=4.45,<4.47" "peft>=0.13,<0.14" "accelerate<1.1" \
    "tokenizers>=0.20,<0.21" "huggingface-hub<1.0" safetensors regex tqdm pyyaml packaging filelock fsspec
  "$deb/bin/python" -c 'import torch, transformers, peft; print("peer venv (Debian torch):", "'"$deb"'",
    "torch", torch.__version__, "from", torch.__file__, "transformers", transformers.__version__, "peft", peft.__version__)'
else
  echo "Debian's python3-torch is not installed: no second peer (PEER_DEBIAN=1 bash scripts/peer_setup.sh installs it)"
fi
