"""bench/gpu/run.sh's last step: $OUT/summary.json from the steps' statuses and the two sides' figures, the ratios
against transformers (ours bf16 over its bf16 eager run), and the agreement of the embeddings. Missing pieces
(a step that failed or did not run) are reported as such, not guessed."""
import argparse
import glob
import json
import os


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
        steps[os.path.basename(status)[:-len(".status")]] = {"exit": int(rc), "seconds": int(seconds),
                                                             "skipped": int(rc) == 77}
    summary = {"wall_s": a.wall, "steps": steps}
    ours, peer = load(os.path.join(a.out, "encode_ours.json")), load(os.path.join(a.out, "encode_peer.json"))
    if ours and peer:
        mine = {r["mode"]: r for r in ours["runs"]}
        theirs = {(r["dtype"], r["variant"]): r for r in peer["runs"]}
        encode = {"shape": f"{ours['params_m']:.1f}M params, batch {ours['batch']} x {ours['seq_len']}",
                  "gpu": peer.get("gpu"), "torch": peer.get("torch"), "transformers": peer.get("transformers")}
        for mode, r in mine.items():
            encode[f"ours_{mode}_tokens_per_s"] = r["tokens_per_s"]
        for (dtype, variant), r in theirs.items():
            encode[f"peer_{dtype}_{variant}_tokens_per_s"] = r["tokens_per_s"]
            for key, value in r.items():
                if key.startswith("min_cosine"):
                    encode[f"peer_{dtype}_{key}"] = value
        if "bf16" in mine and ("bf16", "eager") in theirs:
            encode["ratio_bf16_vs_transformers_eager"] = mine["bf16"]["tokens_per_s"] / theirs[("bf16", "eager")]["tokens_per_s"]
            encode["target"] = "at least 1.5x (issue #16)"
        summary["encode"] = encode
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
