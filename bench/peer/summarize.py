"""Tables of the compare_*.sh scripts: reads the runs they recorded (bench/peer/lib.sh's measure: one JSON line per
process, with the program's own --json figures, /usr/bin/time's peak RSS and the load average), prints per shape
and group the median (min..max) tokens/s over the repeats with the peak RSS, the ratio of bg2vec's faster variant
to each peer's faster variant (and of their peak RSS), the agreement checks, and writes it all as JSON.

Run labels are "SHAPE GROUP NAME" with NAME = "SIDE-VARIANT" (bg2vec-bf16, torch-pypi-float32, llama.cpp-fa1...).
  summarize.py encode|train|llamacpp --runs RUNS.jsonl --out OUT.json [--agree SPEC...] [--losses SPEC...]
--agree "SHAPE|NAME_A|FILE_A:KEY|NAME_B|FILE_B:KEY": the cosine of every row of A with B (the minimum) and
max |A - B| / max |B|. --losses "SHAPE GROUP|NAME_A|LOSS_A|NAME_B|LOSS_B": two losses on the same weights and batch.
"""
import argparse
import json
import statistics
import sys

import numpy as np


def tokens_per_s(rec):
    """The run's tokens/s: its --json file ("runs"[0]), else a number the record carries."""
    if rec.get("tokens_per_s") is not None:
        return rec["tokens_per_s"]
    try:
        with open(rec["json"]) as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    runs = j.get("runs") or [j]
    return runs[0].get("tokens_per_s")


def cpu_tokens_per_s(rec):
    """Tokens per CPU-second of the run (CPU time of the timed part, all threads), a figure the machine's load
    disturbs less than the wall clock (though OpenMP's spin-waiting counts as CPU time too)."""
    try:
        with open(rec["json"]) as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    run = (j.get("runs") or [j])[0]
    tokens = j.get("batch", 0) * j.get("seq_len", 0)
    if "cpu_ms" in run:
        return tokens / (run["cpu_ms"] / 1e3) if run["cpu_ms"] else None
    if "cpu_s_per_step" in run:
        return tokens / run["cpu_s_per_step"] if run["cpu_s_per_step"] else None
    return None


def first_loss(rec):
    try:
        with open(rec["json"]) as f:
            j = json.load(f)
    except (OSError, ValueError):
        return None
    runs = j.get("runs") or [j]
    return runs[0].get("first_loss")


def side_variant(name):
    side, _, variant = name.rpartition("-")
    return side, variant


def load_runs(path):
    groups = {}
    for line in open(path):
        if not line.strip():
            continue
        rec = json.loads(line)
        shape, group, name = rec["label"].split(" ", 2)
        groups.setdefault((shape, group), {}).setdefault(name, []).append(rec)
    return groups


def cosine_check(spec):
    shape, name_a, file_a, name_b, file_b = spec.split("|")
    from safetensors.numpy import load_file
    def get(ref):
        path, key = ref.rsplit(":", 1)
        return load_file(path)[key].astype(np.float64)
    a, b = get(file_a), get(file_b)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"shape": shape, "a": name_a, "b": name_b, "min_cosine": float(cos.min()),
            "max_abs_diff_rel": float(np.abs(a - b).max() / np.abs(b).max())}


