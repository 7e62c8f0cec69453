#!/usr/bin/env bash
# Optional cross-check (not run by the tests): our tokenizer rebuilt from a GGUF file against llama.cpp's
# own tokenizer on the same file. Downloads the llama-cpp-python sdist from PyPI, builds only llama.cpp's
# `llama-tokenize` from its vendor/llama.cpp (CPU only, in WORK, nothing of it committed), builds our
# bench/peer/gguf_token_ids.cpp, and compares the ids (no BOS, control tokens not parsed from the texts,
# as sentencepiece does) on Bulgarian sentences (data/corpus) and English prose (the repository's docs
# and header comments).
#   bash bench/peer/crosscheck_tokenizer_llamacpp.sh [--bulgarian N] [--english N] [--single N]
#        [--work DIR] [--jobs N] [GGUF...]
# Defaults: 2000 Bulgarian and 2000 English texts, 50 of them also checked one llama-tokenize call each
# (see step 4), WORK = build-llamacpp/ (ignored by git), and the GGUFs: the embedded default model
# (models/gemma3-270m, scripts/setup_model.sh) and the two f32 fixtures in tests/fixtures/gguf.
# Compiling llama.cpp takes about 11 minutes on 2 busy cores (once: WORK keeps it); it runs under nice.
# Prints, per GGUF, how many texts get the same ids, and the first differences.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bulgarian=2000 english=2000 single=50 work="$repo/build-llamacpp" jobs=2
ggufs=()
while (($#)); do
  case "$1" in
    --bulgarian) bulgarian=$2; shift 2 ;;
    --english) english=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --single) single=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) ggufs+=("$1"); shift ;;
  esac
