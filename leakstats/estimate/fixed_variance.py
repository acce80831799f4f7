"""Sampling variance of the unbiased leak@k estimator of one prompt, and its empirical-Bayes
estimate.

For one prompt with n i.i.d. samples, each leaking with probability p (q = 1 - p), the
unbiased estimator U = 1 - C(n - c, k) / C(n, k) is a U-statistic of degree k with kernel
h(S) = 1 - prod_{j in S} (1 - X_j). Two k-subsets that share m samples have
Cov(h(S), h(S')) = q^(2k - m) - q^(2k), and the number of ordered pairs of k-subsets sharing m
samples is C(n, k) C(k, m) C(n - k, k - m), so

    Var(U) = sum_{m >= 1} h_m (q^(2k - m) - q^(2k)),   h_m = C(k, m) C(n - k, k - m) / C(n, k),

h the hypergeometric law of the overlap of two random k-subsets of n samples.

The fixed-prompt variance of the benchmark estimate is sum_i Var(U_i) / P^2. It is unknown
because the p_i are. :func:`eb_variance` estimates each Var(U_i) by its posterior mean under a
zero-inflated beta law of p fitted to the arm's counts by maximum likelihood (empirical Bayes):
given c_i, p_i is 0 with probability z_i (only when c_i = 0) and otherwise
Beta(a + c_i, b + n_i - c_i), whose moments E[q^j] = prod_{t < j} (1 - alpha / (alpha + beta + t))
are summed in log space, term by term, so that differences E[q^j] - E[q^(j + m)] keep their
relative precision for rare leaks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import betaln, gammaln
from scipy.stats import hypergeom

#: The law of p fitted to the counts (a family of leakstats.laws.models).
PRIOR_FAMILY = "zi-beta"
#: Above this 2k, the term-by-term moments get long: :func:`eb_variance` returns NaN there.
MAX_TERMS = 20_000


def overlap_law(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Support m >= 1 and probabilities h_m of the overlap of two random k-subsets of n
    (read-only arrays, cached per (n, k))."""
    return _overlap_law(int(n), int(k))


