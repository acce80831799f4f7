"""Fixed-prompt difference of two methods' leak@k: one interval and its dual test.

For the same P prompts, method A's and method B's samples are drawn independently, so under
the fixed-prompt estimand the two benchmark estimates are independent and the difference
Delta = theta_A - theta_B has Var = Var_A + Var_B. The interval is MOVER (the method of
variance estimates recovery; Newcombe 1998, Zou & Donner 2008) applied to the two ``cp-eb``
intervals (:class:`leakstats.intervals.FixedSharp`) at the same level:

    low  = Delta - sqrt((theta_A - l_A)^2 + (u_B - theta_B)^2)
    high = Delta + sqrt((u_A - theta_A)^2 + (theta_B - l_B)^2)

With rich data each half-width is z sd, so the interval is Delta +/- z sqrt(Var_A + Var_B);
with rare leaks it inherits the Clopper-Pearson shape of the per-method limits, and when
neither method leaked it is [-u_B, u_A], not a point.

The test of H0: Delta = 0 is the dual of the interval: its p-value is the smallest alpha at
which the level 1 - alpha interval excludes 0. The per-method limits nest in the level (n*
shrinks and the quantile grows as the level rises), so the interval does too, and the
p-value is found by bisection on log alpha; p < alpha exactly when the 1 - alpha interval
excludes 0.
"""

from __future__ import annotations

import numpy as np

from leakstats.intervals import FixedSharp

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


def _excludes_zero(a: FixedSharp, b: FixedSharp, alpha: np.ndarray, side: np.ndarray):
    low, high = mover(a, b, 1.0 - alpha)
    return np.where(side > 0, low > 0, high < 0)


def mover_p_value(a: FixedSharp, b: FixedSharp) -> np.ndarray:
    """Two-sided p-value of H0: theta_A = theta_B, dual to :func:`mover`, one per k."""
    side = np.sign(a.theta - b.theta)
    K = side.size
    lo = np.full(K, np.log(P_FLOOR))  # log alpha where the interval may still hold 0
    hi = np.zeros(K)  # log alpha = 0: level 0
    # alpha -> 1 is level -> 0; just below it the interval is the narrowest it gets
    top = np.full(K, 1.0 - 1e-12)
    never = (side == 0) | ~_excludes_zero(a, b, top, side)
    always = _excludes_zero(a, b, np.full(K, P_FLOOR), side)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        ex = _excludes_zero(a, b, np.exp(mid), side)
        hi = np.where(ex, mid, hi)
        lo = np.where(ex, lo, mid)
    p = np.exp(hi)  # the interval at level 1 - p excludes 0
    p = np.where(always, P_FLOOR, p)
    return np.where(never, 1.0, np.minimum(p, 1.0))
