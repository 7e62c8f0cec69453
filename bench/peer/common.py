"""Helpers shared by the cross-check scripts: run the bg2vec CLI, make id/MNTP batches, and compute the
Hugging Face reference (transformers, float64, eager attention with explicit 4D masks) for a model folder."""
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from transformers import AutoModelForCausalLM
from transformers.utils import logging as hf_logging

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "hf", "mistral-dev")
BG2VEC = os.environ.get("BG2VEC", os.path.join(REPO, "build-peer", "bg2vec"))
MASK_ID = 4                                    # mistral-dev's mask token (reference.json)
hf_logging.disable_progress_bar()


def bg2vec(*args):
    """Runs the bg2vec CLI; returns its stdout (exits with its stderr on failure)."""
    r = subprocess.run([BG2VEC, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bg2vec {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def id_batch(vocab, lengths, T, seed=0):
    """Random ids in [5, vocab) with right padding (pad id 0): (input_ids, attention_mask) int64 [B, T]."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(len(lengths), T), dtype=np.int64)
    attn = (np.arange(T)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    ids[attn == 0] = 0
    return ids, attn


def mntp_batch(vocab, lengths, T, rate=0.3, seed=0):
    """An MNTP batch: a fraction `rate` of the real positions >= 1 replaced by MASK_ID, labels = the
    original token there, -100 elsewhere."""
    ids, attn = id_batch(vocab, lengths, T, seed)
    rng = np.random.default_rng(seed + 1)
    sel = (rng.random(ids.shape) < rate) & (attn == 1)
    sel[:, 0] = False
    labels = np.where(sel, ids, -100)
    return {"input_ids": np.where(sel, MASK_ID, ids), "attention_mask": attn, "labels": labels}


def write(path, tensors):
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path)
    return path


def read(path):
    return {k: torch.from_numpy(v.copy()) for k, v in load_file(path).items()}


def load_hf(folder, dtype=torch.float64):
    """transformers' own load of `folder`; fails on any missing, unexpected or mismatched tensor."""
    model, info = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        sys.exit(f"FAIL transformers load of {folder}: {bad}")
    return model.to(dtype).eval()


def mask4d(attn, attention):
    """[B,1,T,T] additive float64 mask: key padding only (bidirectional), or key padding & causal."""
    B, T = attn.shape
    keep = attn.bool()[:, None, :].expand(B, T, T)
    if attention == "causal":
        keep = keep & torch.tril(torch.ones(T, T, dtype=torch.bool))[None]
    m = torch.zeros(B, T, T, dtype=torch.float64)
    m[~keep] = torch.finfo(torch.float64).min
    return m[:, None]


def hf_forward(model, ids, attn, attention):
    """(logits [B,T,V], mean-pooled last hidden state [B,H]) in float64."""
    out = model(input_ids=ids, attention_mask=mask4d(attn, attention), output_hidden_states=True)
    w = attn.to(torch.float64).unsqueeze(-1)
    return out.logits, (out.hidden_states[-1] * w).sum(1) / w.sum(1)


def mntp_loss(model, batch):
    """MNTP cross-entropy (bidirectional): logits at i-1 predict labels[i], mean over labelled positions."""
    logits = model(input_ids=batch["input_ids"], attention_mask=mask4d(batch["attention_mask"], "bidirectional")).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             batch["labels"][:, 1:].reshape(-1), ignore_index=-100)


def verdict(name, diff, tol, detail=""):
    """Prints PASS/FAIL with the numbers; returns whether it passed."""
    ok = bool(diff <= tol)
    print(f"{'PASS' if ok else 'FAIL'} {name}: max abs diff {diff:.3e} (tolerance {tol:.1e}){detail}", flush=True)
    return ok
