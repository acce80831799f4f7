"""Peak memory of a real generation run: SmolLM2, 100 prompts x 64 samples (CPU).

The whole pipeline runs (``generate_samples``: sampling with per-token log-probs, ROUGE judge,
reference scoring, sharded store) in this process while a thread reads the resident set size
(``VmRSS``) twice a second; the peak is the kernel's high-water mark ``VmHWM``. The RSS after
each shard shows whether memory grows with the samples written (it must not: the store keeps
only the rows since the last shard).

Bar (issue 6): peak RSS under 3 GB; the store never holds all samples in memory.

Run:  nice -n 10 python benchmarks/generation_memory.py [--prompts 100] [--n 64] [--tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32, help="max new tokens")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flush-seconds", type=float, default=60.0)
    parser.add_argument("--tiny", action="store_true",
                        help="a tiny random model instead of SmolLM2 (the store's memory at "
                        "full scale, in minutes)")
    args = parser.parse_args()

    start_rss = status_mb("VmRSS")
    import pandas as pd
    import torch

    from leakstats.generate import generate_samples, read_store
    from leakstats.generate.hf import HFBackend
    from leakstats.generate.prompts import fictitious_facts

    torch.set_num_threads(args.threads)
    if args.tiny:
        from leakstats.generate.testing import tiny_model

        backend = HFBackend.from_pretrained(tiny_model(tempfile.mkdtemp()))
    else:
        backend = HFBackend.from_pretrained()
    loaded_rss = status_mb("VmRSS")
    plain = fictitious_facts(split="all")
    para = fictitious_facts(split="all", paraphrased=True)
    para["prompt_id"] = "p-" + para["prompt_id"]
    prompts = pd.concat([plain, para.drop(columns="question")], ignore_index=True)
    prompts = prompts.head(args.prompts)

    trace: list[tuple[float, float]] = []
    done = threading.Event()

    def watch() -> None:
        t0 = time.perf_counter()
        while not done.wait(0.5):
            trace.append((time.perf_counter() - t0, status_mb("VmRSS")))

    shards: list[tuple[int, float]] = []

    def on_group(groups: int) -> None:
        shards.append((groups, status_mb("VmRSS")))
        print(f"  shard written: {groups} groups, RSS {shards[-1][1]:.0f} MB", file=sys.stderr,
              flush=True)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        res = generate_samples(
            prompts, out=Path(folder) / "run", backend=backend, n=args.n,
            max_new_tokens=args.tokens, progress=False, seed=0, on_group=on_group,
            flush_seconds=args.flush_seconds,
        )
        wall = time.perf_counter() - t0
        done.set()
        thread.join()
        size = sum(p.stat().st_size for p in (Path(folder) / "run").rglob("*") if p.is_file())
        peak = status_mb("VmHWM")
        records = read_store(Path(folder) / "run", columns=["score"])
        per_group = records.groupby(["prompt_id"]).size()
    name = "tiny random Llama (hidden 16)" if args.tiny else "SmolLM2-135M-Instruct"
    print(f"{name}, CPU, torch threads {args.threads}: {len(prompts)} prompts x "
          f"{args.n} samples, max_new_tokens {args.tokens}, log-probs + ROUGE judge + reference "
          f"scoring + store\n")
    print("| quantity | value |")
    print("|---|--:|")
    print(f"| RSS before imports | {start_rss:.0f} MB |")
    print(f"| RSS after loading the model | {loaded_rss:.0f} MB |")
    print(f"| peak RSS (VmHWM) | {peak:.0f} MB |")
    print(f"| samples written | {res.samples_written} ({len(per_group)} prompts, "
          f"{per_group.min()}-{per_group.max()} each) |")
    print(f"| tokens generated | {res.tokens} |")
    print(f"| wall time | {wall:.0f} s ({res.samples_written / wall:.2f} samples/s, "
          f"{res.tokens / wall:.0f} tokens/s) |")
    print(f"| store on disk | {size / 2**20:.1f} MB in {len(shards)} shard flushes |")
    print(f"\npeak RSS bar: < 3072 MB -> {'MET' if peak < 3072 else 'NOT MET'}")
    if shards:
        print("\nRSS after each shard flush (groups written: MB): "
              + ", ".join(f"{g}: {m:.0f}" for g, m in shards))
        first, last = shards[0], shards[-1]
        if last[0] > first[0]:
            slope = (last[1] - first[1]) / ((last[0] - first[0]) * args.n) * 1024
            print(f"RSS trend from the first to the last shard: {slope:+.2f} KB per sample")


if __name__ == "__main__":
    main()
