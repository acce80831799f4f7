"""Sample-size planning: how many prompts and samples per prompt a leak@k study needs.

Three goals, each for the interval, test or bound that leakstats actually reports:

``"estimate"``
    the fixed-prompt ``cp-effective`` interval of :func:`leak_at_k` (Clopper-Pearson on the
    Hoeffding effective size n* = P n / k; the default ``cp-eb`` interval is never wider, so
    the planned half-width is a guarantee for it whatever the prompts) or, with
    ``population="superpopulation"``, the Korn-Graubard interval
    (normal approximation with the between-prompt spread of leak@k); target: its half-width.
``"compare"``
    the within-prompt permutation test of :func:`compare` (``test="permutation"``, fixed
    prompts), two-sided at
    1 - confidence_level (divided by ``n_comparisons``, Bonferroni, conservative for Holm);
    target: power to detect leak@k of ``leak_a`` against ``leak_b``. Normal approximation with
    the exact variance of the unbiased estimator under homogeneous prompts, which is
    conservative when prompts differ (the within-prompt variance is then smaller).
``"certify"``
    the pooled route of :func:`certify` (the one used at k = 1, and at level alpha/2 when the
    U-statistic route is also tried); target: probability that the bound falls at or below
    ``epsilon`` when every prompt leaks with probability ``p``. Exact binomial computation;
    conservative, since the U-statistic route can only lower the bound.

All three were checked by simulation (benchmarks/certify_bounds.py and
benchmarks/compare_calibration.py; docs/benchmarks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import bdtr, betaincinv, ndtr, ndtri

from leakstats.core.checks import check_choice, check_int, check_level, check_number, parse_k
from leakstats.core.errors import LeakstatsError
from leakstats.core.vocabulary import PLAN_GOALS
from leakstats.estimate.kernels import leak_at_k_unbiased

__all__ = ["GOALS", "PlanResult", "plan"]

#: Planning goals of :func:`plan`.
GOALS = PLAN_GOALS
_OPTIONS = {
    "estimate": {"half_width", "leak", "population", "spread"},
    "compare": {"leak_a", "leak_b", "power", "n_comparisons"},
    "certify": {"epsilon", "p", "power"},
}
_MAX_TOTAL = 10**12


@dataclass(frozen=True, repr=False, eq=False)
class PlanResult:
    """Planned numbers of prompts and samples, one row per k.

    ``to_frame()`` columns: ``goal``, ``k``, ``n_prompts``, ``n_samples`` (per prompt),
    ``total_samples``, ``target`` (half-width, or power / certification probability),
    ``achieved`` (the same quantity at the planned sizes), ``confidence_level``,
    ``assumptions``.
    """

    table: pd.DataFrame = field(repr=False)
    goal: str
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        """The plan, one row per k."""
        return self.table.copy()

    def __repr__(self) -> str:
        shown = self.table.drop(columns=["assumptions"]).to_string(index=False)
        notes = "\n".join(dict.fromkeys(self.table["assumptions"]))
        return (f"PlanResult(goal={self.goal!r}, confidence_level={self.confidence_level:g})\n"
                f"{shown}\n{notes}")


# --------------------------------------------------------------------------- helpers


def _prob(name: str, value, *, allow_zero: bool = False):
    if value is None:
        raise LeakstatsError(f"{name}: required for this goal and not given. Fix: pass e.g. "
                             f"{name}=0.05.")
    return check_number(name, value, low=0, high=1, low_open=not allow_zero, high_open=True,
                        example=0.05)


def _size(name: str, value):
    if value is None:
        return None
    return check_int(name, value, 1, fix=f"pass e.g. {name}=400, or leave it out to have it "
                                         f"planned")


def _p_of(leak: float, k: int) -> float:
    """Per-sample probability p with 1 - (1 - p)^k = leak."""
    return float(-np.expm1(np.log1p(-leak) / k))


def _search(ok, low: int, high: int = _MAX_TOTAL) -> int | None:
    """Smallest integer x in [low, high] with ok(x) (ok assumed monotone), None if none."""
    if ok(low):
        return low
    hi = low
    while not ok(hi):
        if hi >= high:
            return None
        hi = min(high, hi * 2)
    lo = hi // 2 if hi > low else low
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _cp_half_width(theta: float, n_eff: float, level: float) -> float:
    alpha = 1 - level
    x = theta * n_eff
    lo = betaincinv(x, n_eff - x + 1, alpha / 2) if x > 0 else 0.0
    hi = betaincinv(x + 1, n_eff - x, 1 - alpha / 2) if x < n_eff else 1.0
    return float(hi - lo) / 2


def _too_big(what: str) -> LeakstatsError:
    return LeakstatsError(f"no {what} up to {_MAX_TOTAL:.0e} samples reaches the target. Fix: "
                          "relax the target (a wider half-width, lower power, larger epsilon).")


# --------------------------------------------------------------------------- the three goals


def _sizes(total_needed, P, n, k):
    """Turn a needed product P * n into (P, n), keeping n >= k."""
    if P is not None and n is None:
        n = max(k, math.ceil(total_needed / P))
    elif n is None:
        raise AssertionError("unreachable")  # pragma: no cover
    elif P is None:
        P = max(1, math.ceil(total_needed / n))
    return P, n


def _estimate(k, level, P, n, half_width, leak, population, spread):
    z = float(ndtri(0.5 + level / 2))
    if population == "prompts":
        def achieved(P_, n_):
            return _cp_half_width(leak, P_ * n_ / k, level)

        note = (f"fixed prompts; anticipated leak@{k} = {leak:g} (0.5 = worst case); interval: "
                "Clopper-Pearson at n* = P n / k (leak_at_k's default)")
        if P is None or n is None:
            need = _search(lambda t: _cp_half_width(leak, t, level) <= half_width, 1)
            if need is None:
                raise _too_big("size")
            P, n = _sizes(need * k, P, n, k)
        return P, n, achieved(P, n), note
    s2 = spread**2
    within = max(leak * (1 - leak) - s2, 0.0)

    def hw(P_, n_):
        return z * math.sqrt((s2 + k / n_ * within) / P_)

    note = (f"superpopulation; anticipated leak@{k} = {leak:g}, between-prompt sd of leak@k = "
            f"{spread:g}; normal approximation (Korn-Graubard n*)")
    if n is None:
        target = (half_width / z) ** 2 * P - s2  # needed k / n * within
        if target <= 0:
            raise LeakstatsError(
                f"n_prompts: with {P} prompts the prompt-to-prompt spread alone gives a "
                f"half-width of {z * spread / math.sqrt(P):.4g} > {half_width:g}; more samples "
                f"per prompt cannot fix that. Fix: use at least "
                f"{math.ceil((z * spread / half_width) ** 2) + 1} prompts."
            )
        n = max(k, math.ceil(k * within / target)) if within > 0 else k
    elif P is None:
        P = max(2, math.ceil((z / half_width) ** 2 * (s2 + k / n * within)))
    return P, n, hw(P, n), note


def _per_prompt_var(n: int, p: float, k: int) -> float:
    """Exact variance of the unbiased leak@k estimate of one prompt with n samples."""
    from scipy.stats import binom

    c = np.arange(n + 1)
    pmf = binom.pmf(c, n, p)
    est = leak_at_k_unbiased(n, c, k)
    mean = float(pmf @ est)
    return max(float(pmf @ est**2) - mean**2, 0.0)


def _compare(k, level, P, n, leak_a, leak_b, power, n_comparisons):
    if leak_a == leak_b:
        raise LeakstatsError("leak_a and leak_b are equal: there is no difference to detect. "
                             "Fix: pass the leak@k you expect for each method.")
    alpha = (1 - level) / n_comparisons
    z_a = float(ndtri(1 - alpha / 2))
    pa, pb = _p_of(leak_a, k), _p_of(leak_b, k)
    p0 = _p_of((leak_a + leak_b) / 2, k)
    delta = abs(leak_a - leak_b)

    def power_at(P_, n_):
        s1 = math.sqrt((_per_prompt_var(n_, pa, k) + _per_prompt_var(n_, pb, k)) / P_)
        s0 = math.sqrt(2 * _per_prompt_var(n_, p0, k) / P_)
        return float(ndtr((delta - z_a * s0) / s1))

    note = (f"leak@{k}: {leak_a:g} vs {leak_b:g}, homogeneous prompts (conservative for "
            f"heterogeneous ones); two-sided alpha = {alpha:.3g}"
            + (f" ({n_comparisons} comparisons, Bonferroni)" if n_comparisons > 1 else "")
            + "; within-prompt permutation test, normal approximation")
    if n is None:
        n = _search(lambda n_: power_at(P, n_) >= power, k, 10**7)
        if n is None:
            raise _too_big("number of samples per prompt")
    elif P is None:
        P = _search(lambda P_: power_at(P_, n) >= power, 1, 10**9)
        if P is None:
            raise _too_big("number of prompts")
    return P, n, power_at(P, n), note


def _certify(k, level, P, n, epsilon, p, power):
    p_eps = _p_of(epsilon, k)
    if p >= p_eps:
        raise LeakstatsError(
            f"p: with a true per-sample leak probability of {p:g}, leak@{k} is "
            f"{-math.expm1(k * math.log1p(-p)):.4g} >= epsilon = {epsilon:g}: it cannot be "
            f"certified below epsilon. Fix: a larger epsilon (or a smaller k)."
        )

    def alpha_for(P_, n_):  # certify's rule (equal n): alpha is split for k >= 2, P >= 2
        return (1 - level) / (2 if k >= 2 and P_ >= 2 else 1)

    def prob(P_, n_):
        total = P_ * n_
        a = alpha_for(P_, n_)
        # largest pooled count whose Clopper-Pearson upper bound is <= p_eps
        if betaincinv(1, total, 1 - a) > p_eps:
            return 0.0
        lo, hi = 0, total
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if betaincinv(mid + 1, total - mid, 1 - a) <= p_eps else (lo, mid)
        return float(bdtr(lo, total, p))

    note = (f"every prompt leaks with probability p = {p:g} per sample; certify leak@{k} <= "
            f"{epsilon:g} with the pooled route (conservative: the U-statistic route only helps)")
    if n is None:
        n = _search(lambda n_: prob(P, n_) >= power, 1, _MAX_TOTAL // P)
        if n is None:
            raise _too_big("number of samples per prompt")
        while prob(P, n) < power:  # the binomial saw-tooth: step until it holds
            n += 1
    elif P is None:
        P = _search(lambda P_: prob(P_, n) >= power, 1, _MAX_TOTAL // n)
        if P is None:
            raise _too_big("number of prompts")
        while prob(P, n) < power:
            P += 1
    return P, n, prob(P, n), note


# --------------------------------------------------------------------------- public


def plan(
    goal: str,
    *,
    k=1,
    n_prompts: int | None = None,
    n_samples: int | None = None,
    confidence_level: float = 0.95,
    half_width: float | None = None,
    leak: float | None = None,
    population: str = "prompts",
    spread: float | None = None,
    leak_a: float | None = None,
    leak_b: float | None = None,
    power: float = 0.8,
    n_comparisons: int = 1,
    epsilon: float | None = None,
    p: float | None = None,
) -> PlanResult:
    """How many prompts and samples per prompt a study needs.

    Give ``n_prompts`` (e.g. the size of the benchmark) to plan ``n_samples``, or
    ``n_samples`` to plan ``n_prompts``, or both to see what they achieve.

    Parameters
    ----------
    goal : {"estimate", "compare", "certify"}
        ``"estimate"``: leak@k to an interval half-width ``half_width``, anticipating leak@k
        = ``leak`` (default 0.5, the worst case). ``"compare"``: detect leak@k ``leak_a`` vs
        ``leak_b`` with power ``power`` (within-prompt permutation test). ``"certify"``:
        certify leak@k <= ``epsilon`` with probability ``power`` when every prompt leaks with
        probability ``p`` per sample.
    k : int or sequence of int
        One plan per k.
    n_prompts, n_samples : int, optional
        Fix one (or both) of the two sizes.
    confidence_level : float, default 0.95
        Interval level; tests and bounds use alpha = 1 - confidence_level.
    population : {"prompts", "superpopulation"}
        ``"estimate"`` only. The superpopulation interval also needs ``spread``, the sd of
        per-prompt leak@k across prompts (default: the worst case sqrt(leak (1 - leak))).
    n_comparisons : int, default 1
        ``"compare"`` only: the number of comparisons in the family (Bonferroni).

    Returns
    -------
    PlanResult
        ``to_frame()``: one row per k with ``n_prompts``, ``n_samples``, ``total_samples``,
        ``target``, ``achieved`` and the ``assumptions``.

    Raises
    ------
    ValueError
        On a missing or out-of-range option, an option of another goal, neither size given,
        or an unreachable target.

    Examples
    --------
    >>> import leakstats
    >>> res = leakstats.plan("certify", k=128, n_prompts=400, epsilon=0.01, p=0.0)
    >>> res.to_frame()[["n_prompts", "n_samples"]].values.tolist()
    [[400, 118]]
    >>> res = leakstats.plan("estimate", k=[1, 8], n_prompts=400, half_width=0.02)
    >>> res.to_frame()["n_samples"].tolist()
    [7, 49]
    """
    check_choice("goal", goal, GOALS)
    given = {name for name, value in {
        "half_width": half_width, "leak": leak, "spread": spread, "leak_a": leak_a,
        "leak_b": leak_b, "epsilon": epsilon, "p": p}.items() if value is not None}
    given |= {"population"} if population != "prompts" else set()
    given |= {"power"} if power != 0.8 else set()
    given |= {"n_comparisons"} if n_comparisons != 1 else set()
    foreign = sorted(given - _OPTIONS[goal])
    if foreign:
        raise LeakstatsError(
            f"{foreign[0]}: not an option of goal {goal!r} (its options are "
            f"{sorted(_OPTIONS[goal])}). Fix: drop it, or choose the goal it belongs to."
        )
    ks = parse_k(k)
    level = check_level(confidence_level)
    P, n = _size("n_prompts", n_prompts), _size("n_samples", n_samples)
    if P is None and n is None:
        raise LeakstatsError(
            "n_prompts, n_samples: give at least one. Fix: e.g. n_prompts=400 (the size of the "
            "benchmark) to plan the samples per prompt."
        )
    rows = []
    for kk in map(int, ks):
        if n is not None and n < kk and goal != "certify":
            raise LeakstatsError(f"n_samples: {n} < k = {kk}; leak@k needs k <= n samples per "
                                 "prompt. Fix: more samples per prompt, or a smaller k.")
        if goal == "estimate":
            hw = _prob("half_width", half_width)
            anticipated = 0.5 if leak is None else _prob("leak", leak)
            check_choice("population", population, ("prompts", "superpopulation"))
            most = math.sqrt(anticipated * (1 - anticipated))
            sd = most if spread is None else _prob("spread", spread, allow_zero=True)
            if sd > most * (1 + 1e-12):
                raise LeakstatsError(
                    f"spread: {spread!r} is not possible: leak@k lies in [0, 1], so with mean "
                    f"{anticipated:g} its sd across prompts is at most sqrt(leak (1 - leak)) = "
                    f"{most:.4g}. Fix: pass a spread <= {most:.4g} (the sd of per-prompt "
                    f"leak@k, e.g. from a pilot run), or leave it out for that worst case."
                )
            Pk, nk, got, note = _estimate(kk, level, P, n, hw, anticipated, population, sd)
            target = hw
        elif goal == "compare":
            la, lb = _prob("leak_a", leak_a), _prob("leak_b", leak_b)
            target = _prob("power", power)
            m = _size("n_comparisons", n_comparisons)
            Pk, nk, got, note = _compare(kk, level, P, n, la, lb, target, m)
        else:
            eps = _prob("epsilon", epsilon)
            target = _prob("power", power)
            Pk, nk, got, note = _certify(kk, level, P, n, eps, _prob("p", p, allow_zero=True),
                                         target)
        rows.append({"goal": goal, "k": kk, "n_prompts": Pk, "n_samples": nk,
                     "total_samples": Pk * nk, "target": target, "achieved": got,
                     "confidence_level": level, "assumptions": note})
    return PlanResult(table=pd.DataFrame(rows), goal=goal, confidence_level=level)

