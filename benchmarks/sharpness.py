"""Sharpness study: coverage and width of every leak@k interval against an oracle width.

For each scenario (a law of per-prompt leak probabilities, P prompts, n samples per prompt),
each k and each interval method, R replications give the coverage and the mean width, side by
side with the oracle width 2 z sd, where sd is

* fixed prompts: the *exact* standard deviation of the unbiased estimate given the scenario's
  P leak probabilities (drawn once per scenario, seeded), by summing each prompt's estimator
  over its binomial law (an implementation independent of leakstats' variance code);
* superpopulation: the standard deviation of the estimate across the R simulated benchmarks
  (prompts redrawn every replication; the truth is the law's leak@k in closed form).

``ratio`` = mean width / oracle width; ``samples_x`` = ratio^2 is the factor by which a method
needs more samples than the oracle for the same half-width (half-widths scale as one over the
square root of the samples). ``leaks`` is the expected number of leaked samples in the arm.

Run:  python benchmarks/sharpness.py [--reps 1000] [--out benchmarks/results/sharpness.csv]
      python benchmarks/sharpness.py --report benchmarks/results/sharpness.csv
The Monte Carlo standard error of a coverage near 0.95 with R = 1000 is 0.0069.
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
from scipy.stats import binom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from interval_coverage import Law  # noqa: E402

import leakstats.estimate.fixed_variance  # noqa: E402, F401
import leakstats.laws.models  # noqa: E402, F401  (imported before the workers fork)
from leakstats.estimate.intervals import arm_intervals  # noqa: E402
from leakstats.estimate.kernels import leak_at_k_unbiased  # noqa: E402

LEVEL = 0.95
METHODS = {
    "prompts": ("cp-eb", "cp-effective", "wald", "bootstrap"),
    "superpopulation": ("cp-effective", "wald", "bootstrap"),
}
#: The default interval of each estimand (the bars are checked on these).
DEFAULT = {
    "prompts": "cp-eb",
    "superpopulation": "cp-effective",
}

LAWS = (
    Law("paper: Beta(0.2,6)", ((1.0, "beta", 0.2, 6.0),)),
    Law("paper ZI: 0.5 + Beta(0.25,8)", ((0.5, "point", 0.0), (0.5, "beta", 0.25, 8.0))),
    Law("rare p=1e-3", ((1.0, "point", 1e-3),)),
    Law("very rare p=1e-4", ((1.0, "point", 1e-4),)),
    Law("mostly zero: 5% at p=0.5", ((0.95, "point", 0.0), (0.05, "point", 0.5))),
    Law("zero-infl. 0.7 + Beta(0.3,30)", ((0.7, "point", 0.0), (0.3, "beta", 0.3, 30.0))),
    Law("mixture 0.7 Beta(0.5,50) + 0.3 Beta(3,2)",
        ((0.7, "beta", 0.5, 50.0), (0.3, "beta", 3.0, 2.0))),
    Law("heavy Beta(0.1,10)", ((1.0, "beta", 0.1, 10.0),)),
    Law("zero-infl. 0.8 + logitN(-6,1.5)", ((0.8, "point", 0.0), (0.2, "logitnorm", -6.0, 1.5))),
    Law("moderate Beta(1,4)", ((1.0, "beta", 1.0, 4.0),)),
)
DESIGNS = ((20, 8), (100, 50), (400, 200), (100, 1000))


def ks_for(n: int) -> np.ndarray:
    return np.array(sorted({k for k in (1, 8, 32, 128, n) if k <= n}))


def exact_sd(p: np.ndarray, n: int, ks: np.ndarray) -> np.ndarray:
    """sd of the benchmark estimate given the prompts' p, by summing over each binomial."""
    c = np.arange(n + 1)
    table = leak_at_k_unbiased(n, c[:, None], ks[None, :])  # (n + 1, K)
    pmf = binom.pmf(c[None, :], n, p[:, None])  # (P, n + 1)
    mean = pmf @ table
    second = pmf @ table**2
    return np.sqrt(np.maximum(second - mean**2, 0.0).sum(axis=0)) / p.size


