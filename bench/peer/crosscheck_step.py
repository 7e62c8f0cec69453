"""Cross-check: a model folder written by `bg2vec step` (save_model) against PyTorch doing the same step.

On tests/fixtures/hf/mistral-dev and a fresh random MNTP batch (bidirectional), bg2vec takes one step with
SGD (lr 0.01, no weight decay) and one with AdamW (lr 1e-3, weight decay 0.01, torch's defaults otherwise).
transformers loads each written folder (no missing/unexpected/mismatched tensors), and every tensor is
compared with torch's own step in float64 (torch.optim.SGD / AdamW on the MNTP cross-entropy):
  - loss: bg2vec's printed loss vs torch's;
  - sgd: the implied gradient (w_before - w_after) / lr vs torch's gradient, relative to max |grad|;
  - adamw: the updated weights (the first AdamW step moves each weight by about lr * sign(grad), so
    elements whose torch gradient is nonzero but below 1e-5 x max |grad|, where float32 rounding may flip
    the sign, are counted and reported, not compared; zero gradients, e.g. unused embedding rows, are);
then crosscheck_forward runs on the AdamW folder: `bg2vec encode` on it vs transformers' forward.
  .venv-peer/bin/python bench/peer/crosscheck_step.py
"""
import copy
import os
import re
import sys
import tempfile

import torch

import crosscheck_forward
from common import FIXTURE, bg2vec, load_hf, mntp_batch, mntp_loss, read, verdict, write


def torch_step(base, batch, optimizer):
    model = copy.deepcopy(base).train()      # dropout is 0 in the fixture: train() changes nothing else
    loss = mntp_loss(model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    optimizer(model.parameters()).step()
    return loss.item(), grads, {n: p.detach() for n, p in model.named_parameters()}


def main():
    base = load_hf(FIXTURE)
    nb = mntp_batch(base.config.vocab_size, (16, 12, 7), 16, seed=3)
    batch = {k: torch.from_numpy(v) for k, v in nb.items()}
    before = {n: p.detach() for n, p in base.named_parameters()}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        batch_file = write(os.path.join(tmp, "mntp.safetensors"), nb)
        runs = {"sgd": (0.01, 0.0, lambda ps: torch.optim.SGD(ps, lr=0.01)),
                "adamw": (1e-3, 0.01, lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01, eps=1e-8))}
        for name, (lr, wd, opt) in runs.items():
            out = os.path.join(tmp, name)
            log = bg2vec("step", "--model", FIXTURE, "--batch", batch_file, "--objective", "mntp", "--optimizer", name,
                         "--lr", lr, "--weight-decay", wd, "--out", out)
            ours_loss = float(re.search(r"loss ([-0-9.e]+)", log).group(1))
            ref_loss, grads, ref_after = torch_step(base, batch, opt)
            after = {n: p.detach() for n, p in load_hf(out).named_parameters()}
            ok &= verdict(f"{name} step MNTP loss", abs(ours_loss - ref_loss), 1e-5 * abs(ref_loss),
                          f" (bg2vec {ours_loss:.6f}, torch {ref_loss:.6f})")
            if name == "sgd":
                gmax = max(g.abs().max().item() for g in grads.values())
                diff, worst = max(((((before[n] - after[n]) / lr - grads[n]).abs().max().item(), n) for n in grads))
                ok &= verdict("sgd step: (w_before - w_after)/lr vs torch grad", diff, 1e-3 * gmax,
                              f", max |grad| {gmax:.3e}, worst tensor {worst}")
            else:
                small = 1e-5 * max(g.abs().max().item() for g in grads.values())
                unsure = {n: (g != 0) & (g.abs() < small) for n, g in grads.items()}
                ambiguous = sum(int(u.sum()) for u in unsure.values())
                diff, worst = max((((after[n] - ref_after[n]).abs() * ~unsure[n]).max().item(), n) for n in grads)
                ok &= verdict("adamw step: updated weights vs torch.optim.AdamW", diff, 1e-2 * lr,
                              f" (lr {lr:g}), worst tensor {worst}; {ambiguous} of "
                              f"{sum(g.numel() for g in grads.values())} elements with 0 < |grad| < {small:.1e} not compared")
        ok &= crosscheck_forward.check(os.path.join(tmp, "adamw"))
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
