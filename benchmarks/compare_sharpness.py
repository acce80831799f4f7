"""compare() end to end on simulated paired data: do marks agree with intervals, do the
difference intervals cover, and how wide are they against the fixed-prompt oracle?

Each scenario fixes per-prompt leak probabilities for three methods on the same P prompts
(``a`` with p_i, ``b`` with ratio * p_i, a reference ``ref`` with p_i / 3); every replication
redraws only the generations (the fixed-prompt estimand). For every data set we run
``leakstats.compare(counts, k=ks)`` with its defaults (all pairs, Holm) and count

* rows marked significant whose printed interval holds 0 (the coherence bar: none);
* coverage of the true difference by the interval, and family-wise coverage (all comparisons
  at one k at once) by the simultaneous intervals;
* mean width against the oracle 2 z sqrt(Var_A + Var_B), the exact fixed-prompt sd of the
  difference of the two unbiased estimates (binomial sums, as in benchmarks/sharpness.py);
* the same counts for the construction before (Holm-adjusted within-prompt permutation
  p-values with a paired-bootstrap interval over prompts), on the same data sets.

Run:  nice python benchmarks/compare_sharpness.py [--reps 150] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sharpness import exact_sd  # noqa: E402

import leakstats  # noqa: E402
from leakstats.compare import _paired_tests as ct  # noqa: E402
from leakstats.compare.api import _holm  # noqa: E402

LEVEL = 0.95
SCENARIOS = (  # (name, law of p, P, n, ratio of b to a)
    ("paper Beta(0.2,6)", lambda P, r: r.beta(0.2, 6.0, P), 400, 200, 0.9),
    ("paper Beta(0.2,6)", lambda P, r: r.beta(0.2, 6.0, P), 400, 200, 0.6),
    ("heterogeneous Beta(0.3,8)", lambda P, r: r.beta(0.3, 8.0, P), 100, 50, 0.9),
    ("heterogeneous Beta(0.3,8)", lambda P, r: r.beta(0.3, 8.0, P), 100, 50, 0.6),
    ("zero-inflated rare", lambda P, r: np.where(r.random(P) < 0.7, 0.0, r.beta(0.5, 50.0, P)),
     400, 200, 0.9),
    ("zero-inflated rare", lambda P, r: np.where(r.random(P) < 0.7, 0.0, r.beta(0.5, 50.0, P)),
     400, 200, 0.6),
    ("frequent Beta(0.5,2)", lambda P, r: r.beta(0.5, 2.0, P), 50, 20, 0.9),
    ("frequent Beta(0.5,2)", lambda P, r: r.beta(0.5, 2.0, P), 50, 20, 0.6),
)


def ks_for(n: int) -> np.ndarray:
    return np.array([k for k in (1, 8, 128) if k <= n] + ([n] if n < 128 else []))


def run_scenario(args) -> list[dict]:
    s, reps, n_resamples = args
    name, law, P, n, ratio = SCENARIOS[s]
    rng = np.random.default_rng(1000 + s)
    ks = ks_for(n)
    p = {"a": law(P, rng)}
    p["b"] = ratio * p["a"]
    p["ref"] = p["a"] / 3
    g = {m: (-np.expm1(ks[None, :] * np.log1p(-v[:, None]))).mean(axis=0) for m, v in p.items()}
    sd = {m: exact_sd(v, n, ks) for m, v in p.items()}
    z = ndtri(0.5 + LEVEL / 2)
    pairs = [("a", "b"), ("a", "ref"), ("b", "ref")]
    stats = {key: np.zeros(ks.size) for key in (
        "marked_against", "marked", "covered", "fw_covered", "width", "old_marked_against",
        "old_marked", "old_covered", "old_width")}
    stats["oracle"] = np.array([[2 * z * np.sqrt(sd[a][j] ** 2 + sd[b][j] ** 2)
                                 for j in range(ks.size)] for a, b in pairs]).mean(axis=0)
    seconds = 0.0
    for _ in range(reps):
        c = {m: rng.binomial(n, v) for m, v in p.items()}
        counts = pd.DataFrame({
            "method": np.repeat(list(c), P), "prompt_id": np.tile(np.arange(P), 3),
            "n_samples": n, "n_leaked": np.concatenate(list(c.values()))})
        t0 = time.perf_counter()
        d = leakstats.compare(counts, k=ks, rng=rng).to_frame()
        seconds += time.perf_counter() - t0
        truth = np.array([g[a][ks.tolist().index(k)] - g[b][ks.tolist().index(k)]
                          for a, b, k in zip(d.method_a, d.method_b, d.k, strict=True)])
        holds = (d.ci_low <= 0) & (0 <= d.ci_high)
        cover = (d.ci_low <= truth) & (truth <= d.ci_high)
        fw = (d.ci_low_simultaneous <= truth) & (truth <= d.ci_high_simultaneous)
        for j, k in enumerate(ks):
            at = (d.k == k).to_numpy()
            stats["marked_against"][j] += (d.significant & holds)[at].sum()
            stats["marked"][j] += d.significant[at].sum()
            stats["covered"][j] += cover[at].mean()
            stats["fw_covered"][j] += fw[at].all()
            stats["width"][j] += (d.ci_high - d.ci_low)[at].mean()
        # the construction before: permutation p (Holm per k) + paired bootstrap interval
        if not n_resamples:  # --resamples 0: skip it
            continue
        nn = np.full(P, n)
        theta = {m: ct.per_prompt_leak(nn, c[m], ks) for m in c}
        w = ct.bootstrap_weights(P, n_resamples, rng)
        p_perm, lo, hi = [], [], []
        for a, b in pairs:
            p_perm.append(ct.permutation_test(nn, c[a], nn, c[b], ks, n_resamples, rng))
            _, l_, h_, _ = ct.paired_bootstrap(theta[a] - theta[b], w, LEVEL)
            lo.append(l_)
            hi.append(h_)
        p_perm, lo, hi = np.array(p_perm), np.array(lo), np.array(hi)
        truth_old = np.array([g[a] - g[b] for a, b in pairs])
        for j in range(ks.size):
            sig = _holm(p_perm[:, j]) < 1 - LEVEL
            holds_old = (lo[:, j] <= 0) & (0 <= hi[:, j])
            stats["old_marked_against"][j] += (sig & holds_old).sum()
            stats["old_marked"][j] += sig.sum()
            stats["old_covered"][j] += ((lo[:, j] <= truth_old[:, j])
                                        & (truth_old[:, j] <= hi[:, j])).mean()
            stats["old_width"][j] += (hi[:, j] - lo[:, j]).mean()
    if not n_resamples:
        for key in ("old_marked_against", "old_marked", "old_covered", "old_width"):
            stats[key][:] = np.nan
    rows = []
    for j, k in enumerate(ks):
        rows.append(dict(
            scenario=name, P=P, n=n, ratio=ratio, k=int(k), reps=reps,
            marked=int(stats["marked"][j]), marked_against=int(stats["marked_against"][j]),
            coverage=stats["covered"][j] / reps, fw_coverage=stats["fw_covered"][j] / reps,
            width_ratio=stats["width"][j] / reps / stats["oracle"][j],
            old_marked=stats["old_marked"][j],
            old_marked_against=stats["old_marked_against"][j],
            old_coverage=stats["old_covered"][j] / reps,
            old_width_ratio=stats["old_width"][j] / reps / stats["oracle"][j],
            compare_ms=1e3 * seconds / reps))
    return rows


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=150, help="data sets per scenario")
    ap.add_argument("--resamples", type=int, default=999,
                    help="resamples of the construction before (0: do not run it)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    jobs = [(s, args.reps, args.resamples) for s in range(len(SCENARIOS))]
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for rs in pool.map(run_scenario, jobs):
            rows += rs
            if args.out:
                pd.DataFrame(rows).to_csv(args.out, index=False)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 220)
    print(f"# {len(jobs)} scenarios x {args.reps} data sets x 3 comparisons per k, "
          f"{time.perf_counter() - t0:.0f} s")
    print(df.round(3).to_string(index=False))
    before = (f"; before {int(df.old_marked_against.sum())} of {int(df.old_marked.sum())}"
              if df.old_marked.notna().all() else "")
    print(f"\nrows marked against their interval: now {int(df.marked_against.sum())} of "
          f"{int(df.marked.sum())} marked{before}")
    return df


if __name__ == "__main__":
    main()