@lru_cache(maxsize=4096)
def _overlap_law(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = np.arange(max(1, 2 * k - n), k + 1)
    if n <= _LARGE_N:
        h = hypergeom.pmf(m, n, k, k)
    else:  # scipy's pmf slows down with n; the same law from O(k) sums of logs
        h = np.exp(_log_overlap(n, k, m))
    keep = h > 1e-300
    m, h = m[keep], h[keep]
    m.flags.writeable = False
    h.flags.writeable = False
    return m, h


#: Above this n, :func:`overlap_law` sums logs instead of calling scipy's hypergeom.
_LARGE_N = 10**6


def _log_overlap(n: int, k: int, m: np.ndarray) -> np.ndarray:
    """log h_m = log[C(k, m) C(n - k, k - m) / C(n, k)] for n > 2k, in O(k) operations."""
    i = np.arange(k, dtype=float)
    # log of prod_{i < j} (n - k - i) for j = 0..k, and of prod_{i < k} (n - i)
    low = np.concatenate([[0.0], np.cumsum(np.log(float(n - k) - i))])
    top = np.sum(np.log(float(n) - i))
    j = k - m
    return (gammaln(k + 1) - gammaln(m + 1) - gammaln(j + 1)  # log C(k, m)
            + low[j] - gammaln(j + 1)  # log C(n - k, j)
            - top + gammaln(k + 1))  # - log C(n, k)


def variance_given_p(n: int, p, k: int) -> np.ndarray:
    """Exact Var(U) of the unbiased leak@k estimator for n samples at leak probability p."""
    p = np.asarray(p, dtype=float)
    m, h = overlap_law(n, k)
    with np.errstate(divide="ignore"):
        log_q = np.log1p(-p)[..., None]
    # q^(2k - m) - q^(2k) = q^(2k - m) (1 - q^m), each factor computed without cancellation
    terms = np.exp((2 * k - m) * log_q) * -np.expm1(m * log_q)
    terms = np.where(np.isnan(terms), 0.0, terms)  # p = 1: q = 0, no variance
    return terms @ h


def jackknife_variance(n, c, k) -> np.ndarray:
    """Delete-one jackknife estimate of Var(U) per pair, shape (D, K), for k <= n - 1."""
    from leakstats.estimate.kernels import leak_at_k_unbiased

    n = np.asarray(n, dtype=np.int64)[:, None]
    c = np.asarray(c, dtype=np.int64)[:, None]
    k = np.asarray(k, dtype=np.int64)[None, :]
    without_leak = leak_at_k_unbiased(n - 1, np.maximum(c - 1, 0), k)
    without_miss = leak_at_k_unbiased(n - 1, np.minimum(c, n - 1), k)
    spread = c * (n - c) / n  # share of leaked times share of missed, times n
    return (n - 1) / n * spread * (without_leak - without_miss) ** 2


def _log_moments(alpha: np.ndarray, beta: np.ndarray, j_max: int) -> np.ndarray:
    """log E[q^j] under Beta(alpha, beta) for j = 0..j_max, shape (D, j_max + 1)."""
    t = np.arange(j_max)
    steps = np.log1p(-alpha[:, None] / (alpha[:, None] + beta[:, None] + t[None, :]))
    out = np.zeros((alpha.size, j_max + 1))
    np.cumsum(steps, axis=1, out=out[:, 1:])
    return out


def _zero_share(n: int, pi0: float, a: float, b: float) -> float:
    """P(p = 0 | c = 0) for n samples under p ~ pi0 delta_0 + (1 - pi0) Beta(a, b)."""
    if pi0 <= 0:
        return 0.0
    log_prior_zero = betaln(a, b + n) - betaln(a, b)  # log E q^n, exact for any n
    return pi0 / (pi0 + (1 - pi0) * np.exp(log_prior_zero))


def _from_moments(L: np.ndarray, n: int, k: int) -> np.ndarray:
    """E_beta[Var(U)] per pair from its log moments L (D, >= 2k + 1)."""
    m, h = overlap_law(n, k)
    lo = L[:, 2 * k - m]  # log E q^(2k - m), (D, M)
    # E q^(2k - m) - E q^(2k), without cancellation
    return (np.exp(lo) * -np.expm1(L[:, [2 * k]] - lo)) @ h


def posterior_variance(n, c, k: int, *, pi0: float, a: float, b: float) -> np.ndarray:
    """E[Var(U) | c] for pairs (n, c) with equal n, under p ~ pi0 delta_0 + (1 - pi0) Beta(a, b)."""
    return _posterior_variances(n, c, [k], pi0=pi0, a=a, b=b)[:, 0]


def _posterior_variances(n, c, ks, *, pi0: float, a: float, b: float) -> np.ndarray:
    """:func:`posterior_variance` for every k of ``ks`` (D, K), the moments computed once."""
    c = np.asarray(c, dtype=float)
    n0 = int(np.asarray(n)[0])
    L = _log_moments(a + c, b + n0 - c, 2 * int(max(ks)))
    var = np.column_stack([_from_moments(L, n0, int(k)) for k in ks])
    # the beta part weighs 1 - z, z = P(p = 0 | c), which is nonzero only for c = 0
    return np.where((c == 0)[:, None], (1 - _zero_share(n0, pi0, a, b)) * var, var)


def fit_priors(dn, dc, weights, *, warm=None) -> np.ndarray:
    """Zero-inflated beta priors (pi0, a, b) fitted by maximum likelihood, one row per row of
    ``weights`` (S, D), the multiplicities of the distinct pairs (dn, dc) in each data set.

    ``warm`` (p,) starts every row from one point instead of the family's starts. A row is NaN
    where the fit is not possible (no leak, or every sample leaked).
    """
    from leakstats.laws.models import FAMILIES, Pairs, fit_family

    dn = np.asarray(dn, dtype=np.int64)
    dc = np.asarray(dc, dtype=np.int64)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    out = np.full((weights.shape[0], 3), np.nan)
    present = weights > 0
    ok = (present & (dc > 0)).any(axis=1) & (present & (dc < dn)).any(axis=1)
    if not ok.any():
        return out
    family = FAMILIES[PRIOR_FAMILY]
    start = None if warm is None else np.broadcast_to(warm, (int(ok.sum()), len(warm)))
    theta, _ = fit_family(family, Pairs(dn, dc, weights[ok][0]), weights[ok], warm=start)
    pi0, _, a, b = family.unpack(theta)
    out[ok] = np.column_stack([pi0, a[:, 0], b[:, 0]])
    return out


def prior_theta(prior) -> np.ndarray:
    """The unconstrained parameters of a (pi0, a, b) prior (a warm start for :func:`fit_priors`)."""
    from leakstats.laws.models import FAMILIES

    pi0, a, b = (float(v) for v in prior)
    return FAMILIES[PRIOR_FAMILY].pack(pi0, None, [a / (a + b)], [a + b])


def pair_variances(dn, dc, ks, prior) -> np.ndarray:
    """E[Var(U) | c] for distinct (n, c) pairs under one (pi0, a, b) prior, shape (D, K).

    NaN where the prior is NaN, and in the columns where 2k > MAX_TERMS.
    """
    dn = np.asarray(dn, dtype=np.int64)
    dc = np.asarray(dc, dtype=np.int64)
    ks = np.asarray(ks, dtype=np.int64)
    out = np.full((dn.size, ks.size), np.nan)
    if np.isnan(prior).any():
        return out
    pi0, a, b = (float(v) for v in prior)
    ok = 2 * ks <= MAX_TERMS
    if ok.any():
        for n_value in np.unique(dn):
            sel = dn == n_value
            out[np.ix_(sel, ok)] = _posterior_variances(dn[sel], dc[sel], ks[ok], pi0=pi0, a=a,
                                                        b=b)
    return out


def eb_variance(dn, dc, weight, ks) -> np.ndarray:
    """Empirical-Bayes estimates of Var(U) for distinct (n, c) pairs, shape (D, K).

    All NaN where the fit is not possible (no leak, or every sample leaked); a column is NaN
    where 2k > MAX_TERMS. Repeated k are computed once.
    """
    ks, back = np.unique(np.asarray(ks, dtype=np.int64), return_inverse=True)
    prior = fit_priors(dn, dc, weight)[0]
    return pair_variances(dn, dc, ks, prior)[:, back]