def loss_check(spec):
    where, name_a, loss_a, name_b, loss_b = spec.split("|")
    la, lb = float(loss_a), float(loss_b)
    return {"where": where, "a": name_a, "loss_a": la, "b": name_b, "loss_b": lb, "abs_diff": abs(la - lb),
            "rel_diff": abs(la - lb) / abs(lb)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=["encode", "train", "llamacpp"])
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--load-before", default="")
    p.add_argument("--load-after", default="")
    p.add_argument("--agree", nargs="*", default=[])
    p.add_argument("--losses", nargs="*", default=[])
    p.add_argument("--note", default="")
    a = p.parse_args()

    out = {"workload": a.workload, "threads": a.threads, "load_before": a.load_before, "load_after": a.load_after,
           "note": a.note, "groups": [], "agreement": [], "losses": []}
    unit = "tokens/s"
    print(f"\n{a.workload}: {unit}, median (min..max) over the repeats of each run's best; peak RSS (max over repeats); "
          f"{a.threads} threads; load average before {a.load_before}, after {a.load_after}")
    for (shape, group), names in load_runs(a.runs).items():
        rows = []
        for name, recs in names.items():
            tps = [t for t in (tokens_per_s(r) for r in recs) if t]
            if not tps:
                continue
            cps = [t for t in (cpu_tokens_per_s(r) for r in recs) if t]
            rows.append({"name": name, "median": statistics.median(tps), "min": min(tps), "max": max(tps), "runs": len(tps),
                         "cpu_median": statistics.median(cps) if cps else None,
                         "peak_rss_mib": max(r["peak_rss_kib"] for r in recs) / 1024.0,
                         "load1": [min(r["load1"] for r in recs), max(r["load1"] for r in recs)],
                         "first_loss": first_loss(recs[0])})
        best = {}
        for row in rows:
            side, _ = side_variant(row["name"])
            if side not in best or row["median"] > best[side]["median"]:
                best[side] = row
        ratios = []
        ours = [s for s in best if s.startswith("bg2vec")]
        for o in ours:
            for peer, prow in best.items():
                if peer.startswith("bg2vec"):
                    continue
                orow = best[o]
                ratios.append({"ours": orow["name"], "peer": prow["name"], "speed": orow["median"] / prow["median"],
                               "rss": orow["peak_rss_mib"] / prow["peak_rss_mib"],
                               "cpu_speed": (orow["cpu_median"] / prow["cpu_median"]
                                             if orow["cpu_median"] and prow["cpu_median"] else None)})
        out["groups"].append({"shape": shape, "group": group, "rows": rows, "ratios": ratios})
        print(f"\n{shape} {group}")
        print("| program | tokens/s (wall) | tokens per CPU-second | peak RSS MiB | load (1 min) at the runs' starts |")
        print("|---|---:|---:|---:|---|")
        for row in rows:
            cpu = f"{row['cpu_median']:.0f}" if row["cpu_median"] else "-"
            print(f"| {row['name']} | {row['median']:.0f} ({row['min']:.0f}..{row['max']:.0f}) | {cpu} | {row['peak_rss_mib']:.0f} | "
                  f"{row['load1'][0]:.2f}-{row['load1'][1]:.2f} |")
        for r in ratios:
            cpu = f", per CPU-second {r['cpu_speed']:.2f}x" if r["cpu_speed"] else ""
            print(f"ratio {r['ours']} / {r['peer']} (the faster of each): speed {r['speed']:.2f}x{cpu}, peak RSS {r['rss']:.2f}x")
        # Training: every run's first-step loss (the initial weights, same batch) against PyTorch float32's.
        ref = next((row for row in rows if row["name"].startswith("torch-") and row["name"].endswith("-float32")
                    and row["first_loss"] is not None), None)
        if ref:
            for row in rows:
                if row is ref or row["first_loss"] is None:
                    continue
                c = {"where": f"{shape} {group}", "a": row["name"], "loss_a": row["first_loss"], "b": ref["name"],
                     "loss_b": ref["first_loss"], "abs_diff": abs(row["first_loss"] - ref["first_loss"]),
                     "rel_diff": abs(row["first_loss"] - ref["first_loss"]) / abs(ref["first_loss"])}
                out["losses"].append(c)
                print(f"  first-step loss {c['a']} {c['loss_a']:.6f} vs {c['b']} {c['loss_b']:.6f}: relative difference "
                      f"{c['rel_diff']:.1e}")
    if a.agree:
        print("\nagreement on the same weights and inputs (cosine of each row: the minimum; max |a-b| / max |b|)")
    for spec in a.agree:
        c = cosine_check(spec)
        out["agreement"].append(c)
        print(f"  {c['shape']}: {c['a']} vs {c['b']}: min cosine {c['min_cosine']:.6f}, max |diff| / max |b| "
              f"{c['max_abs_diff_rel']:.2e}")
    if a.losses:
        print("\nloss of the first step on the same weights and batch")
    for spec in a.losses:
        c = loss_check(spec)
        out["losses"].append(c)
        print(f"  {c['where']}: {c['a']} {c['loss_a']:.6f} vs {c['b']} {c['loss_b']:.6f} (|diff| {c['abs_diff']:.2e}, "
              f"relative {c['rel_diff']:.2e})")
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    sys.exit(main())
