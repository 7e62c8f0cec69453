#!/usr/bin/env bash
# Copies the headers that the GPU machine's build needs (bench/gpu/CMakeLists.txt) from this machine's Debian
# packages (libeigen3-dev, nlohmann-json3-dev, doctest-dev) into .gpu-deps/ (ignored by git; about 11 MB), which
# the device tool carries there: the GPU machine has no Debian packages and no network.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=${1:-$root/.gpu-deps}
for d in /usr/include/eigen3 /usr/include/nlohmann /usr/include/doctest; do
  [[ -d $d ]] || { echo "prepare_deps.sh: $d is missing (bash scripts/setup.sh installs it)" >&2; exit 1; }
done
rm -rf "$dest"
mkdir -p "$dest"
cp -r /usr/include/eigen3 /usr/include/nlohmann /usr/include/doctest "$dest"/
du -sh "$dest"
