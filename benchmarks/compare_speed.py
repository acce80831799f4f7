"""Speed of compare() on 6 methods x 400 prompts x n = 200 samples (issue #5 bar: < 10 s).

All 15 pairs of methods, k in {1, 2, 4, ..., 128}, 2000 resamples, for every non-Bayesian test,
from a records table (480,000 rows, one per sample) and from the counts table (2,400 rows).
"warm": in this process after a first call (imports done); "cold": the first call in a fresh
interpreter (after `import leakstats`), the lazy imports it triggers included.

Run:  python benchmarks/compare_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import leakstats  # noqa: E402

KS = [1, 2, 4, 8, 16, 32, 64, 128]
TESTS = ("auto", "permutation", "paired-bootstrap", "gee")
METHODS = ("retrain", "npo", "ga", "graddiff", "simnpo", "rmu")


def workload(P: int = 400, n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    base = np.where(rng.random(P) < 0.3, 0.0, rng.beta(0.4, 6.0, P))
    frames = []
    for i, m in enumerate(METHODS):
        p = np.minimum(base * (1 + 0.1 * i), 1.0)
        frames.append(pd.DataFrame({"method": m, "prompt_id": np.arange(P), "n_samples": n,
                                    "n_leaked": rng.binomial(n, p)}))
    counts = pd.concat(frames, ignore_index=True)
    reps = counts.loc[counts.index.repeat(n)].reset_index(drop=True)
    sample = np.tile(np.arange(n), len(counts))
    records = pd.DataFrame({"method": reps["method"], "prompt_id": reps["prompt_id"],
                            "sample_id": sample, "leaked": sample < reps["n_leaked"]})
    return counts, records


def best_of(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


COLD = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r}); sys.path.insert(0, {here!r})
import leakstats, compare_speed
counts, records = compare_speed.workload()
t1 = time.perf_counter()
leakstats.compare(records, k=compare_speed.KS, test={test!r}, rng=0)
print(time.perf_counter() - t1, t1 - t0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts, records = workload()
    leakstats.compare(counts, k=KS, rng=0)  # warm up imports
    print(f"workload: {len(METHODS)} methods x 400 prompts x n = 200 ({len(records):,} records),"
          f" 15 pairs, k = {KS}, 2000 resamples; best of {args.repeat}\n")
    print("| test | warm, counts (s) | warm, records (s) | cold, records (s) |")
    print("|---|---:|---:|---:|")
    here = str(Path(__file__).resolve().parent)
    root = str(Path(__file__).resolve().parents[1])
    for test in TESTS:
        t_counts = best_of(lambda t=test: leakstats.compare(counts, k=KS, test=t, rng=0),
                           args.repeat)
        t_records = best_of(lambda t=test: leakstats.compare(records, k=KS, test=t, rng=0),
                            args.repeat)
        out = subprocess.run([sys.executable, "-c", COLD.format(root=root, here=here,
                                                                  test=test)],
                             capture_output=True, text=True, check=True)
        call, _ = map(float, out.stdout.split())
        print(f"| {test} | {t_counts:.2f} | {t_records:.2f} | {call:.2f} |")


if __name__ == "__main__":
    main()
