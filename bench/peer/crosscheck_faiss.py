"""Cross-check: Python's faiss reads the index folder of `bg2vec index build` and finds the same neighbours.

Builds an encoder folder (the mistral-dev weights + a 384-piece tokenizer trained by `bg2vec tokenizer
train`), takes --passages shipped WikiANN sentences (those in Cyrillic letters, digits and simple punctuation
only, so that 384 pieces cover their characters) as a corpus and --queries others as queries, and for
each --factory: `bg2vec index build`, then `bg2vec search --json` (our neighbours) against
faiss.read_index(index.faiss).search on the query embeddings of `bg2vec encode --text-file` (L2-normalised
as the index's meta.json says). Compares the top-k passage ids (exact match required) and the scores.
  .venv-peer/bin/python bench/peer/crosscheck_faiss.py [--factory Flat HNSW32,Flat]
"""
import argparse
import bz2
import json
import os
import re
import shutil
import sys
import tempfile

import faiss
import numpy as np

from common import FIXTURE, REPO, bg2vec, read, verdict

SIMPLE = re.compile(r"^[А-Яа-я0-9 ,.()-]{20,}$")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--factory", nargs="+", default=["Flat", "HNSW32,Flat"])
    p.add_argument("--passages", type=int, default=600)
    p.add_argument("--queries", type=int, default=40)       # >= 20: FAISS's flat search takes its BLAS path
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    with bz2.open(os.path.join(REPO, "data", "corpus", "wikiann-bg.sentences.txt.bz2"), "rt") as f:
        lines = [l.strip() for l in f if SIMPLE.match(l.strip())][: a.passages + a.queries]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        shutil.copytree(FIXTURE, model, ignore=shutil.ignore_patterns("lora", "reference.*"))
        text = os.path.join(tmp, "text.txt")
        open(text, "w").write("\n".join(lines) + "\n")
        bg2vec("tokenizer", "train", "--input", text, "--out", os.path.join(model, "tokenizer.model"),
               "--vocab-size", 384)
        corpus, queries = os.path.join(tmp, "corpus.jsonl"), os.path.join(tmp, "queries.txt")
        with open(corpus, "w") as f:
            for i, t in enumerate(lines[: a.passages]):
                f.write(json.dumps({"_id": f"p{i}", "title": "", "text": t}, ensure_ascii=False) + "\n")
        open(queries, "w").write("\n".join(lines[a.passages:]) + "\n")
        emb_file = os.path.join(tmp, "q.safetensors")
        bg2vec("encode", "--model", model, "--text-file", queries, "--attention", "bidirectional", "--pooling", "mean",
               "--out", emb_file)
        q = np.ascontiguousarray(read(emb_file)["embeddings"].numpy(), dtype=np.float32)
        faiss.normalize_L2(q)
        for factory in a.factory:
            idx = os.path.join(tmp, "index-" + factory.replace(",", "_"))
            bg2vec("index", "build", "--model", model, "--attention", "bidirectional", "--pooling", "mean",
                   "--corpus", corpus, "--factory", factory, "--out", idx)
            hits = [json.loads(l)["hits"] for l in bg2vec("search", "--index", idx, "--queries", queries, "--k", a.k,
                                                          "--json").splitlines()]
            ours_ids = [[h["_id"] for h in row] for row in hits]
            ours_scores = np.array([[h["score"] for h in row] for row in hits])
            index = faiss.read_index(os.path.join(idx, "index.faiss"))
            ids = [json.loads(l)["_id"] for l in open(os.path.join(idx, "passages.jsonl"))]
            meta = json.load(open(os.path.join(idx, "meta.json")))
            shape_ok = (index.ntotal == a.passages and index.d == q.shape[1] and meta["normalized"]
                        and index.metric_type == faiss.METRIC_INNER_PRODUCT)
            print(f"{'PASS' if shape_ok else 'FAIL'} {factory}: faiss.read_index -> {type(index).__name__}, "
                  f"ntotal {index.ntotal}, d {index.d}, metric {'inner product' if index.metric_type == 0 else index.metric_type}")
            D, I = index.search(q, a.k)
            py_ids = [[ids[j] for j in row] for row in I]
            same = sum(o == p for o, p in zip(ours_ids, py_ids))
            print(f"{'PASS' if same == len(py_ids) else 'FAIL'} {factory}: top-{a.k} ids identical for {same} of "
                  f"{len(py_ids)} queries ({a.passages} passages)")
            ok &= shape_ok and same == len(py_ids)
            ok &= verdict(f"{factory}: scores, bg2vec search vs Python faiss", np.abs(ours_scores - D).max(), 1e-5)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
