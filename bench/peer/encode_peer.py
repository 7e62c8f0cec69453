"""Peer of build/bench/bench_encode: encode throughput (forward + mean pooling) in PyTorch/transformers.

Builds MistralForCausalLM from a config with random weights (N(0, 0.02), like bench_encode), runs its
decoder (model.model, no lm_head) on a random batch with all tokens real, mean-pools the last hidden
states, and reports tokens/s over --iters timed iterations after one warm-up, on --threads threads.
Bidirectional attention = a 4D [B,1,T,T] additive mask built from key padding only (the LLM2Vec recipe);
causal = transformers' own mask from the 2D attention_mask. Each --dtype gets one output line:
  float32      plain float32
  bf16         float32 weights under torch.autocast("cpu", dtype=torch.bfloat16)
Run with the peer venv: .venv-peer/bin/python bench/peer/encode_peer.py --layers 4 --hidden 256 ...
"""
import argparse
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
    p.add_argument("--attn-impl", choices=["sdpa", "eager"], default="sdpa")
    return p.parse_args()


def build_model(a):
    cfg = MistralConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                        head_dim=a.hidden // a.heads, max_position_embeddings=max(a.seq_len, 256),
                        rms_norm_eps=1e-5, sliding_window=None, tie_word_embeddings=False,
                        attn_implementation=a.attn_impl)
    model = MistralForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build_model(a)
    params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(4, a.vocab, (a.batch, a.seq_len))
    keep = torch.ones(a.batch, a.seq_len, dtype=torch.long)           # 1 = real token (no padding here)
    if a.attention == "bidirectional":                                # key padding only: row b sees keep[b]
        mask = torch.zeros(a.batch, 1, a.seq_len, a.seq_len)
        mask.masked_fill_(keep[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    else:
        mask = keep

    def encode():
        h = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = keep.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)

    for dtype in a.dtype:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            encode()                                                  # warm-up
            start = time.perf_counter()
            for _ in range(a.iters):
                out = encode()
            seconds = time.perf_counter() - start
        assert torch.isfinite(out.float()).all()
        print(f"peer encode (torch {torch.__version__}, transformers {transformers.__version__}, {a.attn_impl}, "
              f"{dtype}): {params / 1e6:.2f}M params, batch {a.batch} x {a.seq_len}, {a.attention}, "
              f"{torch.get_num_threads()} threads: {a.batch * a.seq_len * a.iters / seconds:.0f} tokens/s "
              f"({1e3 * seconds / a.iters:.1f} ms/batch)", flush=True)


if __name__ == "__main__":
    main()
