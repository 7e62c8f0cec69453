"""Cross-check: `bg2vec encode --ids ... --logits` against transformers' own forward pass, run here.

For a model folder (default: tests/fixtures/hf/mistral-dev; or any folder bg2vec wrote), on a fresh random
right-padded batch, for causal and bidirectional attention with mean pooling: transformers loads the folder
(no missing/unexpected/mismatched tensors allowed) and runs it in float64 with explicit 4D masks; bg2vec
runs in float32. Compares logits at the real (non-pad) positions and the pooled embeddings, max abs diff,
tolerance relative to the largest reference value. Independent of the fixture's stored outputs.
  .venv-peer/bin/python bench/peer/crosscheck_forward.py [--model DIR]
"""
import argparse
import json
import os
import sys
import tempfile

import torch

from common import FIXTURE, bg2vec, hf_forward, id_batch, load_hf, read, verdict, write


def check(folder, lengths=(16, 11, 6, 1), T=16, seed=0, rel_tol=2e-5):
    vocab = json.load(open(os.path.join(folder, "config.json")))["vocab_size"]
    model = load_hf(folder)
    ids, attn = id_batch(vocab, lengths, T, seed)
    ok = True
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        batch = write(os.path.join(tmp, "ids.safetensors"), {"input_ids": ids, "attention_mask": attn})
        ids_t, attn_t = torch.from_numpy(ids), torch.from_numpy(attn)
        for attention in ("causal", "bidirectional"):
            out = os.path.join(tmp, f"{attention}.safetensors")
            bg2vec("encode", "--model", folder, "--ids", batch, "--attention", attention, "--pooling", "mean",
                   "--logits", "--out", out)
            ours = read(out)
            logits, emb = hf_forward(model, ids_t, attn_t, attention)
            real = attn_t.bool()
            d_logits = (ours["logits"].double() - logits)[real].abs().max().item()
            d_emb = (ours["embeddings"].double() - emb).abs().max().item()
            scale_l, scale_e = logits[real].abs().max().item(), emb.abs().max().item()
            ok &= verdict(f"{os.path.basename(folder.rstrip('/'))} {attention} logits", d_logits, rel_tol * scale_l,
                          f", max |logit| {scale_l:.3f}")
            ok &= verdict(f"{os.path.basename(folder.rstrip('/'))} {attention} mean embedding", d_emb,
                          rel_tol * scale_e, f", max |value| {scale_e:.3f}")
    return ok


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=FIXTURE)
    sys.exit(0 if check(p.parse_args().model) else 1)
