"""bench/gpu/run.sh's last step: $OUT/summary.json from the steps' statuses and both sides' figures: our
tokens/s against transformers' (encode: ours bf16 over its bf16 eager; MNTP step: ours bf16 over its eager and,
where run, its torch.compile), the issue's targets, the model FLOP utilisation of our MNTP step against the H200's
dense bf16 peak (989 TFLOP/s), and the agreement of the embeddings. A step that failed or did not run leaves its
entries out; nothing is guessed."""
import argparse
import glob
import json
import os

H200_BF16_DENSE_TFLOPS = 989.0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--wall", type=int, required=True)
    a = p.parse_args()
    steps = {}
    for status in sorted(glob.glob(os.path.join(a.out, "*.status"))):
        rc, seconds = open(status).read().split()
        steps[os.path.basename(status)[:-len(".status")]] = {"exit": int(rc), "seconds": int(seconds), "skipped": int(rc) == 77}
    summary = {"wall_s": a.wall, "steps": steps}
    mine = {}
    for name in ("bench_encode.json", "bench_train.json"):
        ours = load(os.path.join(a.out, name))
        if ours:
            mine.update({(r["bench"], r["mode"]): r for r in ours["runs"]})
            summary["shape"] = f"{ours['params_m']:.1f}M params, batch {ours['batch']} x {ours['seq_len']}"
    for bench, peer_file, target in [("encode", "encode_peer.json", ("bf16", "eager", 1.5)),
                                     ("mntp", "mntp_peer.json", ("bf16", "compile", 1.1)),
                                     ("lora-mntp", None, None), ("lora-simcse", None, None)]:
        peer = load(os.path.join(a.out, peer_file)) if peer_file else None
        entry = {}
        for (b, mode), r in mine.items():
            if b == bench:
                entry[f"ours_{mode}_tokens_per_s"] = r["tokens_per_s"]
                if "tflops" in r:
                    entry[f"ours_{mode}_tflops"] = r["tflops"]
                    entry[f"ours_{mode}_mfu"] = r["tflops"] / H200_BF16_DENSE_TFLOPS
        if peer:
            entry.update({"gpu": peer.get("gpu"), "torch": peer.get("torch"), "transformers": peer.get("transformers")})
            for r in peer["runs"]:
                name = f"peer_{r.get('dtype', 'bf16')}_{r['variant']}"
                entry[name + "_tokens_per_s"] = r["tokens_per_s"]
                for key, value in r.items():
                    if key.startswith("min_cosine") or key in ("first_loss", "peak_mib"):
                        entry[f"{name}_{key}"] = value
            for variant in ("eager", "compile"):
                theirs = entry.get(f"peer_bf16_{variant}_tokens_per_s")
                if theirs and "ours_bf16_tokens_per_s" in entry:
                    entry[f"ratio_bf16_vs_transformers_{variant}"] = entry["ours_bf16_tokens_per_s"] / theirs
            entry["target"] = f"at least {target[2]}x transformers {target[1]} (issue #16)"
        if entry:
            summary[bench] = entry
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