done
if ((${#ggufs[@]} == 0)); then
  for f in "$repo/models/gemma3-270m/gemma-3-270m-q4_k_m.gguf" "$repo/tests/fixtures/gguf/gemma3-dev-f32.gguf" \
           "$repo/tests/fixtures/gguf/mistral-dev-f32.gguf"; do
    [[ -f $f ]] && ggufs+=("$f")
  done
fi
mkdir -p "$work"
cd "$work"

# 1. llama.cpp's tokenizer tool, from the sources the PyPI package ships (bench/peer/llamacpp_build.sh).
source "$repo/bench/peer/llamacpp_build.sh"
JOBS=$jobs llamacpp_build "$work" "$work/llama-build" OFF llama-tokenize
tokenize_bin="$work/llama-build/bin/llama-tokenize"
echo "llama.cpp: $LLAMACPP_VERSION ($tokenize_bin)"

# 2. Ours.
gguf_token_ids_build "$repo" "$work"
ours="$GGUF_TOKEN_IDS"

# 3. The texts, one file each: Bulgarian Wikipedia sentences (every 7th of the shipped ones, every tenth
# text three sentences over two lines) and English prose: the paragraphs and lines of the repository's
# documentation and the comment lines of its headers.
texts="$work/texts"
rm -rf "$texts"
mkdir -p "$texts"
python3 - "$repo" "$texts" "$bulgarian" "$english" <<'PY'
import bz2, glob, os, re, sys
repo, out, n_bg, n_en = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = bz2.open(os.path.join(repo, "data/corpus/wikiann-bg.sentences.txt.bz2"), "rt", encoding="utf-8").read().split("\n")
lines = [l for l in lines if l.strip()]
bg = []
for i in range(0, len(lines) - 2, 7):
    if len(bg) >= n_bg: break
    bg.append(lines[i] if len(bg) % 10 else lines[i] + "\n" + lines[i + 1] + "  " + lines[i + 2])
en, seen = [], set()
def add(text):
    if len(text.strip()) >= 20 and text not in seen and re.search("[A-Za-z]{3}", text):
        seen.add(text); en.append(text)
docs = sorted(glob.glob(os.path.join(repo, "docs/*.md"))) + [os.path.join(repo, "README.md")]
for path in docs:
    for para in open(path, encoding="utf-8").read().split("\n\n"): add(para)
for path in docs:
    for line in open(path, encoding="utf-8"): add(line.rstrip("\n"))
for path in sorted(glob.glob(os.path.join(repo, "include/bg2vec/**/*.hpp"), recursive=True)):
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\s*// ?(.*)", line.rstrip("\n"))
        if m: add(m.group(1))
en = en[:n_en]
for k, text in enumerate(bg): open(os.path.join(out, f"bg-{k:05d}.txt"), "w", encoding="utf-8").write(text)
for k, text in enumerate(en): open(os.path.join(out, f"en-{k:05d}.txt"), "w", encoding="utf-8").write(text)
print(f"texts: {len(bg)} Bulgarian, {len(en)} English")
PY

# 4. Compare, GGUF by GGUF. llama-tokenize loads the vocabulary on each call (about a second for 262k
# pieces), so the texts go through it 200 to a call, separated by the eos token, with special tokens
# parsed (its default): llama.cpp cuts its input at special tokens and tokenizes each stretch between
# them as a text of its own (space prefix included), the same as one call per text; the first --single
# texts are also tokenized one call each, to show that this holds. Texts that contain a control piece
# (which would be parsed as one) go one call each with --no-parse-special, and so do the texts of a
# batch that llama.cpp fails on (it aborts on a character outside a vocabulary without byte pieces:
# such texts are counted apart).
for gguf in "${ggufs[@]}"; do
  name=$(basename "$gguf" .gguf)
  "$ours" "$gguf" "$texts"/*.txt > "$work/$name.ours"
  "$ours" --controls "$gguf" > "$work/$name.controls"
  read -r eos_id eos_piece < <("$ours" --eos "$gguf")
  python3 - "$work/$name.ours" "$texts" "$name" "$tokenize_bin" "$gguf" "$eos_id" "$eos_piece" "$single" "$work/$name.controls" <<'PY'
import ast, os, subprocess, sys
ours_file, texts_dir, name, tool, gguf, eos_id, eos_piece, single, controls_file = sys.argv[1:10]
eos_id, single = int(eos_id), int(single)
ours = dict(l.rstrip("\n").split(" ", 1) for l in open(ours_file, encoding="utf-8"))
ours = {n: ast.literal_eval(v) for n, v in ours.items()}
texts = {n: open(os.path.join(texts_dir, n), encoding="utf-8").read() for n in sorted(ours)}
controls = [c for c in open(controls_file, encoding="utf-8").read().split("\n") if c]
failure = {}
def llama(text, special):
    args = [tool, "-m", gguf, "--stdin", "--ids", "--no-bos", "--no-escape", "--log-disable"]
    args += [] if special else ["--no-parse-special"]   # llama-tokenize parses special tokens by default
    r = subprocess.run(["nice"] + args, input=text.encode("utf-8"), capture_output=True)
    if r.returncode != 0:
        failure["last"] = (r.stderr.decode(errors="replace").strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return None
    return ast.literal_eval(r.stdout.decode().strip() or "[]")
batchable = [n for n in sorted(texts) if not any(c in texts[n] for c in controls)]
theirs = {n: llama(texts[n], False) for n in sorted(texts) if n not in set(batchable)}
for start in range(0, len(batchable), 200):
    chunk = batchable[start:start + 200]
    joined = llama(eos_piece.join(texts[n] for n in chunk), True)
    if joined is None:
        theirs.update({n: llama(texts[n], False) for n in chunk})
        continue
    split, current = [], []
    for t in joined:
        if t == eos_id: split.append(current); current = []
        else: current.append(t)
    split.append(current)
    assert len(split) == len(chunk), (len(split), len(chunk))
    theirs.update(zip(chunk, split))
checked = [n for n in batchable[:single] if theirs[n] is not None]
agree = sum(llama(texts[n], False) == theirs[n] for n in checked)
print(f"{name}: one call per text gives the batched ids on {agree} of {len(checked)} texts; "
      f"{len(texts) - len(batchable)} texts with a control piece went one call each")
for lang, label in (("bg", "Bulgarian"), ("en", "English")):
    group = [n for n in sorted(texts) if n.startswith(lang)]
    failed = [n for n in group if theirs[n] is None]
    same = sum(ours[n] == theirs[n] for n in group if n not in failed)
    print(f"{name}: {label}: {same} of {len(group) - len(failed)} texts give llama.cpp's ids"
          + (f" ({len(failed)} more that llama.cpp fails on: {failure['last']})" if failed else ""))
    for n in [n for n in group if n not in failed and ours[n] != theirs[n]][:3]:
        i = next((k for k, (a, b) in enumerate(zip(ours[n], theirs[n])) if a != b), min(len(ours[n]), len(theirs[n])))
        print(f"  differs: {n} {texts[n][:100]!r}\n    from token {i}: ours {ours[n][i:i + 12]}, llama.cpp {theirs[n][i:i + 12]}")
PY
done
