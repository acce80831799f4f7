"""Closed-form posterior quantities of the (zero-inflated) beta-binomial model, in numpy.

Given one posterior draw of the population parameters (a, b, pi0), a prompt with n samples and
c leaks has, by conjugacy,

    P(p = 0 | c)          = z = pi0 [c = 0] / (pi0 [c = 0] + (1 - pi0) BB(0 | n, a, b))
    p | c, p > 0          ~ Beta(a + c, b + n - c)
    E[(1 - p)^k | c, p>0] = R_k = B(a + c, b + n - c + k) / B(a + c, b + n - c)

so the prompt's leak@k = 1 - (1 - p)^k has conditional mean (1 - z)(1 - R_k) and second moment
(1 - z)(1 - 2 R_k + R_2k). The population ("superpopulation") leak@k of one draw is
(1 - pi0)(1 - B(a, b + k) / B(a, b)). All functions broadcast over draws (axis 0), distinct
(n, c) pairs and k.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln


def log_bb_pmf(c, n, a, b):
    """log BetaBinomial(c | n, a, b)."""
    return (
        gammaln(n + 1.0) - gammaln(c + 1.0) - gammaln(n - c + 1.0)
        + betaln(c + a, n - c + b) - betaln(a, b)
    )


def log_zibb_pmf(c, n, a, b, pi0):
    """log of the zero-inflated beta-binomial pmf (pi0 = 0 gives the plain model)."""
    ll = log_bb_pmf(c, n, a, b)
    with np.errstate(divide="ignore"):
        nonzero = np.log1p(-pi0) + ll
        return np.where(np.asarray(c) == 0, np.logaddexp(np.log(pi0), nonzero), nonzero)


def zero_probability(c, n, a, b, pi0):
    """P(p = 0 | c, n, a, b, pi0): zero unless c == 0."""
    with np.errstate(divide="ignore"):
        log_zero = np.log(pi0)
        log_other = np.log1p(-pi0) + betaln(a, b + n) - betaln(a, b)
    z = np.exp(log_zero - np.logaddexp(log_zero, log_other))
    return np.where(np.asarray(c) == 0, z, 0.0)


def moment_ratio(c, n, a, b, k):
    """R_k = E[(1 - p)^k] under Beta(a + c, b + n - c)."""
    return np.exp(betaln(a + c, b + n - c + k) - betaln(a + c, b + n - c))


def prompt_moments(c, n, a, b, pi0, k):
    """Conditional mean and variance of a prompt's leak@k given one draw (broadcasting)."""
    z = zero_probability(c, n, a, b, pi0)
    r1 = moment_ratio(c, n, a, b, k)
    r2 = moment_ratio(c, n, a, b, 2 * np.asarray(k))
    mean = (1 - z) * (1 - r1)
    second = (1 - z) * (1 - 2 * r1 + r2)
    return mean, np.maximum(second - mean**2, 0.0)


def population_leak(a, b, pi0, k):
    """Superpopulation leak@k of one draw: (1 - pi0) (1 - B(a, b + k) / B(a, b))."""
    return (1 - pi0) * -np.expm1(betaln(a, b + k) - betaln(a, b))


def sample_prompt_p(c, n, a, b, pi0, rng):
    """One draw of p per (draw, pair) from the conditional posterior mixture."""
    z = zero_probability(c, n, a, b, pi0)
    p = rng.beta(a + c, b + n - c)
    return np.where(rng.random(p.shape) < z, 0.0, p)


def leak_from_p(p, k):
    """1 - (1 - p)^k, stable for tiny p; p (...,), k (K,) -> (..., K)."""
    with np.errstate(divide="ignore"):  # p == 1 gives log 0 = -inf and leak@k = 1, exactly
        return -np.expm1(np.multiply.outer(np.log1p(-p), np.asarray(k, dtype=float)))


def fixed_prompt_draws(c, n, weight, a, b, pi0, k, rng, *, exact_limit=2_000_000):
    """Posterior draws of the benchmark (fixed-prompt) leak@k, shape (S, K).

    For each hyper-parameter draw s, theta_bar = mean over prompts of each prompt's leak@k with
    p_i drawn from its conditional posterior. Drawn exactly while (prompts x draws) <=
    ``exact_limit``; beyond, theta_bar | draw is a mean over so many independent prompts that
    a beta matching its exact conditional mean and variance is used.
    """
    c = np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    weight = np.asarray(weight, dtype=np.int64)
    k = np.asarray(k, dtype=float)
    S = a.shape[0]
    P = int(weight.sum())
    A, B, Z = a[:, None], b[:, None], pi0[:, None]
    if P * S <= exact_limit:
        total = np.zeros((S, k.size))
        for d in range(c.size):
            reps = int(weight[d])
            cd = np.full((S, reps), c[d])
            p = sample_prompt_p(cd, n[d], A, B, Z, rng)
            total += leak_from_p(p, k).sum(axis=1)
        return total / P
    mean = np.zeros((S, k.size))
    var = np.zeros((S, k.size))
    for j, kk in enumerate(k):
        m, v = prompt_moments(c[None, :], n[None, :], A, B, Z, kk)
        mean[:, j] = m @ weight / P
        var[:, j] = v @ weight / P**2
    return _beta_moment_draw(mean, var, rng)


def _beta_moment_draw(mean, var, rng):
    """Draw from the beta with the given mean and variance (point mass where var == 0)."""
    mean = np.clip(mean, 0.0, 1.0)
    ok = (var > 0) & (mean > 0) & (mean < 1) & (var < mean * (1 - mean))
    out = mean.copy()
    if ok.any():
        m, v = mean[ok], var[ok]
        nu = m * (1 - m) / v - 1
        out[ok] = rng.beta(m * nu, (1 - m) * nu)
    return out
