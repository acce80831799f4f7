"""Calibration of the Bayesian layer: simulation-based calibration and interval coverage.

1. SBC (Talts et al. 2018): draw (mu, kappa, pi0) from the priors, prompts and counts from the
   model, fit, and record the rank of each true parameter among L = 99 thinned posterior
   draws. If the sampler and the code are right, ranks are uniform on 0..99; tested with a
   chi-square test on 10 bins per parameter.
2. Coverage of the 95% credible interval of benchmark (fixed-prompt) leak@k at k = 1, n and
   k = 10 n (extrapolation), over the same prior draws, and over a grid of fixed truths that
   includes rare leaks and zero-inflated laws.

Run:  python benchmarks/sbc.py [--reps 200] [--grid-reps 100] [--out docs/sbc.csv] [--seed S]
      python benchmarks/sbc.py --report a.csv [b.csv ...]   (pooled report of earlier runs)
Independent processes with different --seed values can run side by side and be pooled.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import leakstats  # noqa: E402
from leakstats.bayes.model import Priors  # noqa: E402

L = 99  # thinned draws per fit: ranks in 0..L


def simulate(mu, kappa, pi0, P, n, rng):
    p = rng.beta(mu * kappa, (1 - mu) * kappa, size=P)
    p[rng.random(P) < pi0] = 0.0
    c = rng.binomial(n, p)
    return p, pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n, "n_leaked": c})


SAMPLER = "pymc"


PRIORS = Priors()


def fit_once(counts, seed, draws, tune):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leakstats.fit_bayes(counts, draws=draws, tune=tune, chains=2, rng=seed,
                                   nuts_sampler=SAMPLER, priors=PRIORS)


def one_rep(mu, kappa, pi0, P, n, ks, rng, seed, draws, tune):
    p, counts = simulate(mu, kappa, pi0, P, n, rng)
    fit = fit_once(counts, seed, draws, tune)
    post = fit.idata_.posterior
    out = {}
    total = post["mu"].size
    thin = np.linspace(0, total - 1, L).astype(int)
    for name, true in (("mu", mu), ("kappa", kappa), ("pi0", pi0)):
        draws_ = post[name].to_numpy().reshape(-1)[thin]
        out[f"rank_{name}"] = int((draws_ < true).sum())
    truth = (-np.expm1(np.multiply.outer(np.log1p(-p), ks))).mean(axis=0)
    frame = fit.to_frame(k=ks)
    for j, k in enumerate(ks):
        lo, hi = frame["ci_low"].iloc[j], frame["ci_high"].iloc[j]
        out[f"cover_k{k}"] = bool(lo <= truth[j] <= hi)
    d = fit.diagnostics()
    out["max_rhat"] = float(d["r_hat"].max())
    out["divergences"] = int(d["divergences"].max())
    return out


def main(argv=None) -> None:
    if argv is None and len(sys.argv) >= 3 and sys.argv[1] == "--report":
        df = pd.concat([pd.read_csv(f) for f in sys.argv[2:]], ignore_index=True)
        n = 50
        report(df, np.array([1, n, 10 * n]), 100, n, 500, float("nan"))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--grid-reps", type=int, default=100)
    ap.add_argument("--P", type=int, default=100)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sampler", default="pymc", help="nuts_sampler for the fits")
    ap.add_argument("--seed", type=int, default=20261128,
                    help="seed of the study (use distinct seeds for runs to be pooled)")
    ap.add_argument("--cells", default="",
                    help="run only the grid cells whose name contains one of these "
                    "comma-separated words (e.g. rare)")
    ap.add_argument("--log-kappa", default=None, metavar="MEAN,SD",
                    help="prior of log(kappa) for the fits and the SBC draws (default: "
                    "Priors().log_kappa)")
    args = ap.parse_args(argv)
    global SAMPLER, PRIORS
    SAMPLER = args.sampler
    if args.log_kappa:
        PRIORS = Priors(log_kappa=tuple(float(v) for v in args.log_kappa.split(",")))
    pr = PRIORS
    rng = np.random.default_rng(args.seed)
    P, n = args.P, args.n
    ks = np.array([1, n, 10 * n])
    grid = [("rare: mu=1e-3, kappa=50, pi0=0", 1e-3, 50.0, 0.0),
            ("zero-inflated: mu=0.02, kappa=2, pi0=0.7", 0.02, 2.0, 0.7),
            ("heterogeneous: mu=0.05, kappa=0.5, pi0=0.3", 0.05, 0.5, 0.3),
            ("frequent: mu=0.3, kappa=5, pi0=0.1", 0.3, 5.0, 0.1)]
    if args.cells:
        words = [w.strip() for w in args.cells.split(",") if w.strip()]
        grid = [g for g in grid if any(w in g[0] for w in words)]
    # interleave the prior draws and the grid, writing every fit as it ends, so that a partial
    # run is a smaller but unbiased study
    plan = []
    for r in range(max(args.reps, args.grid_reps)):
        if r < args.reps:
            plan.append(("sbc", None))
        if r < args.grid_reps:
            plan.extend(grid)
    rows = []
    t0 = time.perf_counter()
    for i, item in enumerate(plan):
        if item[0] == "sbc":
            mu = float(1 / (1 + np.exp(-rng.normal(*pr.logit_mu))))
            kappa = float(np.exp(rng.normal(*pr.log_kappa)))
            pi0 = float(rng.beta(*pr.pi0))
            name = "sbc"
        else:
            name, mu, kappa, pi0 = item
        fit_seed = i if args.seed == 20261128 else [args.seed, i]
        row = one_rep(mu, kappa, pi0, P, n, ks, rng, fit_seed, args.draws, args.draws)
        rows.append({"study": name, "mu": mu, "kappa": kappa, "pi0": pi0, **row,
                     "prior_log_kappa": "{},{}".format(*pr.log_kappa)})
        if args.out:
            pd.DataFrame(rows).to_csv(args.out, index=False)
    report(pd.DataFrame(rows), ks, P, n, args.draws, time.perf_counter() - t0)


def report(df, ks, P, n, draws, seconds) -> None:
    print(f"# {len(df)} fits (P = {P}, n = {n}, 2 chains x {draws} draws) in "
          f"{seconds:.0f} s")
    sbc = df[df.study == "sbc"]
    print("\n| parameter | chi-square (9 df) | p-value of rank uniformity |")
    print("|---|---:|---:|")
    for name in ("mu", "kappa", "pi0"):
        hist = np.histogram(sbc[f"rank_{name}"], bins=10, range=(0, L + 1))[0]
        chi2, pval = stats.chisquare(hist)
        print(f"| {name} | {chi2:.1f} | {pval:.3f} |")
    cover = df.groupby("study")[[f"cover_k{k}" for k in ks]].mean()
    cover.columns = [f"k = {k}" for k in ks]
    cover["fits"] = df.groupby("study").size()
    cover["max R-hat"] = df.groupby("study")["max_rhat"].max()
    divergent = df["divergences"] > 0
    cover["fits with divergences"] = divergent.groupby(df["study"]).sum()
    cover["fits with R-hat > 1.05"] = (df["max_rhat"] > 1.05).groupby(df["study"]).sum()
    print("\nCoverage of the 95% credible interval of fixed-prompt leak@k:\n")
    print(cover.reset_index().to_markdown(index=False, floatfmt=".3f"))
    good = df[df["max_rhat"] <= 1.05]
    cover = good.groupby("study")[[f"cover_k{k}" for k in ks]].mean()
    cover.columns = [f"k = {k}" for k in ks]
    cover["fits"] = good.groupby("study").size()
    print("\nThe same, fits with R-hat <= 1.05 only (a user would get a warning for the "
          "others):\n")
    print(cover.reset_index().to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
