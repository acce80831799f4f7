"""The variance behind the ``cp-eb`` interval and the degrees of freedom of its estimate.

:func:`sharp_variance` is the empirical-Bayes variance of the benchmark estimate
(:func:`leakstats.estimate.fixed_variance.pair_variances` under a fitted zero-inflated beta
prior), scaled up wherever a model-free estimate is larger:

* 2k <= n: the unbiased estimate at k;
* 2k > n: the unbiased estimate at k' = n // 2 (scaled by the EB ratio from k' to k), and the
  delete-one jackknife at min(k, n - 1) divided by the jackknife's excess over the unbiased
  estimate at k' (the jackknife is conservative, Efron & Stein 1981; its excess grows with k,
  so the corrected value still errs high).

It works on S data sets at once, given as multiplicities (S, D) of shared distinct (n, c)
pairs, each with its own prior, so that :func:`bootstrap_df` can refit and recompute it for
every parametric-bootstrap replicate in one batched fit.

Degrees of freedom: Satterthwaite's (sum_i v_i)^2 / sum_i v_i^2 treats each prompt's term as
a one-degree-of-freedom chi-square; the empirical-Bayes terms are smoothed by the prior and
far steadier than that, or, when few prompts leak, less steady (the prior refit moves them
together). :func:`bootstrap_df` measures the spread instead: it draws each prompt's p once
from its posterior, redraws the counts B times, refits the prior and recomputes the
variance, and matches the moments of a scaled chi-square, df = 2 mean^2 / var.
"""

from __future__ import annotations

import numpy as np

from leakstats.estimate.fixed_variance import (
    _zero_share,
    fit_priors,
    jackknife_variance,
    pair_variances,
    prior_theta,
)
from leakstats.estimate.kernels import distinct_pairs, fixed_variance_unbiased

#: Parametric-bootstrap replicates behind :func:`bootstrap_df`.
BOOTSTRAP_REPLICATES = 40
#: The bootstrap's fixed seed: the same counts always give the same interval.
BOOTSTRAP_SEED = 20261202
#: Fewer finite replicates than this (most replicates leaked nothing): no bootstrap df.
_MIN_REPLICATES = 10


def sharp_variance(dn, dc, weights, priors, ks, n_min: int, n_prompts: int):
    """(var, df): the sharp variance of the benchmark estimate and its Satterthwaite df, each
    (S, K), for S data sets given as multiplicities ``weights`` (S, D) of the distinct pairs
    (dn, dc), with priors (S, 3) of (pi0, a, b) rows (NaN: no fit; the unbiased estimate is
    used alone).
    """
    dn = np.asarray(dn, dtype=np.int64)
    dc = np.asarray(dc, dtype=np.int64)
    W = np.atleast_2d(np.asarray(weights, dtype=float))
    ks = np.asarray(ks, dtype=np.int64)
    K, P2 = ks.size, float(n_prompts) ** 2
    k_check = max(n_min // 2, 1)  # largest k with an unbiased variance (n >= 2)
    k_jack = np.minimum(ks, max(n_min - 1, 1))
    ks_all = np.concatenate([ks, [k_check], k_jack])  # columns: K, 1, K
    ks_unique, back = np.unique(ks_all, return_inverse=True)
    S = W.shape[0]
    var_eb = np.empty((S, ks_all.size))
    df = np.empty((S, K))
    for s, prior in enumerate(np.atleast_2d(priors)):
        here = np.flatnonzero(W[s] > 0)  # the pairs of data set s
        pe = pair_variances(dn[here], dc[here], ks_unique, prior)[:, back]
        w = W[s, here]
        var_eb[s] = w @ pe / P2
        with np.errstate(divide="ignore", invalid="ignore"):
            # each k's inflation below is one factor: it cancels from df
            df[s] = (w @ pe[:, :K]) ** 2 / (w @ pe[:, :K] ** 2)
    unb_ok = 2 * ks_all[: K + 1] <= n_min
    pair_u = np.full((dn.size, K + 1), np.nan)
    if unb_ok.any():
        pair_u[:, unb_ok] = fixed_variance_unbiased(dn[:, None], dc[:, None],
                                                    ks_all[None, : K + 1][:, unb_ok])
    var_u = W @ pair_u / P2  # (S, K + 1)
    use_u = unb_ok[:K]
    with np.errstate(divide="ignore", invalid="ignore"):
        # 2k <= n: the unbiased estimate at k; else at k' (column K)
        check = np.where(use_u, np.arange(K), K)
        inflate = np.fmax(1.0, var_u[:, check] / var_eb[:, check])
        if n_min >= 2:
            jack = W @ jackknife_variance(dn, dc, np.append(k_jack, k_check)) / P2
            excess = np.fmax(1.0, jack[:, K] / var_u[:, K])
            excess = np.where(np.isfinite(excess), excess, 1.0)
            ratio = jack[:, :K] / var_eb[:, K + 1:] / excess[:, None]
            inflate = np.where(use_u, inflate, np.fmax(inflate, ratio))
    inflate = np.where(np.isfinite(inflate), inflate, 1.0)
    var = var_eb[:, :K] * inflate
    var = np.where(np.isnan(var), var_u[:, :K], var)
    return var, df


def bootstrap_df(n, c, ks, prior, *, replicates: int = BOOTSTRAP_REPLICATES,
                 seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Degrees of freedom of :func:`sharp_variance` for one arm's counts, per k, measured by
    a parametric bootstrap (module docstring); NaN where it cannot be measured.

    ``prior`` is the arm's fitted (pi0, a, b); each prompt's p is drawn once from its
    posterior (zero with the posterior probability of p = 0 when c = 0) and held fixed over
    the replicates, as the prompts are under the fixed-prompt estimand.
    """
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    ks = np.asarray(ks, dtype=np.int64)
    out = np.full(ks.size, np.nan)
    if np.isnan(prior).any():
        return out
    rng = np.random.default_rng(seed)
    pi0, a, b = (float(v) for v in prior)
    p = rng.beta(a + c, b + n - c)
    never = (c == 0) & (rng.random(n.size) < _zero_share(n, pi0, a, b))
    p = np.where(never, 0.0, p)
    counts = rng.binomial(n[None, :], p[None, :], size=(replicates, n.size))
    dn, dc, inverse = distinct_pairs(np.tile(n, replicates), counts.ravel())
    W = np.zeros((replicates, dn.size))
    np.add.at(W, (np.repeat(np.arange(replicates), n.size), inverse), 1.0)
    priors = fit_priors(dn, dc, W, warm=prior_theta(prior))
    var, _ = sharp_variance(dn, dc, W, priors, ks, int(n.min()), n.size)
    finite = np.isfinite(var) & (var > 0)
    enough = finite.sum(axis=0) >= _MIN_REPLICATES
    if enough.any():
        v = np.where(finite, var, np.nan)[:, enough]
        mean = np.nanmean(v, axis=0)
        spread = np.nanvar(v, axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[enough] = np.where(spread > 0, 2 * mean**2 / spread, np.inf)
    return out
