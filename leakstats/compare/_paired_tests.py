"""Paired tests of two methods on shared prompts, on plain arrays (used by leakstats.compare).

Every function takes per-prompt counts aligned by prompt (row i of method A and row i of
method B are the same prompt) and returns numbers for each k. Validation happens upstream.

* :func:`paired_bootstrap`: resample prompts with replacement, the same prompts for both
  methods; the bootstrap standard error of the mean difference of the unbiased leak@k
  estimates with Student t quantiles (P - 1 df) gives the interval and the p-value.
* :func:`permutation_test`: under H0 (the two methods have the same leak probability on every
  prompt) the n_A + n_B samples of a prompt are exchangeable, so given the pooled count m_i the
  count of method A is hypergeometric, independently across prompts. Statistic: |mean
  difference of the unbiased leak@k estimates|, ties broken by a stratified score; Monte Carlo
  over independent hypergeometric draws, p = (1 + #{draws at least as extreme}) / (B + 1), a
  valid p-value for any B.
* :func:`gee_fit`, :func:`gee_score_test`: a GEE for leak@1: per-prompt proportions c/n as the
  response, one indicator per method, logit link, exchangeable working correlation within
  prompts and the robust (sandwich) covariance clustered by prompt. The model is saturated in
  the methods, so the fitted means are the unbiased leak@1 estimates; closed forms, equal to
  statsmodels' GEE to round-off (the ``*_statsmodels`` references, checked in the tests).
  p-values: the robust score test; intervals: delta-method Wald.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from leakstats.estimate.kernels import distinct_pairs, leak_at_k_unbiased

#: Relative tolerance under which two values of the permutation statistic count as tied.
_TIE_RTOL = 1e-9


def per_prompt_leak(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Unbiased leak@k per prompt, shape (P, K), evaluated once per distinct (n, c) pair."""
    dn, dc, inverse = distinct_pairs(n, c)
    table = leak_at_k_unbiased(dn[:, None], dc[:, None], np.asarray(ks)[None, :])
    return table[inverse]


# --------------------------------------------------------------------------- paired bootstrap