def run_scenario(args) -> list[dict]:
    law, P, n, reps, seed, n_boot, populations, chosen = args
    rng = np.random.default_rng(seed)
    ks = ks_for(n)
    nsamp = np.full(P, n)
    p_fixed = law.draw(P, rng)
    z = ndtri(0.5 + LEVEL / 2)
    truth = {
        "prompts": (-np.expm1(ks[None, :] * np.log1p(-p_fixed[:, None]))).mean(axis=0),
        "superpopulation": law.leak_at_k(ks),
    }
    leaks = {"prompts": n * p_fixed.sum(), "superpopulation": n * P * law_mean(law)}
    rows = []
    for pop in populations:
        methods = [m for m in METHODS[pop] if not chosen or m in chosen]
        hits = {m: np.zeros(ks.size) for m in methods}
        width = {m: np.zeros(ks.size) for m in methods}
        seconds = dict.fromkeys(methods, 0.0)
        estimates = np.empty((reps, ks.size))
        for r in range(reps):
            p = p_fixed if pop == "prompts" else law.draw(P, rng)
            c = rng.binomial(nsamp, p)
            for m in methods:
                t0 = time.perf_counter()
                est = arm_intervals(nsamp, c, ks, population=pop, ci_method=m, n_resamples=n_boot,
                                    rng=rng, confidence_level=LEVEL)
                seconds[m] += time.perf_counter() - t0
                t = truth[pop]
                hits[m] += (est.ci_low <= t) & (t <= est.ci_high)
                width[m] += est.ci_high - est.ci_low
            estimates[r] = est.estimate
        sd = exact_sd(p_fixed, n, ks) if pop == "prompts" else estimates.std(axis=0, ddof=1)
        for m in methods:
            for j, k in enumerate(ks):
                oracle = 2 * z * sd[j]
                w = width[m][j] / reps
                rows.append(dict(law=law.name, P=P, n=n, k=int(k), population=pop, method=m,
                                 truth=truth[pop][j], leaks=leaks[pop],
                                 coverage=hits[m][j] / reps, mean_width=w, oracle_width=oracle,
                                 ratio=w / oracle if oracle > 0 else np.nan,
                                 ms=1e3 * seconds[m] / reps, reps=reps))
    return rows


def law_mean(law: Law) -> float:
    """Mean of p under the law (by a large draw: exact enough for a leak count)."""
    return float(law.draw(200_000, np.random.default_rng(0)).mean())


def bars(df: pd.DataFrame, min_leaks: float = 30.0) -> None:
    """The issue's bars, checked on each estimand's default interval."""
    from scipy.stats import binom as binomial

    print("\n## Bars, default interval of each estimand")
    for pop, sub in df.groupby("population", sort=False):
        d = sub[sub.method == DEFAULT[pop]]
        reps = int(d.reps.iloc[0])
        rich = d[d.leaks >= min_leaks]
        # cells below 0.94 expected by chance alone if every cell covered exactly 0.95
        chance = binomial.cdf(np.ceil(0.94 * reps) - 1, reps, 0.95) * len(d)
        print(f"{pop} ({DEFAULT[pop]}): {len(d)} cells, coverage min {d.coverage.min():.3f}, "
              f"{int((d.coverage < 0.94).sum())} below 0.94 ({chance:.1f} expected by chance "
              f"at exactly 0.95 and {reps} reps); cells with >= {min_leaks:g} expected leaks: "
              f"{len(rich)}, width / oracle median {rich.ratio.median():.3f}, "
              f"max {rich.ratio.max():.3f}")
        low = d[d.coverage < 0.94][["law", "P", "n", "k", "coverage", "ratio", "leaks"]]
        if len(low):
            print(low.round(3).to_string(index=False))
        if pop == "prompts" and "cp-effective" in set(sub.method):
            old = sub[sub.method == "cp-effective"].set_index(["law", "P", "n", "k"])
            new = d.set_index(["law", "P", "n", "k"])
            wider = (new.mean_width > old.mean_width * (1 + 1e-9)).sum()
            print(f"cells where {DEFAULT[pop]} is wider than cp-effective: {int(wider)} of "
                  f"{len(new)}")


