"""Optional cross-check of `bg2vec export sentence-transformers`: sentence-transformers (PyPI; in the peer venv,
`pip install sentence-transformers`) loads the exported Gemma-3 encoder with no custom code, and its embeddings of
Bulgarian Wikipedia sentences agree with `bg2vec encode` (f32) of the same encoder, by cosine per sentence (token
ids differing would show there; tests/test_gguf_export.cpp checks the tokenizer.json's merges against sentencepiece).

    .venv-peer/bin/python bench/peer/crosscheck_export_st.py [--model out/demo/encoder] [--bg2vec build/bg2vec]
        [--work build-export/crosscheck-st] [--texts 32]

An encoder that leaves BOS out of its mean (the demo's) is exported with --include-bos, and compared with bg2vec's
mean over every token (the same settings); the gemma3-dev fixture (random weights) is checked as well.
"""
import argparse
import bz2
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(args)}\n{r.stdout}{r.stderr}")
    return r.stdout


def texts(n):
    out = []
    with bz2.open(os.path.join(repo, "data/corpus/wikiann-bg.sentences.txt.bz2"), "rt") as f:
        for line in f:
            line = line.strip()
            if 40 < len(line) < 400:
                out.append(line)
            if len(out) == n:
                break
    return out


def reference_folder(model, work, name):
    """The encoder with BOS pooled (what sentence-transformers' Pooling does): its files linked, bg2vec.json changed."""
    ref = os.path.join(work, name + "-ref")
    shutil.rmtree(ref, ignore_errors=True)
    os.makedirs(ref)
    for f in ("config.json", "model.safetensors", "tokenizer.model"):
        os.symlink(os.path.abspath(os.path.join(model, f)), os.path.join(ref, f))
    settings = json.load(open(os.path.join(model, "bg2vec.json")))
    settings["skip_bos"] = False
    json.dump(settings, open(os.path.join(ref, "bg2vec.json"), "w"))
    return ref


def check(name, model, bg2vec, work, sentences):
    from sentence_transformers import SentenceTransformer

    st_dir = os.path.join(work, name + "-st")
    shutil.rmtree(st_dir, ignore_errors=True)
    run(bg2vec, "export", "sentence-transformers", "--model", model, "--out", st_dir, "--include-bos")
    ref = reference_folder(model, work, name)
    text_file = os.path.join(work, "texts.txt")
    with open(text_file, "w") as f:
        f.write("\n".join(sentences) + "\n")
    ours_file = os.path.join(work, name + ".bg2vec.safetensors")
    run(bg2vec, "encode", "--compute", "f32", "--model", ref, "--text-file", text_file, "--out", ours_file)
    a = load_file(ours_file)["embeddings"].astype(np.float64)

    st = SentenceTransformer(st_dir, device="cpu")
    b = st.encode(sentences, batch_size=8, convert_to_numpy=True).astype(np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    ids = st.tokenizer(sentences)["input_ids"]
    lengths = [len(x) for x in ids]
    result = {"case": name, "texts": len(sentences), "tokens": sum(lengths), "cosine_min": float(cos.min()),
              "cosine_mean": float(cos.mean()), "max_abs_diff_relative": float(np.abs(a - b).max() / np.abs(a).max()),
              "model_class": type(st[0].auto_model).__name__,
              "bidirectional": bool(getattr(st[0].auto_model.config, "use_bidirectional_attention", False))}
    print(json.dumps(result))
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=os.path.join(repo, "out/demo/encoder"))
    p.add_argument("--bg2vec", default=os.path.join(repo, "build/bg2vec"))
    p.add_argument("--work", default=os.path.join(repo, "build-export/crosscheck-st"))
    p.add_argument("--texts", type=int, default=32)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    import sentence_transformers
    import transformers
    print(f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}")
    sentences = texts(a.texts)

    fixture = os.path.join(a.work, "gemma3-dev")
    os.makedirs(fixture, exist_ok=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(repo, "tests/fixtures/hf/gemma3-dev", f), fixture)
    shutil.copy(os.path.join(repo, "tests/fixtures/gguf/tokenizers/gemma3-dev.model"), os.path.join(fixture, "tokenizer.model"))
    json.dump({"attention": "bidirectional", "pooling": "mean", "skip_bos": False, "max_length": 256},
              open(os.path.join(fixture, "bg2vec.json"), "w"))
    results = [check("gemma3-dev", fixture, a.bg2vec, a.work, sentences)]
    if os.path.exists(os.path.join(a.model, "model.safetensors")):
        results.append(check("demo", a.model, a.bg2vec, a.work, sentences))
    json.dump(results, open(os.path.join(a.work, "summary.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
