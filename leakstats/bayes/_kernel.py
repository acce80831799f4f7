"""The (zero-inflated) beta-binomial log density and gradient as one compiled loop (numba).

Same mathematics as :class:`leakstats.bayes._density.LogDensity` (which documents it), in one
pass over the distinct (arm, n, c) pairs: NUTS calls it ~10^5 times per fit, and numpy's
per-call overhead on arrays of a few hundred pairs would dominate. Compiled on first use and
cached on disk by numba (a dependency of PyTensor, so of PyMC).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _digamma(x):
    """psi(x) for x > 0: recurrence to x >= 6, then the asymptotic series (error < 1e-12)."""
    result = 0.0
    while x < 6.0:
        result -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    series = inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (
        1.0 / 240 - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760 - inv2 / 12.0))))))
    return result + math.log(x) - 0.5 * inv - series


@numba.njit(cache=True)
def log_density(theta, arm, n, c, w, zero_inflated, m1, s1, m2, s2, alpha, beta):
    """(value, gradient) without the constant terms; theta is (arms, 2 or 3)."""
    n_arms = theta.shape[0]
    grad = np.zeros_like(theta)
    value = 0.0
    a = np.empty(n_arms)
    b = np.empty(n_arms)
    mu = np.empty(n_arms)
    log_pi0 = np.zeros(n_arms)
    log_rest = np.zeros(n_arms)
    const_ll = np.empty(n_arms)
    const_da = np.empty(n_arms)
    const_db = np.empty(n_arms)
    g_a = np.zeros(n_arms)
    g_b = np.zeros(n_arms)
    for j in range(n_arms):
        x = theta[j, 0]
        y = theta[j, 1]
        mu[j] = 1.0 / (1.0 + math.exp(-x))
        kappa = math.exp(y)
        a[j] = mu[j] * kappa
        b[j] = kappa - a[j]
        if not (a[j] > 0.0 and b[j] > 0.0 and kappa < 1e300):
            return -np.inf, grad
        const_ll[j] = math.lgamma(kappa) - math.lgamma(a[j]) - math.lgamma(b[j])
        dk = _digamma(kappa)
        const_da[j] = dk - _digamma(a[j])
        const_db[j] = dk - _digamma(b[j])
        value -= 0.5 * ((x - m1) / s1) ** 2 + 0.5 * ((y - m2) / s2) ** 2
        grad[j, 0] -= (x - m1) / (s1 * s1)
        grad[j, 1] -= (y - m2) / (s2 * s2)
        if zero_inflated:
            z = theta[j, 2]
            # log sigmoid(z) and log sigmoid(-z), stably
            if z >= 0:
                log_pi0[j] = -math.log1p(math.exp(-z))
                log_rest[j] = -z + log_pi0[j]
            else:
                log_rest[j] = -math.log1p(math.exp(z))
                log_pi0[j] = z + log_rest[j]
            pi0 = math.exp(log_pi0[j])
            value += alpha * log_pi0[j] + beta * log_rest[j]
            grad[j, 2] += alpha * (1.0 - pi0) - beta * pi0
    for i in range(n.shape[0]):
        j = arm[i]
        A = a[j]
        B = b[j]
        ni = n[i]
        ci = c[i]
        ll = (math.lgamma(ci + A) + math.lgamma(ni - ci + B) - math.lgamma(ni + A + B)
              + const_ll[j])
        d_n = _digamma(ni + A + B)
        dA = _digamma(ci + A) - d_n + const_da[j]
        dB = _digamma(ni - ci + B) - d_n + const_db[j]
        wi = w[i]
        share = 1.0
        if zero_inflated:
            pi0 = math.exp(log_pi0[j])
            nonzero = log_rest[j] + ll
            if ci == 0.0:
                top = max(log_pi0[j], nonzero)
                mixed = top + math.log(math.exp(log_pi0[j] - top) + math.exp(nonzero - top))
                share = math.exp(nonzero - mixed)
                value += wi * mixed
                grad[j, 2] += wi * ((1.0 - share) - pi0)
            else:
                value += wi * nonzero
                grad[j, 2] -= wi * pi0
        else:
            value += wi * ll
        g_a[j] += wi * share * dA
        g_b[j] += wi * share * dB
    for j in range(n_arms):
        # a = mu kappa, b = (1 - mu) kappa: d/dx = a (1 - mu) (gA - gB); d/dy = a gA + b gB
        grad[j, 0] += a[j] * (1.0 - mu[j]) * (g_a[j] - g_b[j])
        grad[j, 1] += a[j] * g_a[j] + b[j] * g_b[j]
    return value, grad
