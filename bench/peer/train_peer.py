"""Peer of build/bench/bench_train's MNTP line: tokens/s of MNTP training steps in PyTorch/transformers (+ PEFT).

The model is a folder (--model DIR, e.g. bench/peer/make_inputs.py's, which bg2vec reads too) or a
MistralForCausalLM built from the shape flags with random N(0, 0.02) weights; the batch is --batch FILE (input_ids
with the masked positions already replaced, attention_mask, labels: -100 = not predicted) or a random one with
--rate of the positions >= 1 masked. A step: forward with a 4D key-padding-only mask (bidirectional), cross-entropy
of logits[:, :-1] against labels[:, 1:] (mean over masked positions), backward, torch.optim.AdamW (lr 1e-4,
weight decay 0.01; fused=True where this torch has a fused CPU AdamW, >= 2.4, else its default foreach).
--lora R: only a PEFT LoRA adapter trains (rank R, alpha 2R, dropout --lora-dropout, on q, k, v, o, gate, up, down;
embeddings and lm_head frozen), as in the LLM2Vec recipe; otherwise every parameter trains. Eager execution (no
torch.compile). Reports the loss of the first step (the initial weights': bg2vec's on the same folder and batch must
equal it) and tokens/s (batch x seq-len per step) of the best and median of --steps timed steps after one warm-up,
on --threads threads, once per --dtype: float32, or bf16 = float32 master weights under
torch.autocast("cpu", dtype=torch.bfloat16) (the loss in float32). Each dtype starts from the same weights.
  .venv-peer/bin/python bench/peer/train_peer.py --model DIR --batch FILE [--lora 16] [--steps 3] [--dtype float32 bf16]
"""
import argparse
import inspect
import json
import resource
import time

import torch
import transformers
from transformers import MistralConfig, MistralForCausalLM


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("layers", 4), ("hidden", 256), ("heads", 4), ("kv-heads", 2), ("ffn", 0), ("vocab", 8000),
                          ("batch-size", 16), ("seq-len", 128), ("steps", 5), ("threads", 2), ("mask-id", 3), ("lora", 0)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--rate", type=float, default=0.8, help="fraction of positions masked (bench_train: 0.8)")
    p.add_argument("--lora-dropout", type=float, default=0.0)
    p.add_argument("--dtype", nargs="+", choices=["float32", "bf16"], default=["float32", "bf16"])
    p.add_argument("--attn-impl", choices=["auto", "sdpa", "eager"], default="auto")
    p.add_argument("--model", help="a model folder instead of the random model (shape flags ignored)")
    p.add_argument("--batch", help="an MNTP batch (safetensors: input_ids, attention_mask, labels)")
    p.add_argument("--json", help="write the figures here")
    a = p.parse_args()
    a.ffn = a.ffn or 688 * a.hidden // 256                   # bench_train's rule
    return a


def attn_impl(choice):
    if choice != "auto":
        return choice
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    return "sdpa" if (major, minor) >= (2, 2) else "eager"


def fused_adamw_available():
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 4) and "fused" in inspect.signature(torch.optim.AdamW).parameters


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    impl = attn_impl(a.attn_impl)
    if a.batch:
        from safetensors.torch import load_file
        b = load_file(a.batch)
        inputs, keep, labels = b["input_ids"].long(), b["attention_mask"].long(), b["labels"].long()
    else:
        ids = torch.randint(4, a.vocab, (a.batch_size, a.seq_len))
        masked = torch.rand(a.batch_size, a.seq_len) < a.rate
        masked[:, 0] = False
        labels = torch.where(masked, ids, -100)
        inputs = torch.where(masked, a.mask_id, ids)
        keep = torch.ones_like(ids)
    B, T = inputs.shape
    mask = torch.zeros(B, 1, T, T)                            # key padding only (bidirectional)
    mask.masked_fill_(keep[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    fused = fused_adamw_available()
    runs = []
    for dtype in a.dtype:
        if a.model:
            model = MistralForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation=impl)
        else:
            cfg = MistralConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                                num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                                head_dim=a.hidden // a.heads, max_position_embeddings=max(T, 256), rms_norm_eps=1e-5,
                                sliding_window=None, tie_word_embeddings=False, attn_implementation=impl)
            model = MistralForCausalLM(cfg)
            with torch.no_grad():
                for p in model.parameters():
                    p.normal_(0.0, 0.02)
        params = sum(p.numel() for p in model.parameters())
        if a.lora:
            from peft import LoraConfig, get_peft_model
            model = get_peft_model(model, LoraConfig(r=a.lora, lora_alpha=2 * a.lora, lora_dropout=a.lora_dropout,
                                                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                                     "up_proj", "down_proj"]))
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01, **({"fused": True} if fused else {}))
        V = model.config.vocab_size

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                logits = model(input_ids=inputs, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, V),
                                                     labels[:, 1:].reshape(-1), ignore_index=-100)
            loss.backward()
            opt.step()
            return loss.item()

        first = step()                                        # warm-up, on the initial weights
        ms = []
        cpu0 = time.process_time()
        for _ in range(a.steps):
            start = time.perf_counter()
            loss = step()
            ms.append(1e3 * (time.perf_counter() - start))
        cpu_s = (time.process_time() - cpu0) / a.steps
        ms.sort()
        best, median = ms[0], ms[len(ms) // 2]
        mode = f"lora r{a.lora}" if a.lora else "full"
        runs.append({"dtype": dtype, "mode": mode, "tokens_per_s": B * T / (best / 1e3), "best_ms": best,
                     "median_ms": median, "cpu_s_per_step": cpu_s, "first_loss": first, "last_loss": loss, "peak_rss_mib": peak_rss_mib(),
                     "trainable": sum(p.numel() for p in trainable)})
        print(f"peer train (torch {torch.__version__}, transformers {transformers.__version__}, {impl}, "
              f"{'fused' if fused else 'foreach'} AdamW, {dtype}): mntp {mode} {params / 1e6:.2f}M params "
              f"({sum(p.numel() for p in trainable) / 1e6:.2f}M trainable), batch {B} x {T}, {torch.get_num_threads()} "
              f"threads: {B * T / (best / 1e3):.0f} tokens/s (best {best:.1f} ms/step, median {median:.1f}, CPU {cpu_s:.2f} s/step; first loss "
              f"{first:.6f}, last {loss:.6f}; peak RSS {peak_rss_mib():.0f} MiB)", flush=True)
        del model, opt, trainable
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "attn_impl": impl,
                       "fused_adamw": fused, "batch": B, "seq_len": T, "threads": torch.get_num_threads(), "runs": runs},
                      f, indent=2)


if __name__ == "__main__":
    main()
