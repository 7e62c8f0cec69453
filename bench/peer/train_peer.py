"""Peer of build/bench/bench_train's MNTP line: tokens/s of full training steps in PyTorch/transformers.

A MistralForCausalLM from a config with random weights (N(0, 0.02)), all parameters trainable, takes
bidirectional MNTP steps on one fixed random batch: --rate of the positions >= 1 replaced by the mask id,
forward with a 4D key-padding-only mask, cross-entropy of logits[:, :-1] against labels[:, 1:] (mean over
masked positions), backward, torch.optim.AdamW (lr 1e-4, weight decay 0.01, torch's default foreach
implementation). Reports tokens/s (batch x seq-len per step) over --steps timed steps after one warm-up,
on --threads threads, once per --dtype: float32, or bf16 = float32 master weights under
torch.autocast("cpu", dtype=torch.bfloat16) (the loss in float32).
Defaults are bench_train's shape: 4 layers, hidden 256, 4/2 heads, ffn 688, vocab 8000, batch 16 x 128.
  .venv-peer/bin/python bench/peer/train_peer.py [--steps 5] [--dtype float32 bf16]
"""
import argparse
import time

import torch
import transformers
from transformers import MistralConfig, MistralForCausalLM


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("layers", 4), ("hidden", 256), ("heads", 4), ("kv-heads", 2), ("ffn", 0), ("vocab", 8000),
                          ("batch", 16), ("seq-len", 128), ("steps", 5), ("threads", 2), ("mask-id", 3)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--rate", type=float, default=0.8, help="fraction of positions masked (bench_train: 0.8)")
    p.add_argument("--dtype", nargs="+", choices=["float32", "bf16"], default=["float32", "bf16"])
    p.add_argument("--attn-impl", choices=["sdpa", "eager"], default="sdpa")
    a = p.parse_args()
    a.ffn = a.ffn or 688 * a.hidden // 256                   # bench_train's rule
    return a


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, T = a.batch, a.seq_len
    ids = torch.randint(4, a.vocab, (B, T))
    masked = torch.rand(B, T) < a.rate
    masked[:, 0] = False
    labels = torch.where(masked, ids, -100)
    inputs = torch.where(masked, a.mask_id, ids)
    mask = torch.zeros(B, 1, T, T)                            # all tokens real: key padding masks nothing
    for dtype in a.dtype:
        cfg = MistralConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                            num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                            head_dim=a.hidden // a.heads, max_position_embeddings=max(T, 256), rms_norm_eps=1e-5,
                            sliding_window=None, tie_word_embeddings=False, attn_implementation=a.attn_impl)
        model = MistralForCausalLM(cfg).train()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.02)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                logits = model(input_ids=inputs, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, a.vocab),
                                                     labels[:, 1:].reshape(-1), ignore_index=-100)
            loss.backward()
            opt.step()
            return loss.item()

        step()                                                # warm-up
        start = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        seconds = time.perf_counter() - start
        print(f"peer train (torch {torch.__version__}, transformers {transformers.__version__}, {a.attn_impl}, {dtype}): "
              f"mntp {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, batch {B} x {T}, "
              f"{torch.get_num_threads()} threads: {B * T * a.steps / seconds:.0f} tokens/s "
              f"({1e3 * seconds / a.steps:.1f} ms/step, loss {loss:.3f})", flush=True)


if __name__ == "__main__":
    main()
