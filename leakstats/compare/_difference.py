"""Fixed-prompt difference of two methods' leak@k: intervals and their dual tests.

For the same P prompts, method A's and method B's samples are drawn independently, so under
the fixed-prompt estimand the two benchmark estimates are independent and the difference
Delta = theta_A - theta_B has Var = Var_A + Var_B. Both constructions start from the two
``cp-eb`` arms (:class:`leakstats.estimate.intervals.FixedSharp`).

:func:`score` (compare's default) treats each estimate as a binomial proportion at its
effective sample size n* (the ``cp-eb`` n* at the same level) and inverts the score test of
two proportions (Miettinen & Nurminen 1985):

    {delta : |Delta - delta| <= z sqrt(p_A (1 - p_A) / n*_A + p_B (1 - p_B) / n*_B)},

with (p_A, p_B) the maximum-likelihood rates under p_A - p_B = delta (the closed form of
Farrington & Manning 1990). At delta = 0 the variance is the pooled one, so an arm whose
estimate came out high by chance does not widen the test with its own larger variance (the
mean-variance coupling that makes separate-variance tests conservative for counts). With rich
data it is Delta +/- z sqrt(Var_A + Var_B); when neither method leaked it is symmetric about
0, not a point.

:func:`mover` (the method of variance estimates recovery; Newcombe 1998, Zou & Donner 2008)
combines the two ``cp-eb`` intervals at the same level:

    low  = Delta - sqrt((theta_A - l_A)^2 + (u_B - theta_B)^2)
    high = Delta + sqrt((u_A - theta_A)^2 + (theta_B - l_B)^2)

Each test of H0: Delta = 0 is the dual of its interval: the p-value is the smallest alpha at
which the level 1 - alpha interval excludes 0. The intervals nest in the level (n* shrinks and
the quantile grows as the level rises), so the p-value is found by bisection on log alpha;
p < alpha exactly when the 1 - alpha interval excludes 0.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from leakstats.estimate.intervals import FixedSharp

#: Smallest p-value reported (the bisection's lower end).
P_FLOOR = 1e-16
_BISECTIONS = 60


def mover(a: FixedSharp, b: FixedSharp, confidence_level) -> tuple[np.ndarray, np.ndarray]:
    """MOVER limits of theta_A - theta_B at ``confidence_level`` (a number or one per k)."""
    la, ua = a.limits(confidence_level)
    lb, ub = b.limits(confidence_level)
    diff = a.theta - b.theta
    low = diff - np.sqrt((a.theta - la) ** 2 + (ub - b.theta) ** 2)
    high = diff + np.sqrt((ua - a.theta) ** 2 + (b.theta - lb) ** 2)
    return np.maximum(low, -1.0), np.minimum(high, 1.0)


def _dual_p_value(excludes, K: int) -> np.ndarray:
    """The smallest alpha at which ``excludes(alpha)`` (the level 1 - alpha interval excludes
    0; nested in alpha) holds, per k: bisection on log alpha in [log P_FLOOR, 0]."""
    lo = np.full(K, np.log(P_FLOOR))  # log alpha where the interval may still hold 0
    hi = np.zeros(K)  # log alpha = 0: level 0
    # alpha -> 1 is level -> 0; just below it the interval is the narrowest it gets
    never = ~excludes(np.full(K, 1.0 - 1e-12))
    always = excludes(np.full(K, P_FLOOR))
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        ex = excludes(np.exp(mid))
        hi = np.where(ex, mid, hi)
        lo = np.where(ex, lo, mid)
    p = np.where(always, P_FLOOR, np.exp(hi))  # the interval at level 1 - p excludes 0
    return np.where(never, 1.0, np.minimum(p, 1.0))


def mover_p_value(a: FixedSharp, b: FixedSharp) -> np.ndarray:
    """Two-sided p-value of H0: theta_A = theta_B, dual to :func:`mover`, one per k."""
    side = np.sign(a.theta - b.theta)

    def excludes(alpha):
        low, high = mover(a, b, 1.0 - alpha)
        return (side != 0) & np.where(side > 0, low > 0, high < 0)

    return _dual_p_value(excludes, side.size)


# --------------------------------------------------------------------------- score interval
def _constrained_rates(x_a, n_a, x_b, n_b, delta):
    """Maximum-likelihood (p_A, p_B) of two binomials under p_A - p_B = delta (the closed form
    of Farrington & Manning 1990, the real root of the likelihood equation's cubic)."""
    pa, pb, ratio = x_a / n_a, x_b / n_b, n_b / n_a
    a = 1 + ratio
    b = -(1 + ratio + pa + ratio * pb + delta * (ratio + 2))
    c = delta**2 + delta * (2 * pa + ratio + 1) + pa + ratio * pb
    d = -pa * delta * (1 + delta)
    v = b**3 / (27 * a**3) - b * c / (6 * a**2) + d / (2 * a)
    u = np.sign(v) * np.sqrt(np.maximum(b**2 / (9 * a**2) - c / (3 * a), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_arg = np.clip(np.where(u != 0, v / u**3, 0.0), -1.0, 1.0)
    w = (np.pi + np.arccos(cos_arg)) / 3
    p_a = np.clip(2 * u * np.cos(w) - b / (3 * a), np.maximum(0.0, delta),
                  np.minimum(1.0, 1.0 + delta))
    return p_a, p_a - delta


def _score_statistic(a: FixedSharp, b: FixedSharp, confidence_level, delta):
    """(Delta_hat - delta) / sd under the constraint, the arms binomial at their n*."""
    n_a, n_b = a.n_eff(confidence_level), b.n_eff(confidence_level)
    p_a, p_b = _constrained_rates(a.theta * n_a, n_a, b.theta * n_b, n_b, delta)
    var = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a.theta - b.theta - delta) / np.sqrt(var)


def score(a: FixedSharp, b: FixedSharp, confidence_level) -> tuple[np.ndarray, np.ndarray]:
    """Score limits of theta_A - theta_B at ``confidence_level`` (a number or one per k)."""
    z = ndtri(0.5 + np.asarray(confidence_level, dtype=float) / 2)
    diff = a.theta - b.theta
    # {delta : |T(delta)| <= z}, T decreasing in delta; bisection on each side of diff
    out = []
    for end, sign in ((-1.0, 1.0), (1.0, -1.0)):
        inside, outside = diff.copy(), np.full(diff.shape, end)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (inside + outside)
            t = sign * _score_statistic(a, b, confidence_level, mid)
            out_now = ~(t <= z)  # beyond z, or no variance left at mid
            outside = np.where(out_now, mid, outside)
            inside = np.where(out_now, inside, mid)
        out.append(inside)
    return out[0], out[1]


def score_p_value(a: FixedSharp, b: FixedSharp) -> np.ndarray:
    """Two-sided p-value of H0: theta_A = theta_B, dual to :func:`score`, one per k: the
    smallest alpha at which |T(0)| at level 1 - alpha exceeds z (the interval then excludes 0)."""
    K = a.theta.size

    def excludes(alpha):
        t = np.abs(_score_statistic(a, b, 1.0 - alpha, np.zeros(K)))
        return t > ndtri(1 - alpha / 2)  # NaN (nothing leaked in either arm): never

    return _dual_p_value(excludes, K)
