"""Peer of bench/gpu/bench_cuda --bench encode on the GPU: encode throughput (forward + mean pooling, bidirectional) of the
same model (--model DIR, written by bench_cuda --save-model) on the same ids (--ids FILE) in
transformers, and the agreement of its embeddings with ours (--ours FILE, from --save-embeddings).

Each --dtype is one run: bf16 (weights and activations bf16, sdpa: the issue's peer, 764k tokens/s on an H200 at
16 x 512) and float32 (TF32 off, for the agreement with our float32 mode). --compile adds torch.compile runs.
Bidirectional attention is a 4D [B,1,T,T] additive mask of key padding only (every token is real here), as
LLM2Vec. Timing: median of --iters after two warm-ups, torch.cuda.synchronize around each. Writes --json.
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
    p.add_argument("--ours", help="bench_cuda --save-embeddings output, to compare with")
    p.add_argument("--dtype", nargs="+", choices=["bf16", "float32"], default=["bf16", "float32"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile(model.model)")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--device", default="cuda")
    p.add_argument("--json", required=True)
    return p.parse_args()


def pooled(decoder, ids, mask4d, keep):
    h = decoder(input_ids=ids, attention_mask=mask4d).last_hidden_state
    w = keep.to(h.dtype).unsqueeze(-1)
    return (h * w).sum(1) / w.sum(1)


def time_runs(fn, iters, sync):
    for _ in range(2):
        fn()
    sync()
    seconds = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        seconds.append(time.perf_counter() - t0)
    seconds.sort()
    return seconds[len(seconds) // 2], seconds[0]


def min_cosine(a, b):
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1).min().item()


def main():
    a = parse()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    batch = load_file(a.ids)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    ids, keep = batch["input_ids"].long().to(dev), batch["attention_mask"].long().to(dev)
    B, T = ids.shape
    ours = load_file(a.ours) if a.ours else {}
    out = {"bench": "encode", "peer": "transformers", "torch": torch.__version__, "batch": B, "seq_len": T,
           "gpu": torch.cuda.get_device_name() if cuda else "none (cpu check)", "runs": []}
    import transformers
    out["transformers"] = transformers.__version__
    for name in a.dtype:
        dtype = torch.bfloat16 if name == "bf16" else torch.float32
        model = MistralForCausalLM.from_pretrained(a.model, torch_dtype=dtype, attn_implementation="sdpa").to(dev).eval()
        decoder = model.model
        mask = torch.zeros(B, 1, T, T, dtype=dtype, device=dev)
        mask.masked_fill_(~keep.bool()[:, None, None, :], torch.finfo(dtype).min)
        variants = [("eager", decoder)]
        if a.compile:
            variants.append(("compile", torch.compile(decoder)))
        for variant, fn in variants:
            with torch.inference_mode():
                median, best = time_runs(lambda: pooled(fn, ids, mask, keep), a.iters, sync)
                e = pooled(fn, ids, mask, keep).float().cpu()
            run = {"dtype": name, "variant": variant, "median_s": median, "best_s": best, "tokens_per_s": B * T / median,
                   "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}
            for key in ("embeddings_bf16", "embeddings_f32"):
                if key in ours:
                    run["min_cosine_vs_" + key.split("_")[1]] = min_cosine(e, ours[key])
            out["runs"].append(run)
            print(json.dumps(run), flush=True)
        del model, decoder
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
