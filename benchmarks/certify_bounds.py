"""certify(): coverage and tightness of the upper bounds, side by side, and plan() checks.

Part 1, bounds. For each scenario (a law of per-prompt leak probabilities, P prompts, n samples
per prompt) the P probabilities are drawn once and kept (the fixed-prompt estimand; the truth
is mean_i 1 - (1 - p_i)^k); each replication redraws the generations and computes every bound:

  auto        certify()'s default: min of the pooled and U-statistic routes at alpha/2 each
  pooled      Clopper-Pearson on the pooled count + Jensen (at alpha)
  u-stat      U-statistic convex order + Chernoff-KL (at alpha)
  union       per-prompt Clopper-Pearson at alpha / P, mapped to leak@k, averaged
  scholten    per-prompt Clopper-Pearson at alpha (Scholten et al. 2025's binary leakage
              bound), mapped to leak@k, averaged: not a guarantee for the mean

Coverage is the share of replications with bound >= truth (MC SE <= 0.005 at R = 2000); width
is the mean bound (the interval is [0, bound]); the ratios are mean width of a baseline over
mean width of auto (> 1: auto is tighter).

Part 2, plans. plan("certify") and plan("estimate") sizes, checked by simulating certify() and
leak_at_k() at the planned sizes.

Run:  nice -n 10 python benchmarks/certify_bounds.py [--reps 2000] [--plan-reps 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import leakstats  # noqa: E402
from leakstats.certify import per_prompt_bound, pooled_bound, upper_bounds, ustat_bound  # noqa: E402
from leakstats.estimate.intervals import arm_intervals  # noqa: E402

LEVEL = 0.95
ALPHA = 1 - LEVEL
METHODS = ("auto", "pooled", "u-stat", "union", "scholten")


def law(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    if name == "zero leaks":
        return np.zeros(size)
    if name == "homogeneous rare":
        return np.full(size, 1e-3)
    if name == "zero-inflated":  # 90% never leak, the rest Beta(0.5, 50)
        return np.where(rng.random(size) < 0.9, 0.0, rng.beta(0.5, 50.0, size))
    if name == "concentrated":  # 5% of prompts leak half the time, the rest never
        p = np.zeros(size)
        p[: max(1, size // 20)] = 0.5
        return p
    if name == "heterogeneous":
        return rng.beta(0.3, 8.0, size)
    raise ValueError(name)


LAWS = ("zero leaks", "homogeneous rare", "zero-inflated", "concentrated", "heterogeneous")
SIZES = ((10, 20), (10, 200), (100, 200), (400, 200), (400, 50))
KS = (1, 8, 32, 128, 1000)


def bounds(n, c, ks):
    inside = ks[ks <= n.min()]
    out = {"auto": upper_bounds(n, c, ks, confidence_level=LEVEL)[0],
           "pooled": pooled_bound(n, c, ks, ALPHA),
           "union": per_prompt_bound(n, c, ks, ALPHA, union=True),
           "scholten": per_prompt_bound(n, c, ks, ALPHA, union=False)}
    u = np.full(ks.size, np.nan)
    u[: inside.size] = ustat_bound(n, c, inside, ALPHA)
    out["u-stat"] = u
    return out


def part_bounds(reps: int) -> None:
    print(f"## Bounds: coverage (share of {reps} replications with bound >= truth) and mean "
          "bound\n")
    print("| law | P | n | k | truth | " + " | ".join(f"{m} cov" for m in METHODS)
          + " | auto bound | union / auto | scholten / auto | pooled / auto |")
    print("|---|---:|---:|---:|---:|" + "---:|" * (len(METHODS) + 4))
    worst = {m: 1.0 for m in METHODS}
    ratios = {"union": [], "scholten": []}
    for li, name in enumerate(LAWS):
        for si, (P, n) in enumerate(SIZES):
            rng = np.random.default_rng([li, si])
            p = law(name, P, rng)
            ks = np.array([k for k in KS if k <= n or k == 1000])
            truth = (-np.expm1(np.multiply.outer(np.log1p(-p), ks))).mean(axis=0)
            acc = {m: np.zeros((reps, ks.size)) for m in METHODS}
            nn = np.full(P, n)
            for r in range(reps):
                c = rng.binomial(n, p)
                for m, v in bounds(nn, c, ks).items():
                    acc[m][r] = v
            for j, k in enumerate(ks):
                cov = {m: np.mean(acc[m][:, j] >= truth[j] - 1e-15) for m in METHODS}
                mean = {m: np.mean(acc[m][:, j]) for m in METHODS}
                for m in METHODS:
                    if np.isfinite(mean[m]) and m != "scholten":
                        worst[m] = min(worst[m], cov[m])
                if mean["auto"] < 1:  # cells where every bound is 1 are ties, left out
                    for b in ratios:
                        ratios[b].append(mean[b] / mean["auto"])
                cells = [f"{cov[m]:.3f}" if np.isfinite(mean[m]) else "-" for m in METHODS]
                print(f"| {name} | {P} | {n} | {k} | {truth[j]:.3g} | " + " | ".join(cells)
                      + f" | {mean['auto']:.3g} | {mean['union'] / mean['auto']:.2f} | "
                      f"{mean['scholten'] / mean['auto']:.2f} | "
                      f"{mean['pooled'] / mean['auto']:.2f} |")
    print("\nLowest coverage over the grid: " + ", ".join(
        f"{m} {v:.4f}" for m, v in worst.items() if m != "scholten"))
    for b, v in ratios.items():
        v = np.array(v)
        print(f"{b} / auto mean-bound ratio over the {v.size} cells where auto's mean bound is "
              f"below 1: min {v.min():.4f}, median {np.median(v):.2f}, max {v.max():.2f}")


def part_plans(reps: int) -> None:
    print(f"\n## plan() checks ({reps} simulated studies at the planned sizes)\n")
    print("| goal | settings | planned P x n | target | planned | simulated |")
    print("|---|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(2025)
    for k, eps, p, P in ((128, 0.01, 0.0, 400), (128, 0.05, 2e-4, 400), (8, 0.01, 5e-4, 400),
                         (1, 0.002, 1e-3, 100), (32, 0.1, 1e-3, 40)):
        row = leakstats.plan("certify", k=k, n_prompts=P, epsilon=eps, p=p).to_frame().iloc[0]
        n = int(row["n_samples"])
        ok = 0
        for _ in range(reps):
            c = rng.binomial(n, p, size=P)
            b, _ = upper_bounds(np.full(P, n), c, np.array([k]), confidence_level=LEVEL)
            ok += b[0] <= eps
        print(f"| certify | k={k}, eps={eps}, p={p:g} | {P} x {n} | power 0.8 | "
              f"{row['achieved']:.3f} | {ok / reps:.3f} |")
    for k, hw, leak, P in ((1, 0.01, 0.05, 400), (8, 0.02, 0.3, 400), (32, 0.03, 0.5, 100)):
        row = leakstats.plan("estimate", k=k, n_prompts=P, half_width=hw,
                             leak=leak).to_frame().iloc[0]
        n = int(row["n_samples"])
        p = -np.expm1(np.log1p(-leak) / k)
        widths = []
        for _ in range(reps):
            c = rng.binomial(n, p, size=P)
            est = arm_intervals(np.full(P, n), c, np.array([k]), confidence_level=LEVEL)
            widths.append((est.ci_high[0] - est.ci_low[0]) / 2)
        widths = np.array(widths)
        print(f"| estimate | k={k}, leak@k={leak} | {P} x {n} | half-width {hw} | "
              f"{row['achieved']:.4f} | mean {widths.mean():.4f}, "
              f"<= target in {np.mean(widths <= hw + 1e-12):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--plan-reps", type=int, default=1000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    part_bounds(args.reps)
    part_plans(args.plan_reps)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
