"""`bg2vec inspect`'s memory estimate against the measured peak RSS (/usr/bin/time -v) of the programs it estimates:
bench_encode (encode a B x T batch), bench_train --objectives mntp (a full or LoRA step) and bg2vec encode, on the
medium Mistral shape (make_inputs.py's folder) and the real Gemma-3-270M GGUF, for --compute f32 and bf16. Prints a
table (estimate, measured, measured / estimate) and writes it as JSON. Python's standard library only.
By default it reads the peak RSS the compare scripts recorded (--runs: their *-runs.jsonl; every bg2vec run in them);
--measure runs its own processes instead (one each).
  python3 bench/peer/check_memory_estimate.py [--build build-peer] [--runs build-peer/peer-bench/*-runs.jsonl]
      [--measure] [--inputs build-peer/peer-bench/inputs] [--gguf models/gemma3-270m/gemma-3-270m-q4_k_m.gguf]
      [--out build-peer/peer-bench/memory.json]
"""
import argparse
import json
import os
import re
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def peak_rss_bytes(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (peak RSS in bytes, stdout)."""
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kib * 1024, r.stdout


def estimate(bg2vec, model, compute, B, T, what):
    """inspect's peak bytes of `what` ("encode", "MNTP step, full", "MNTP step, LoRA r16") and its phase."""
    out = subprocess.run([bg2vec, "inspect", "--model", model, "--compute", compute, "--batch", str(B), "--seq-len", str(T)],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("  " + what):
            m = re.search(r"(\d+) B \(([^)]*)\) at ([^:]+):", line)
            return int(m.group(1)), m.group(3)
    sys.exit(f"no '{what}' line in inspect's output:\n{out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build-peer"))
    p.add_argument("--bench-build", help="where bench_encode/bench_train are (default: --build)")
    p.add_argument("--inputs", default=os.path.join(REPO, "build-peer", "peer-bench", "inputs"))
    p.add_argument("--gguf", default=os.path.join(REPO, "models", "gemma3-270m", "gemma-3-270m-q4_k_m.gguf"))
    p.add_argument("--threads", default="2")
    p.add_argument("--out", default=os.path.join(REPO, "build-peer", "peer-bench", "memory.json"))
    p.add_argument("--runs", nargs="*", default=[])
    p.add_argument("--measure", action="store_true")
    a = p.parse_args()
    bg2vec = os.path.join(a.build, "bg2vec")
    bench = a.bench_build or a.build
    env = dict(os.environ, OMP_NUM_THREADS=a.threads)
    medium = os.path.join(a.inputs, "model")
    cases = []
    for compute in ("f32", "bf16"):
        for B, T in ((32, 128), (8, 512)):
            cases.append(("medium", medium, compute, B, T, "encode",
                          [f"{bench}/bench/bench_encode", "--model", medium, "--batch", str(B), "--seq-len", str(T), "--iters", "1",
                           "--compute", compute]))
            for mode, extra in (("MNTP step, full", []), ("MNTP step, LoRA r16", ["--lora", "16"])):
                cases.append(("medium", medium, compute, B, T, mode,
                              [f"{bench}/bench/bench_train", "--model", medium, "--batch", str(B), "--seq-len", str(T),
                               "--steps", "1", "--objectives", "mntp", "--compute", compute, *extra]))
        if os.path.exists(a.gguf):
            cases.append(("Gemma-3-270M Q4_K_M", a.gguf, compute, 32, 128, "encode",
                          [f"{bench}/bench/bench_encode", "--model", a.gguf, "--batch", "32", "--seq-len", "128", "--iters", "1",
                           "--compute", compute]))
    if not a.measure:
        cases = []
        for path in a.runs:
            for line in open(path):
                rec = json.loads(line)
                shape, group, name = rec["label"].split(" ", 2)
                if not name.startswith("bg2vec-"):
                    continue
                compute = name.split("-", 1)[1]
                B, T = map(int, shape.split("x"))
                gemma = "llamacpp" in os.path.basename(path)
                what = {"encode": "encode", "full": "MNTP step, full", "lora": "MNTP step, LoRA r16"}.get(group, "encode")
                label = ("Gemma-3-270M Q4_K_M" if gemma else "medium") + ("" if group in ("encode", "full", "lora") else f" ({group})")
                cases.append((label, a.gguf if gemma else medium, compute, B, T, what, rec["peak_rss_kib"] * 1024))
    rows = []
    print("| model | compute | batch | what | estimate (peak phase) | measured peak RSS | measured / estimate |")
    print("|---|---|---|---|---:|---:|---:|")
    seen = {}
    for name, model, compute, B, T, what, cmd in cases:
        est, phase = estimate(bg2vec, model, compute, B, T, what)
        rss = cmd if isinstance(cmd, int) else peak_rss_bytes(cmd, env)[0]
        key = (name, compute, B, T, what)
        if key in seen:                                   # repeats: the largest peak
            row = seen[key]
            row["measured"] = max(row["measured"], rss)
            row["ratio"] = row["measured"] / est
            continue
        rows.append({"model": name, "compute": compute, "batch": B, "seq_len": T, "what": what, "estimate": est,
                     "phase": phase, "measured": rss, "ratio": rss / est,
                     "command": "recorded run" if isinstance(cmd, int) else " ".join(cmd)})
        seen[key] = rows[-1]
    for row in rows:
        name, compute, B, T, what, est, phase, rss = (row[k] for k in ("model", "compute", "batch", "seq_len", "what",
                                                                       "estimate", "phase", "measured"))
        print(f"| {name} | {compute} | {B} x {T} | {what} | {est / 2**20:.0f} MiB ({phase}) | {rss / 2**20:.0f} MiB | "
              f"{rss / est:.2f} |", flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(rows, f, indent=2)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
