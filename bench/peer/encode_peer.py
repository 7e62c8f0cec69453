"""Peer of build/bench/bench_encode: encode throughput (forward + mean pooling) in PyTorch/transformers.

The model is a folder (--model DIR: transformers' own load of config.json + model.safetensors, float32, e.g. the
one bench/peer/make_inputs.py writes, which bg2vec reads too) or, without --model, a MistralForCausalLM built
from the shape flags with random N(0, 0.02) weights. The batch is --ids FILE.safetensors (input_ids,
attention_mask [B, T]) or random ids with every token real. Runs the decoder (model.model, no lm_head),
mean-pools the last hidden states over the real tokens, and reports the best and the median of --iters timed
batches after one warm-up, on --threads threads. Bidirectional attention = a 4D [B,1,T,T] additive mask from
key padding only (the LLM2Vec recipe); causal = transformers' own mask from the 2D attention_mask.
Each --dtype gets one output line:
  float32      plain float32
  bf16         float32 weights under torch.autocast("cpu", dtype=torch.bfloat16) (oneDNN's bf16 GEMMs)
--save FILE writes the pooled embeddings of each dtype (embeddings_float32, embeddings_bf16; float32) for the
agreement check; --json FILE the figures. The peak RSS printed is the process's (getrusage), all dtypes so far.
  .venv-peer/bin/python bench/peer/encode_peer.py --model DIR --ids FILE --dtype float32 bf16 --iters 3
"""
import argparse
import json
import resource
import time

import torch
import transformers
from transformers import MistralConfig, MistralForCausalLM


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("layers", 4), ("hidden", 256), ("heads", 4), ("kv-heads", 2), ("ffn", 688),
                          ("vocab", 8000), ("batch", 16), ("seq-len", 128), ("iters", 5), ("threads", 2)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--attention", choices=["causal", "bidirectional"], default="bidirectional")
    p.add_argument("--dtype", nargs="+", choices=["float32", "bf16"], default=["float32", "bf16"])
    p.add_argument("--attn-impl", choices=["auto", "sdpa", "eager"], default="auto",
                   help="auto: sdpa where this torch has it (>= 2.1.1 for transformers), else eager")
    p.add_argument("--model", help="a model folder instead of the random model (shape flags ignored)")
    p.add_argument("--ids", help="safetensors with input_ids, attention_mask [B, T] (batch/seq-len flags ignored)")
    p.add_argument("--save", help="write the pooled embeddings of each dtype here (safetensors)")
    p.add_argument("--json", help="write the figures here")
    return p.parse_args()


def attn_impl(choice):
    if choice != "auto":
        return choice
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    return "sdpa" if (major, minor) >= (2, 2) else "eager"


def build_model(a, impl):
    if a.model:
        return MistralForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation=impl).eval()
    cfg = MistralConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                        head_dim=a.hidden // a.heads, max_position_embeddings=max(a.seq_len, 256),
                        rms_norm_eps=1e-5, sliding_window=None, tie_word_embeddings=False,
                        attn_implementation=impl)
    model = MistralForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    impl = attn_impl(a.attn_impl)
    model = build_model(a, impl)
    params = sum(p.numel() for p in model.parameters())
    if a.ids:
        from safetensors.torch import load_file
        batch = load_file(a.ids)
        ids, keep = batch["input_ids"].long(), batch["attention_mask"].long()
    else:
        ids = torch.randint(4, model.config.vocab_size, (a.batch, a.seq_len))
        keep = torch.ones(a.batch, a.seq_len, dtype=torch.long)      # 1 = real token (no padding here)
    B, T = ids.shape
    if a.attention == "bidirectional":                                # key padding only: row b sees keep[b]
        mask = torch.zeros(B, 1, T, T)
        mask.masked_fill_(keep[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    else:
        mask = keep

    def encode():
        h = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = keep.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    saved, runs = {}, []
    for dtype in a.dtype:
        ms = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            out = encode()                                            # warm-up
            cpu0 = time.process_time()
            for _ in range(a.iters):
                start = time.perf_counter()
                encode()
                ms.append(1e3 * (time.perf_counter() - start))
            cpu_ms = 1e3 * (time.process_time() - cpu0) / a.iters
        assert torch.isfinite(out.float()).all()
        saved[f"embeddings_{dtype}"] = out.float().contiguous()
        ms.sort()
        best, median = ms[0], ms[len(ms) // 2]
        runs.append({"dtype": dtype, "tokens_per_s": B * T / (best / 1e3), "best_ms": best, "median_ms": median,
                     "cpu_ms": cpu_ms, "peak_rss_mib": peak_rss_mib()})
        print(f"peer encode (torch {torch.__version__}, transformers {transformers.__version__}, {impl}, "
              f"{dtype}): {params / 1e6:.2f}M params, batch {B} x {T}, {a.attention}, "
              f"{torch.get_num_threads()} threads: {B * T / (best / 1e3):.0f} tokens/s "
              f"(best {best:.1f} ms/batch, median {median:.1f}, CPU {cpu_ms:.1f} ms/batch; peak RSS {peak_rss_mib():.0f} MiB)", flush=True)
    if a.save:
        from safetensors.torch import save_file
        save_file(saved, a.save)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "attn_impl": impl,
                       "params_m": params / 1e6, "batch": B, "seq_len": T, "attention": a.attention,
                       "threads": torch.get_num_threads(), "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
