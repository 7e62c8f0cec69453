"""Optional cross-check: the `gguf` Python package (llama.cpp's own reader, gguf-py; from PyPI, or from the
llama-cpp-python sources that llamacpp_build.sh unpacks) reads the files `bg2vec gguf export` writes: the keys
llama.cpp needs for the architecture, the tokenizer, and every tensor, whose values gguf-py's dequantization gives
exactly as `bg2vec gguf dequantize` does.

    python bench/peer/crosscheck_gguf_export.py FILE.gguf [FILE.gguf ...] [--bg2vec build/bg2vec]
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import gguf
except ImportError:  # the gguf-py of the unpacked llama-cpp-python sdist
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = glob.glob(os.path.join(repo, "build-llamacpp", "llama_cpp_python-*", "vendor", "llama.cpp", "gguf-py"))
    if not found:
        sys.exit("no gguf package: pip install gguf, or run bench/peer/llamacpp_build.sh first")
    sys.path.insert(0, found[0])
    import gguf
from safetensors.numpy import load_file

REQUIRED = ["context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
            "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "rope.freq_base", "attention.causal", "pooling_type"]
GEMMA = ["attention.sliding_window", "attention.sliding_window_pattern"]
TOKENIZER = ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
             "tokenizer.ggml.bos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token",
             "tokenizer.ggml.add_space_prefix"]


def value(reader, key):
    f = reader.fields[key]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        return len(f.data)
    return f.parts[f.data[0]][0].item()


def check(path, bg2vec):
    reader = gguf.GGUFReader(path)
    arch = value(reader, "general.architecture")
    keys = [f"{arch}.{k}" for k in REQUIRED + (GEMMA if arch.startswith("gemma") else [])] + TOKENIZER
    missing = [k for k in keys if k not in reader.fields]
    n_vocab = value(reader, "tokenizer.ggml.tokens")
    layers = value(reader, f"{arch}.block_count")
    expected = {"token_embd.weight", "output_norm.weight"}
    per_layer = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    if arch.startswith("gemma"):
        per_layer += ["post_attention_norm", "post_ffw_norm"]
    if arch in ("gemma3", "gemma-embedding"):
        per_layer += ["attn_q_norm", "attn_k_norm"]
    expected |= {f"blk.{i}.{t}.weight" for i in range(layers) for t in per_layer}
    names = {t.name for t in reader.tensors}
    unexpected = names - expected - {"output.weight"}
    absent = expected - names
    with tempfile.TemporaryDirectory() as tmp:
        ours_file = os.path.join(tmp, "ours.safetensors")
        subprocess.run([bg2vec, "gguf", "dequantize", "--gguf", path, "--out", ours_file], check=True, capture_output=True)
        ours = load_file(ours_file)
        worst = 0.0
        for t in reader.tensors:
            theirs = gguf.quants.dequantize(t.data, t.tensor_type).reshape(ours[t.name].shape)
            worst = max(worst, float(np.abs(theirs.astype(np.float32) - ours[t.name]).max()))
    print(f"{os.path.basename(path)}: {arch}, {len(reader.tensors)} tensors ({', '.join(sorted({t.tensor_type.name for t in reader.tensors}))}), "
          f"{n_vocab} tokens, causal={value(reader, arch + '.attention.causal')}, pooling_type={value(reader, arch + '.pooling_type')}; "
          f"missing keys {missing or 'none'}, absent tensors {sorted(absent) or 'none'}, unexpected {sorted(unexpected) or 'none'}; "
          f"gguf-py vs bg2vec dequantize: max |diff| {worst:g}")
    return not missing and not absent and not unexpected and worst == 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--bg2vec", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "bg2vec"))
    a = p.parse_args()
    print(f"gguf-py {getattr(gguf, '__version__', '')} from {os.path.dirname(gguf.__file__)}")
    ok = all([check(f, a.bg2vec) for f in a.files])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
