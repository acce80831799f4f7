"""Coverage of the Bayesian layer's credible intervals from its exact posterior (quadrature).

The model has 3 hyper-parameters per arm, so its posterior can be computed on a grid (coarse,
then refined around the mass) with no sampler at all. This separates what the model and its
priors give at a fixed truth from Monte Carlo error of NUTS. A check against NUTS
(fit_bayes, 2 x 4,000 draws) matched the quantiles of log a, log b, pi0 and leak@k within
Monte Carlo error in all four grid cells (2026-11-29; docs/benchmarks.md).

Run:  python benchmarks/bayes_exact.py MU,KAPPA,PI0 P N REPS [zi|plain] [LOGKAPPA_MEAN,SD]
                                        [LOGITMU_MEAN,SD]     (default: leakstats.Priors())
      python benchmarks/bayes_exact.py --check   (quadrature against NUTS, one dataset per cell)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from leakstats.bayes import _math as bm  # noqa: E402
from leakstats.bayes.model import Priors  # noqa: E402


def logpost_grid(x, y, z, vals, w, n, pr, zi):
    X, Y = np.meshgrid(x, y, indexing="ij")
    M = 1 / (1 + np.exp(-X))
    K = np.exp(Y)
    A, B = M * K, (1 - M) * K
    lp = norm.logpdf(X, *pr["logit_mu"]) + norm.logpdf(Y, *pr["log_kappa"])
    ll = bm.log_bb_pmf(vals[None, None, :], n, A[..., None], B[..., None])
    if not zi:
        return (lp + (w * ll).sum(-1))[..., None]
    Z = z[None, None, :]
    nz = vals > 0
    rest = (w[nz] * ll[..., nz]).sum(-1)[..., None] + w[nz].sum() * np.log1p(-Z)
    zero = 0.0
    if (~nz).any():
        l0 = ll[..., ~nz][..., 0][..., None]
        zero = w[~nz][0] * np.logaddexp(np.log(Z), np.log1p(-Z) + l0)
    return lp[..., None] + rest + zero + beta_dist.logpdf(Z, *pr["pi0"])


def posterior_draws(vals, w, n, pr, zi, S, rng):
    """S draws of (a, b, pi0) from the grid posterior (uniform jitter within cells)."""
    # the coarse grid covers the priors' +-4.5 sd (and at least the range used before)
    (m1, s1), (m2, s2) = pr["logit_mu"], pr["log_kappa"]
    x = np.linspace(min(-16.0, m1 - 4.5 * s1), max(6.0, m1 + 4.5 * s1), 111)
    y = np.linspace(min(-8.0, m2 - 4.5 * s2), max(14.0, m2 + 4.5 * s2), 151)
    z = (np.arange(30) + 0.5) / 30 if zi else np.array([0.0])
    for _ in range(2):  # coarse, then a refined box around the mass
        lp = logpost_grid(x, y, z, vals, w, n, pr, zi)
        keep = np.exp(lp - lp.max()) > 1e-9
        ix = np.flatnonzero(keep.any((1, 2)))
        iy = np.flatnonzero(keep.any((0, 2)))
        iz = np.flatnonzero(keep.any((0, 1)))
        dx, dy = x[1] - x[0], y[1] - y[0]
        x = np.linspace(x[ix[0]] - dx, x[ix[-1]] + dx, 90)
        y = np.linspace(y[iy[0]] - dy, y[iy[-1]] + dy, 90)
        if zi:
            dz = z[1] - z[0]
            lo, hi = max(z[iz[0]] - dz, 1e-6), min(z[iz[-1]] + dz, 1 - 1e-6)
            z = lo + (np.arange(40) + 0.5) / 40 * (hi - lo)
    lp = logpost_grid(x, y, z, vals, w, n, pr, zi)
    wt = np.exp(lp - lp.max()).ravel()
    idx = rng.choice(wt.size, S, p=wt / wt.sum())
    i, j, m = np.unravel_index(idx, lp.shape)
    xs = x[i] + (rng.random(S) - 0.5) * (x[1] - x[0])
    ys = y[j] + (rng.random(S) - 0.5) * (y[1] - y[0])
    zs = z[m] + ((rng.random(S) - 0.5) * (z[1] - z[0]) if zi else 0.0)
    mu, kappa = 1 / (1 + np.exp(-xs)), np.exp(ys)
    return mu * kappa, (1 - mu) * kappa, np.clip(zs, 0.0, 1.0)


def main(argv) -> None:
    mu, kappa, pi0 = (float(v) for v in argv[0].split(","))
    P, n, R = int(argv[1]), int(argv[2]), int(argv[3])
    zi = (argv[4] if len(argv) > 4 else "zi") == "zi"
    default = Priors()
    lk = tuple(float(v) for v in argv[5].split(",")) if len(argv) > 5 else default.log_kappa
    lm = tuple(float(v) for v in argv[6].split(",")) if len(argv) > 6 else default.logit_mu
    pr = {"logit_mu": lm, "log_kappa": lk, "pi0": default.pi0}
    rng = np.random.default_rng(11)
    ks = np.array([1, n, 10 * n], float)
    cover, above, below, leaking = np.zeros(3), np.zeros(3), np.zeros(3), 0
    for _ in range(R):
        p = rng.beta(mu * kappa, (1 - mu) * kappa, size=P)
        p[rng.random(P) < pi0] = 0
        c = rng.binomial(n, p)
        leaking += (c > 0).sum()
        truth = (-np.expm1(np.multiply.outer(np.log1p(-p), ks))).mean(0)
        vals, w = np.unique(c, return_counts=True)
        a, b, z = posterior_draws(vals.astype(float), w.astype(float), n, pr, zi, 2000, rng)
        d = bm.fixed_prompt_draws(vals, np.full(vals.size, n), w, a, b, z, ks, rng)
        lo, hi = np.quantile(d, [0.025, 0.975], axis=0)
        cover += (lo <= truth) & (truth <= hi)
        above += truth > hi
        below += truth < lo
    fmt = " / ".join
    print(f"| mu={mu:g}, kappa={kappa:g}, pi0={pi0:g} | {P} | {n} | {leaking / R:.1f} | "
          f"{fmt(f'{v:.3f}' for v in cover / R)} | {fmt(f'{v:.3f}' for v in above / R)} | "
          f"{fmt(f'{v:.3f}' for v in below / R)} | {R} |", flush=True)


CELLS = [(1e-3, 50.0, 0.0), (0.02, 2.0, 0.7), (0.05, 0.5, 0.3), (0.3, 5.0, 0.1)]


def check() -> None:
    """NUTS (fit_bayes, 2 x 4,000 draws) beside the quadrature: quantiles, one dataset per cell."""
    import warnings

    import pandas as pd

    import leakstats

    default = Priors()
    pr = {"logit_mu": default.logit_mu, "log_kappa": default.log_kappa, "pi0": default.pi0}
    ks = np.array([1, 50, 500.0])
    for seed, (mu, kappa, pi0) in enumerate(CELLS, start=1):
        rng = np.random.default_rng(seed)
        P, n = 100, 50
        p = rng.beta(mu * kappa, (1 - mu) * kappa, size=P)
        p[rng.random(P) < pi0] = 0
        c = rng.binomial(n, p)
        counts = pd.DataFrame({"prompt_id": np.arange(P), "n_samples": n, "n_leaked": c})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = leakstats.fit_bayes(counts, draws=4000, tune=1000, chains=2, rng=1)
        post = fit.idata_.posterior
        vals, w = np.unique(c, return_counts=True)
        a, b, z = posterior_draws(vals.astype(float), w.astype(float), n, pr, True, 8000, rng)
        print(f"mu={mu:g}, kappa={kappa:g}, pi0={pi0:g}: {c.sum()} leaks")
        for name, nuts, quad in (("log a", np.log(post["a"].values), np.log(a)),
                                 ("log b", np.log(post["b"].values), np.log(b)),
                                 ("pi0", post["pi0"].values, z)):
            q = [0.05, 0.5, 0.95]
            print(f"  {name}: NUTS {np.round(np.quantile(nuts, q), 3)} "
                  f"quadrature {np.round(np.quantile(quad, q), 3)}")
        d_nuts = fit.leak_draws(ks, arm=0)
        d_quad = bm.fixed_prompt_draws(vals, np.full(vals.size, n), w, a, b, z, ks, rng)
        for j, k in enumerate(ks):
            q = [0.025, 0.5, 0.975]
            print(f"  leak@{int(k)}: NUTS {np.round(np.quantile(d_nuts[:, j], q), 4)} "
                  f"quadrature {np.round(np.quantile(d_quad[:, j], q), 4)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    else:
        main(sys.argv[1:])
