"""Cross-check: PEFT loads the LoRA adapter written by `bg2vec step --adapter`, and it holds PEFT's own step.

bg2vec takes one MNTP step (bidirectional, SGD lr 0.01) with the fixture's adapter
(tests/fixtures/hf/mistral-dev/lora, r 4, alpha 8) on a fresh random batch and writes the updated adapter.
PEFT then (1) loads it with PeftModel.from_pretrained: its tensor names must be exactly the ones PEFT saves
for this config, and (2) its LoRA weights are compared with PEFT + torch doing the same step in float64
(loss, then max abs diff of the updated A/B matrices, relative to the largest update lr x |grad|).
  .venv-peer/bin/python bench/peer/crosscheck_peft.py
"""
import os
import re
import sys
import tempfile

import torch
from peft import PeftModel, get_peft_model_state_dict
from safetensors.torch import load_file

from common import FIXTURE, bg2vec, load_hf, mntp_batch, mntp_loss, verdict, write


def lora_params(model):
    return {n: p.detach() for n, p in model.named_parameters() if "lora_" in n}


def main():
    lr, adapter = 0.01, os.path.join(FIXTURE, "lora")
    ref = PeftModel.from_pretrained(load_hf(FIXTURE), adapter, is_trainable=True).to(torch.float64)
    nb = mntp_batch(ref.config.vocab_size, (16, 9, 14), 16, seed=5)
    batch = {k: torch.from_numpy(v) for k, v in nb.items()}
    loss = mntp_loss(ref, batch)
    loss.backward()
    trainable = [p for p in ref.parameters() if p.requires_grad]
    gmax = max(p.grad.abs().max().item() for p in trainable)
    torch.optim.SGD(trainable, lr=lr).step()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "adapter")
        log = bg2vec("step", "--model", FIXTURE, "--adapter", adapter, "--batch",
                     write(os.path.join(tmp, "mntp.safetensors"), nb), "--objective", "mntp", "--optimizer", "sgd",
                     "--lr", lr, "--weight-decay", 0, "--out", out)
        ours_loss = float(re.search(r"loss ([-0-9.e]+)", log).group(1))
        ok &= verdict("adapter step MNTP loss", abs(ours_loss - loss.item()), 1e-5 * loss.item(),
                      f" (bg2vec {ours_loss:.6f}, PEFT {loss.item():.6f})")
        written = set(load_file(os.path.join(out, "adapter_model.safetensors")))
        expected = set(get_peft_model_state_dict(ref))
        names_ok = written == expected
        print(f"{'PASS' if names_ok else 'FAIL'} adapter tensor names: {len(written)} written, {len(expected)} "
              f"expected by PEFT; missing {sorted(expected - written)[:3]}, unexpected {sorted(written - expected)[:3]}")
        ok &= names_ok
        ours = lora_params(PeftModel.from_pretrained(load_hf(FIXTURE), out).to(torch.float64))
    want = lora_params(ref)
    diff, worst = max(((ours[n] - want[n]).abs().max().item(), n) for n in want)
    ok &= verdict(f"PEFT-loaded adapter vs PEFT's own SGD step ({len(want)} LoRA tensors)", diff, 1e-3 * lr * gmax,
                  f", max update lr x |grad| {lr * gmax:.3e}, worst {worst}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