def bootstrap_weights(n_prompts: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Prompt-resampling weights, shape (B, P): how often each prompt is drawn, divided by P."""
    draws = rng.integers(0, n_prompts, size=(n_resamples, n_prompts))
    flat = (np.arange(n_resamples)[:, None] * n_prompts + draws).reshape(-1)
    counts = np.bincount(flat, minlength=n_resamples * n_prompts)
    return counts.reshape(n_resamples, n_prompts) / n_prompts


def paired_bootstrap(
    diff: np.ndarray, weights: np.ndarray, confidence_level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paired bootstrap over prompts for the mean of ``diff`` (P, K).

    ``weights`` (B, P) are shared by all pairs of methods of one configuration, so that the
    resampled prompts are the same for every comparison. The bootstrap standard error (times
    sqrt(P / (P - 1)): the bootstrap variance is the plug-in one) is used with Student t
    quantiles on P - 1 degrees of freedom for both the interval and the two-sided p-value, so
    the interval excludes 0 exactly when p < 1 - confidence_level. (Percentile p-values ran at
    0.057-0.077 and the bootstrap-t at 0.02-0.03 in the null simulations with rare leaks or
    few prompts; this construction held 0.05: docs/benchmarks.md.)

    Returns (se, ci_low, ci_high, p_value), one entry per k.
    """
    P = diff.shape[0]
    mean = diff.mean(axis=0)
    boot = weights @ diff  # (B, K)
    se = boot.std(axis=0, ddof=1) * np.sqrt(P / max(P - 1, 1))
    df = max(P - 1, 1)
    q = stdtrit(df, 0.5 + confidence_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, np.abs(mean) / se, np.where(mean == 0, 0.0, np.inf))
    p = np.where(np.isinf(t), 0.0, 2 * stdtr(df, -t))
    lo = np.clip(mean - q * se, -1.0, 1.0)
    hi = np.clip(mean + q * se, -1.0, 1.0)
    return se, np.minimum(lo, mean), np.maximum(hi, mean), p


# --------------------------------------------------------------------------- permutation


def permutation_test(
    n_a: np.ndarray,
    c_a: np.ndarray,
    n_b: np.ndarray,
    c_b: np.ndarray,
    ks: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Monte Carlo within-prompt permutation p-values, one per k (two-sided).

    The statistic is |T|, T the sum over prompts of the difference of the unbiased leak@k
    estimates. At k = 1 with equal n, T only depends on the total count of A, a lattice: many
    rearrangements tie with the data and the test turns conservative (type I error 0.031-0.044
    in the null simulations). Ties in |T| are therefore broken by a second statistic, |Z| with
    Z = sum_i (c_iA - E0 c_iA) / sqrt(m_i) over the prompts with m_i pooled leaks (a stratified
    score that weighs prompts unequally), i.e. the test statistic is the pair (|T|, |Z|) ordered
    lexicographically. Any statistic gives a valid permutation test; this one has fewer ties.
    """
    n_a, c_a, n_b, c_b = (np.asarray(x, dtype=np.int64) for x in (n_a, c_a, n_b, c_b))
    ks = np.asarray(ks, dtype=np.int64)
    m = c_a + c_b
    total = n_a + n_b
    # Prompts where nothing or everything leaked have a single arrangement: they add 0 to the
    # statistic under every permutation (1 - 1 or 0 - 0), so only the others are drawn.
    active = (m > 0) & (m < total)
    if not active.any():
        return np.ones(ks.size)
    na, nb, mm, ca = n_a[active], n_b[active], m[active], c_a[active]
    lo = np.maximum(0, mm - nb)
    width = np.minimum(mm, na) - lo + 1
    offset = np.concatenate([[0], np.cumsum(width)[:-1]])
    # g_i(c) = leak_A(n_a, c) - leak_B(n_b, m - c) for every feasible c, in one flat table.
    owner = np.repeat(np.arange(mm.size), width)
    cvals = lo[owner] + (np.arange(width.sum()) - offset[owner])
    table = per_prompt_leak(na[owner], cvals, ks) - per_prompt_leak(nb[owner], mm[owner] - cvals,
                                                                      ks)
    draws = rng.hypergeometric(mm, (na + nb) - mm, na, size=(n_resamples, mm.size))
    counts = np.vstack([ca[None, :], draws])  # row 0: the observed data
    index = counts - lo + offset
    stats = np.empty((n_resamples + 1, ks.size))
    for j in range(ks.size):
        stats[:, j] = table[index, j].sum(axis=1)
    score = np.abs((counts - mm * na / (na + nb)) @ (1.0 / np.sqrt(mm)))
    primary = np.abs(stats)
    scale = primary[0] * _TIE_RTOL + 1e-300
    above = primary[1:] > primary[0] + scale
    tied = np.abs(primary[1:] - primary[0]) <= scale
    tie_scale = score[0] * _TIE_RTOL + 1e-300
    extreme = above | (tied & (score[1:, None] >= score[0] - tie_scale))
    return (1 + extreme.sum(axis=0)) / (n_resamples + 1)


# --------------------------------------------------------------------------- GEE (leak@1)


def gee_fit(proportions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit the prompt-clustered GEE to proportions (P prompts x M methods, every prompt under
    every method); return (params, robust covariance) on the logit scale.

    With one indicator per method the model is saturated and every cluster has the same design,
    so the estimating equations sum_i D' V^-1 (y_i - mu) = 0 give mu_m = mean_i y_im whatever
    the working correlation, and the sandwich reduces to D^-1 (sum_i e_i e_i' / P^2) D^-1 with
    D = diag(mu (1 - mu)) and e_i = y_i - mu. This closed form equals statsmodels' ``GEE(...,
    family=Binomial(), cov_struct=Exchangeable()).fit()`` (``params``, ``cov_robust``) to
    round-off (checked in tests/test_compare.py against :func:`gee_fit_statsmodels`) and
    takes microseconds instead of a fraction of a second. (compare() needs only the score test
    and the interval below, which stay finite for a method that never leaked.)
    """
    P = proportions.shape[0]
    mu = proportions.mean(axis=0)
    resid = proportions - mu
    scale = 1.0 / (mu * (1 - mu))
    cov = (resid.T @ resid) / P**2 * np.outer(scale, scale)
    return np.log(mu) - np.log1p(-mu), cov


def gee_fit_statsmodels(proportions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same GEE fitted by statsmodels (reference implementation, used by the tests)."""
    from statsmodels.genmod import cov_struct, families
    from statsmodels.genmod.generalized_estimating_equations import GEE

    P, M = proportions.shape
    model = GEE(proportions.reshape(-1), np.tile(np.eye(M), (P, 1)),
                groups=np.repeat(np.arange(P), M), family=families.Binomial(),
                cov_struct=cov_struct.Exchangeable())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # proportions as a binomial response: quasi-likelihood
        result = model.fit(cov_type="robust")
    return np.asarray(result.params), np.asarray(result.cov_robust)


def gee_score_test(y_a: np.ndarray, y_b: np.ndarray) -> float:
    """Robust (generalized) score test of equal leak@1 in the GEE of two methods.

    The score test of Boos (1992) evaluates the sandwich at the null fit (a common mean): for
    the saturated two-method model it is (sum_i d_i)^2 / sum_i d_i^2 with d_i = y_ia - y_ib,
    whatever the working correlation, chi-square with 1 df. It equals statsmodels'
    ``GEE.compare_score_test`` (checked in the tests); unlike the Wald test on the logit scale
    (type I error 0.063-0.095 with few prompts or rare leaks) it held its level in the null
    simulations.
    """
    d = np.asarray(y_a, dtype=float) - np.asarray(y_b, dtype=float)
    ss = float(d @ d)
    if ss == 0:
        return 1.0
    return float(2 * ndtr(-abs(d.sum()) / np.sqrt(ss)))


def gee_interval(y_a: np.ndarray, y_b: np.ndarray, confidence_level: float):
    """Difference of leak@1 (mean of y_a - y_b) with its delta-method (Wald) interval from the
    robust covariance of :func:`gee_fit`: (estimate, se, ci_low, ci_high).

    On the probability scale the delta method undoes the logit: Var(p_a - p_b) = sum_i
    (e_ia - e_ib)^2 / P^2, finite also for a method that never leaked.
    """
    d = np.asarray(y_a, dtype=float) - np.asarray(y_b, dtype=float)
    diff = float(d.mean())
    se = float(np.sqrt(((d - diff) ** 2).sum()) / d.size)
    z = ndtri(0.5 + confidence_level / 2)
    return diff, se, max(diff - z * se, -1.0), min(diff + z * se, 1.0)


def gee_score_test_statsmodels(y_a: np.ndarray, y_b: np.ndarray) -> float:
    """The same score test computed by statsmodels (reference implementation for the tests)."""
    from statsmodels.genmod import cov_struct, families
    from statsmodels.genmod.generalized_estimating_equations import GEE

    y = np.column_stack([y_a, y_b])
    P = y.shape[0]
    groups = np.repeat(np.arange(P), 2)
    full = GEE(y.reshape(-1), np.tile(np.eye(2), (P, 1)), groups=groups,
               family=families.Binomial(), cov_struct=cov_struct.Exchangeable())
    null = GEE(y.reshape(-1), np.ones((2 * P, 1)), groups=groups, family=families.Binomial(),
               cov_struct=cov_struct.Exchangeable())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # proportions as a binomial response: quasi-likelihood
        return float(full.compare_score_test(null.fit())["p-value"])