def report(df: pd.DataFrame, min_leaks: float = 30.0) -> None:
    df = df.assign(samples_x=df.ratio**2)
    pd.set_option("display.width", 200)
    for pop, sub in df.groupby("population", sort=False):
        print(f"\n## {pop}: per method, over every cell (coverage) and cells with "
              f">= {min_leaks:g} expected leaks (width)")
        rich = sub[sub.leaks >= min_leaks]
        summary = pd.DataFrame({
            "cov_min": sub.groupby("method")["coverage"].min(),
            "cells_below_0.94": sub.groupby("method")["coverage"].apply(lambda s: (s < 0.94).sum()),
            "cells": sub.groupby("method").size(),
            "ratio_median": rich.groupby("method")["ratio"].median(),
            "ratio_max": rich.groupby("method")["ratio"].max(),
            "ms_mean": sub.groupby("method")["ms"].mean(),
        })
        print(summary.round(3).to_string())
        wide = sub.pivot_table(index=["law", "P", "n", "k"], columns="method",
                               values=["coverage", "ratio"], sort=False)
        print(wide.round(3).to_string())
        k128 = sub[sub.k == 128].pivot_table(index=["law", "P", "n"], columns="method",
                                              values="samples_x", sort=False)
        if len(k128):
            print(f"\n### {pop}: samples needed at leak@128, relative to the oracle (ratio^2)")
            print(k128.round(2).to_string())
    bars(df, min_leaks)


def markdown(df: pd.DataFrame, min_leaks: float = 30.0) -> None:
    """The tables of docs/benchmarks.md: a summary per method, then cell by cell."""
    for pop, sub in df.groupby("population", sort=False):
        rich = sub[sub.leaks >= min_leaks]
        g = sub.groupby("method", sort=False)
        summary = pd.DataFrame({
            "coverage min": g["coverage"].min(),
            "cells < 0.94": g["coverage"].apply(lambda s: int((s < 0.94).sum())),
            "cells": g.size(),
            f"width / oracle, median (>= {min_leaks:g} leaks)": rich.groupby("method")["ratio"]
            .median(),
            "max": rich.groupby("method")["ratio"].max(),
            "samples x at leak@128 (median)": rich[rich.k == 128].groupby("method")["ratio"]
            .apply(lambda s: (s**2).median()),
        })
        print(f"\n#### {pop}\n")
        print(summary.round(3).to_markdown())
        methods = [DEFAULT[pop]] + [m for m in METHODS[pop] if m != DEFAULT[pop]]
        wide = sub.pivot_table(index=["law", "P", "n", "k"], columns="method",
                               values=["coverage", "ratio"], sort=False)
        cells = pd.DataFrame(index=wide.index)
        cells["leaks"] = sub.groupby(["law", "P", "n", "k"], sort=False)["leaks"].first()
        for m in methods:
            cells[f"{m} cov"] = wide[("coverage", m)]
            cells[f"{m} width/oracle"] = wide[("ratio", m)]
        print()
        print(cells.reset_index().to_markdown(index=False, floatfmt=".3g"))


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--populations", default="prompts,superpopulation")
    ap.add_argument("--methods", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--laws", default="", help="comma-separated law indices (default: all)")
    ap.add_argument("--designs", default="", help="e.g. 20x8,400x200 (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="write the full table as CSV")
    ap.add_argument("--report", type=Path, nargs="*", default=None,
                    help="only print the report of earlier CSV outputs")
    ap.add_argument("--markdown", action="store_true",
                    help="with --report: the Markdown tables of docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.report:
        df = pd.concat([pd.read_csv(f) for f in args.report], ignore_index=True)
        markdown(df) if args.markdown else report(df)
        return df
    laws = [LAWS[int(i)] for i in args.laws.split(",")] if args.laws else list(LAWS)
    designs = ([tuple(int(v) for v in d.split("x")) for d in args.designs.split(",")]
               if args.designs else list(DESIGNS))
    populations = tuple(args.populations.split(","))
    chosen = tuple(args.methods.split(",")) if args.methods else ()
    jobs = [(law, P, n, args.reps, 1000 * i + 17 * j + 5, args.n_boot, populations, chosen)
            for i, law in enumerate(LAWS) if law in laws
            for j, (P, n) in enumerate(designs)]
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for rs in pool.map(run_scenario, jobs):
            rows += rs
            if args.out:  # written as cells finish, so a long run leaves its results
                pd.DataFrame(rows).to_csv(args.out, index=False)
    df = pd.DataFrame(rows)
    print(f"# {len(jobs)} scenarios x {args.reps} replications in "
          f"{time.perf_counter() - t0:.0f} s")
    report(df)
    return df


if __name__ == "__main__":
    main()
