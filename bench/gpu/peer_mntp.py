"""Peer of bench/gpu/bench_cuda --bench mntp on the GPU: one full fine-tuning MNTP step (forward, cross-entropy
of logits[:, :-1] against labels[:, 1:], backward, AdamW) in transformers on the same model (--model DIR) and
batch (--ids FILE: mntp_input_ids, attention_mask, labels), as the issue's peer measured it: float32 weights under
torch.autocast(bfloat16), sdpa, bidirectional (a 4D key-padding mask), torch.optim.AdamW(fused=True) at lr 5e-5.
--compile adds a torch.compile(model) run (the issue's 413k tokens/s on an H200; compiling takes a minute).
Timing: the median of --iters steps after two warm-ups, torch.cuda.synchronize around each. Writes --json.
--device cpu runs the same code on the CPU: a check of the script where there is no GPU, not a benchmark.
"""
import argparse
import json
import time

import torch
from safetensors.torch import load_file
from transformers import MistralForCausalLM


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--json", required=True)
    return p.parse_args()


def main():
    a = parse()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.backends.cuda.matmul.allow_tf32 = False
    batch = load_file(a.ids)
    ids = batch["mntp_input_ids"].long().to(dev)
    keep = batch["attention_mask"].long().to(dev)
    labels = batch["labels"].long().to(dev)
    B, T = ids.shape
    import transformers
    out = {"bench": "mntp", "peer": "transformers", "torch": torch.__version__, "transformers": transformers.__version__,
           "gpu": torch.cuda.get_device_name() if cuda else "none (cpu check)", "batch": B, "seq_len": T,
           "predictions": int((labels[:, 1:] != -100).sum()), "runs": []}
    variants = ["eager"] + (["compile"] if a.compile else [])
    for variant in variants:
        model = MistralForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="sdpa").to(dev)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=cuda)
        mask = torch.zeros(B, 1, T, T, dtype=torch.bfloat16, device=dev)
        mask.masked_fill_(~keep.bool()[:, None, None, :], torch.finfo(torch.bfloat16).min)
        forward = torch.compile(model) if variant == "compile" else model

        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                logits = forward(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                     labels[:, 1:].reshape(-1), ignore_index=-100)
            loss.backward()
            optimizer.step()
            return loss

        first = float(step())   # the loss of the given weights, before any step
        step()
        sync()
        seconds = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            loss = step()
            sync()
            seconds.append(time.perf_counter() - t0)
        seconds.sort()
        median = seconds[len(seconds) // 2]
        run = {"variant": variant, "median_s": median, "best_s": seconds[0], "tokens_per_s": B * T / median,
               "first_loss": first, "loss": float(loss), "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}
        out["runs"].append(run)
        print(json.dumps(run), flush=True)
        del model, optimizer, forward
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
