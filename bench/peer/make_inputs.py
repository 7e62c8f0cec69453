"""The shared inputs of the side-by-side benchmarks: one Mistral-shaped model folder with random weights and
the token batches, so that bg2vec and the PyTorch peer run (and are checked) on the same weights and ids.

  OUT/model/config.json, OUT/model/model.safetensors   float32; projections, embeddings and lm_head
                                                       N(0, 0.02), norms 1 (transformers' own init of norms)
  OUT/ids-BxT.safetensors                              input_ids, attention_mask [B, T] int64, every token real
  OUT/mntp-BxT.safetensors                             the same ids with --rate of the positions >= 1 replaced
                                                       by --mask-id, labels = the original there, -100 elsewhere

Defaults: the medium shape of issue 11 (8 layers, hidden 512, 8/4 heads, ffn 1536, vocab 16000), batches
32x128 and 8x512. numpy only (any venv, same bytes for the same seed).
  python bench/peer/make_inputs.py --out build-peer/peer-inputs [--batches 32x128,8x512]
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("layers", 8), ("hidden", 512), ("heads", 8), ("kv-heads", 4), ("ffn", 1536), ("vocab", 16000),
                          ("seed", 0), ("mask-id", 3)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--rate", type=float, default=0.8, help="MNTP masking rate (Mistral's recipe: 0.8)")
    p.add_argument("--batches", default="32x128,8x512")
    p.add_argument("--out", required=True)
    return p.parse_args()


def main():
    a = parse()
    rng = np.random.default_rng(a.seed)
    H, F, V, d = a.hidden, a.ffn, a.vocab, a.hidden // a.heads
    q, kv = a.heads * d, a.kv_heads * d
    model_dir = os.path.join(a.out, "model")
    os.makedirs(model_dir, exist_ok=True)
    normal = lambda *shape: (0.02 * rng.standard_normal(shape)).astype(np.float32)
    ones = lambda n: np.ones(n, dtype=np.float32)
    t = {"model.embed_tokens.weight": normal(V, H), "model.norm.weight": ones(H), "lm_head.weight": normal(V, H)}
    for l in range(a.layers):
        p = f"model.layers.{l}."
        t.update({p + "input_layernorm.weight": ones(H), p + "post_attention_layernorm.weight": ones(H),
                  p + "self_attn.q_proj.weight": normal(q, H), p + "self_attn.k_proj.weight": normal(kv, H),
                  p + "self_attn.v_proj.weight": normal(kv, H), p + "self_attn.o_proj.weight": normal(H, q),
                  p + "mlp.gate_proj.weight": normal(F, H), p + "mlp.up_proj.weight": normal(F, H),
                  p + "mlp.down_proj.weight": normal(H, F)})
    save_file(t, os.path.join(model_dir, "model.safetensors"), metadata={"format": "pt"})
    config = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": V, "hidden_size": H,
              "intermediate_size": F, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "head_dim": d, "hidden_act": "silu", "max_position_embeddings": 4096,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": None, "tie_word_embeddings": False,
              "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "float32"}
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    params = sum(v.size for v in t.values())
    for shape in a.batches.split(","):
        B, T = map(int, shape.split("x"))
        ids = rng.integers(4, V, size=(B, T), dtype=np.int64)
        attn = np.ones((B, T), dtype=np.int64)
        save_file({"input_ids": ids, "attention_mask": attn}, os.path.join(a.out, f"ids-{B}x{T}.safetensors"))
        sel = rng.random((B, T)) < a.rate
        sel[:, 0] = False
        save_file({"input_ids": np.where(sel, a.mask_id, ids), "attention_mask": attn, "labels": np.where(sel, ids, -100)},
                  os.path.join(a.out, f"mntp-{B}x{T}.safetensors"))
    print(f"inputs: {model_dir} ({params / 1e6:.2f}M parameters), batches {a.batches} in {a.out}")


if __name__ == "__main__":
    main()
