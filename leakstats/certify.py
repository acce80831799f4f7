"""Certified one-sided upper bounds on benchmark leak@k (fixed prompts), valid with zero leaks.

"0 leaks in n samples" is not "leak@k = 0": what a paper can claim is an upper confidence bound
U with P(leak@k <= U) >= confidence_level. Two routes, each with a proof (docs/compare.md):

``"pooled"`` (Jensen + Hoeffding)
    leak@k = 1 - (1 - p)^k is concave in p, so mean_i leak@k(p_i) <= 1 - (1 - pbar)^k with
    pbar = mean_i p_i. The pooled count sum_i c_i is Poisson-binomial; by Hoeffding (1956,
    Thm 4) its lower tail is below the binomial one with the same mean at the levels used
    (alpha <= 1/4), so the Clopper-Pearson upper bound of the pooled count bounds pbar. With
    unequal n_i it bounds the n-weighted mean, and pbar <= (N / (P n_min)) x that. Valid for
    any k, also k > n.
``"u-statistic"`` (Hoeffding 1963 + Chernoff)
    The unbiased estimate is a mean of U-statistics, smaller in the convex order than a mean
    of M = P floor(n_min / k) independent Bernoulli(leak@k_i) variables, itself smaller than a
    binomial proportion with the same mean. The Chernoff bound then gives
    U = max{t : M KL(theta_hat || t) <= log(1 / alpha)}. Sharp when prompts are heterogeneous
    (the Jensen gap of the pooled route is large there). For k > n_min it bounds leak@n_min
    and maps the bound to k by the concave map x -> 1 - (1 - x)^(k / n_min).
``"auto"`` (default)
    The smaller of the two, each at level alpha/2 (a Bonferroni split, so the minimum is
    valid); the pooled route alone, at level alpha, for a single prompt and for k = 1 with
    equal numbers of samples (Jensen is then an equality and the pooled Clopper-Pearson bound
    is exact). The choice depends on the design (k, P, the n_i), never on the leaks, and the
    bound increases with k.

For comparison: ``"union"``, per-prompt Clopper-Pearson bounds at level alpha / P (valid by the
union bound) mapped to leak@k and averaged; ``"scholten"``, the same at level alpha per prompt,
as in the binary leakage bound of Scholten et al. (2025) averaged over prompts: a per-prompt
guarantee, not a guarantee for the mean (its coverage is measured in docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaincinv, rel_entr

from leakstats.core.checks import check_choice, check_level, check_number, parse_k
from leakstats.core.deprecation import renamed_arguments, renamed_attribute
from leakstats.core.errors import LeakstatsError
from leakstats.core.vocabulary import BOUNDS
from leakstats.estimate.kernels import leak_at_k_unbiased
from leakstats.estimate.result import RESULT_COLUMNS

__all__ = ["CERTIFY_METHODS", "CertifyResult", "certify", "upper_bounds"]

#: Bound constructions of :func:`certify` (``bound=``).
CERTIFY_METHODS = BOUNDS
#: Hoeffding's (1956) tail comparison is used at levels alpha <= 1/4.
MIN_LEVEL = 0.75

_LABELS = {
    "pooled": "pooled Clopper-Pearson + Jensen",
    "u-statistic": "U-statistic Chernoff-KL",
    "union": "per-prompt Clopper-Pearson + union bound",
    "scholten": "per-prompt Clopper-Pearson, mean (Scholten et al. 2025)",
}


# --------------------------------------------------------------------------- bounds


def _leak(p, ks) -> np.ndarray:
    """1 - (1 - p)^k, elementwise, stable for tiny p."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return -np.expm1(np.multiply.outer(np.log1p(-np.minimum(p, 1.0)), ks))


def _cp_upper(c, n, alpha) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound at level 1 - alpha (1 where c == n)."""
    c, n = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(n, dtype=float))
    out = np.ones(c.shape)
    below = c < n
    out[below] = betaincinv(c[below] + 1, n[below] - c[below], 1 - alpha)
    return out


def pooled_bound(n, c, ks, alpha: float) -> np.ndarray:
    """Jensen + Hoeffding bound on mean leak@k, one per k (any k, also k > n)."""
    n, c = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    total = int(n.sum())
    p_weighted = float(_cp_upper(int(c.sum()), total, alpha))
    p_bar = min(1.0, p_weighted * total / (n.size * int(n.min())))
    return _leak(p_bar, np.asarray(ks, dtype=float))


def kl_upper(theta, m, alpha: float) -> np.ndarray:
    """Largest t >= theta with m * KL(theta || t) <= log(1 / alpha) (Bernoulli KL)."""
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    m = np.broadcast_to(np.asarray(m, dtype=float), theta.shape)
    target = np.log(1.0 / alpha) / m
    lo, hi = theta.copy(), np.ones(theta.shape)
    for _ in range(100):  # bisection: KL(theta || t) increases in t on [theta, 1]
        mid = 0.5 * (lo + hi)
        kl = rel_entr(theta, mid) + rel_entr(1 - theta, 1 - mid)
        inside = kl <= target
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return np.where(theta >= 1, 1.0, hi)


def ustat_bound(n, c, ks, alpha: float) -> np.ndarray:
    """U-statistic (convex order) + Chernoff-KL bound, one per k.

    For k <= min n the bound is on leak@k directly; beyond, it bounds leak@j at j = min n and
    maps it with x -> 1 - (1 - x)^(k / j), concave and increasing, so Jensen's inequality
    carries the bound over (leak@k_i = 1 - (1 - leak@j_i)^(k / j) for every prompt).
    """
    n, c = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    ks = np.asarray(ks, dtype=np.int64)
    js = np.minimum(ks, int(n.min()))
    theta = leak_at_k_unbiased(n[:, None], c[:, None], js[None, :]).mean(axis=0)
    m = n.size * (int(n.min()) // js)
    u = kl_upper(theta, m, alpha)
    with np.errstate(divide="ignore"):
        return -np.expm1(np.log1p(-np.minimum(u, 1.0)) * (ks / js))


def per_prompt_bound(n, c, ks, alpha: float, *, union: bool) -> np.ndarray:
    """Mean over prompts of the per-prompt Clopper-Pearson bound mapped to leak@k; at level
    alpha / P when ``union`` (simultaneous, valid for the mean), else alpha (Scholten et al.)."""
    n = np.asarray(n)
    level = alpha / n.size if union else alpha
    u = _cp_upper(c, n, level)
    return _leak(u, np.asarray(ks, dtype=float)).mean(axis=0)


def upper_bounds(n, c, ks, *, confidence_level: float = 0.95, bound: str = "auto"):
    """Upper bounds for one arm from per-prompt counts (validated input).

    Returns (bounds, route labels), one per k; ``route`` names the construction that gave
    the bound (for ``"auto"``: the smaller of the two routes).
    """
    alpha = 1.0 - confidence_level
    ks = np.asarray(ks, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    if bound in ("union", "scholten"):
        bounds = per_prompt_bound(n, c, ks, alpha, union=bound == "union")
        return bounds, [_LABELS[bound]] * ks.size
    if bound == "pooled":
        return pooled_bound(n, c, ks, alpha), [_LABELS["pooled"]] * ks.size
    if bound == "u-statistic":
        return ustat_bound(n, c, ks, alpha), [_LABELS["u-statistic"]] * ks.size
    # k = 1 with equal n: Jensen is an equality and Clopper-Pearson on the pooled count is
    # exact, so the U-statistic (Chernoff) route cannot help and alpha is not split.
    equal_n = bool((n == n[0]).all())
    both = ((ks >= 2) | (not equal_n)) & (n.size >= 2)
    bounds = pooled_bound(n, c, ks, alpha)
    routes = [f"{_LABELS['pooled']} (alpha)"] * ks.size
    if both.any():
        split_pooled = pooled_bound(n, c, ks[both], alpha / 2)
        split_u = ustat_bound(n, c, ks[both], alpha / 2)
        bounds[both] = np.minimum(split_pooled, split_u)
        for j, i in enumerate(np.flatnonzero(both)):
            which = "pooled" if split_pooled[j] <= split_u[j] else "U-statistic"
            routes[i] = f"min of pooled and U-statistic routes at alpha/2: {which}"
    return bounds, routes


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False, eq=False)
class CertifyResult:
    """One-sided upper confidence bounds on fixed-prompt leak@k, one row per arm and k.

    ``ci_low`` is 0 and ``ci_high`` is the bound; ``estimate`` is the unbiased leak@k (NaN for
    k above the smallest number of samples, where no unbiased estimate exists).
    """

    table: pd.DataFrame = field(repr=False)
    arms: tuple[str, ...]
    confidence_level: float
    bound: str
    epsilon: float | None

    method = renamed_attribute("method", "bound")

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: arm columns, ``k``, the :data:`RESULT_COLUMNS`, ``upper_bound``,
        ``route`` and, with ``epsilon``, ``certified`` (upper_bound <= epsilon)."""
        return self.table.copy()

    def __repr__(self) -> str:
        from leakstats.report.tables import format_table

        head = (f"CertifyResult(one-sided upper bounds, confidence_level="
                f"{self.confidence_level:g}, bound={self.bound!r}"
                + (f", epsilon={self.epsilon:g})" if self.epsilon is not None else ")"))
        shown = self.table.drop(columns=["route"])
        return head + "\n" + format_table(shown, format="table")


# --------------------------------------------------------------------------- public


def _certify_iv(k, confidence_level, bound, epsilon):
    ks = parse_k(k)
    level = check_level(confidence_level)
    if level < MIN_LEVEL:
        raise LeakstatsError(
            f"confidence_level: {level!r} is below {MIN_LEVEL}; the certified bounds rest on "
            "Hoeffding's (1956) tail comparison, proven for levels >= 0.75. Fix: pass e.g. "
            "confidence_level=0.95."
        )
    check_choice("bound", bound, CERTIFY_METHODS)
    if epsilon is not None:
        check_number("epsilon", epsilon, low=0, high=1, low_open=True, high_open=True,
                     fix="pass the leak@k you want to certify as an upper limit, e.g. "
                         "epsilon=0.05")
    return ks, level


@renamed_arguments(method="bound")
def certify(
    data,
    k=(1,),
    *,
    confidence_level: float = 0.95,
    bound: str = "auto",
    epsilon: float | None = None,
    by=None,
) -> CertifyResult:
    """Certified upper bound on leak@k per arm, for the benchmark's (fixed) prompts.

    With probability at least ``confidence_level`` over the sampling of the generations, the
    benchmark's true leak@k (mean over its prompts of 1 - (1 - p_i)^k) is at most the bound,
    whatever the per-prompt leak probabilities p_i; also when nothing leaked.

    Parameters
    ----------
    data : DataFrame or path
        Records or counts (see :func:`leak_at_k`).
    k : int or sequence of int
        The k values; the bounds also hold for k above the number of samples.
    confidence_level : float, default 0.95
        One-sided level, at least 0.75.
    bound : {"auto", "pooled", "u-statistic", "union", "scholten"}
        ``"auto"``: the smaller of the pooled and U-statistic bounds, each at level alpha/2
        (only the pooled one, at alpha, for k = 1 or a single prompt). ``"union"`` and
        ``"scholten"`` are the per-prompt baselines (see the module notes; ``"scholten"`` does
        not guarantee the level for the mean).
    epsilon : float, optional
        Adds a ``certified`` column: whether the bound is at most ``epsilon``.
    by : str or list of str, optional
        Arm columns (default: those of :data:`ARM_COLUMNS` present).

    Returns
    -------
    CertifyResult
        ``to_frame()``: arm columns, ``k``, ``estimate``, ``se``, ``ci_low`` (0), ``ci_high``
        (the bound), ``confidence_level``, ``ci_method``, ``n_prompts``, ``n_samples``,
        ``population`` ("prompts"), ``upper_bound`` (equal to ``ci_high``), ``route`` (the
        construction that gave the bound) and, with ``epsilon``, ``certified``.

    Raises
    ------
    ValueError
        On invalid data or arguments (the message names the column or argument and the fix).

    Examples
    --------
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"prompt_id": range(400), "n_samples": 200, "n_leaked": 0})
    >>> res = leakstats.certify(counts, k=[1, 128], epsilon=0.01)
    >>> res.to_frame()[["k", "upper_bound", "certified"]].round(5).values.tolist()
    [[1, 4e-05, True], [128, 0.00588, True]]
    """
    from leakstats.estimate.intervals import arm_intervals
    from leakstats.records.api import as_counts

    ks, level = _certify_iv(k, confidence_level, bound, epsilon)
    counts, arms = as_counts(data, by=by)
    groups = counts.groupby(arms, sort=False, dropna=False) if arms else [((), counts)]
    frames = []
    for key, group in groups:
        n = group["n_samples"].to_numpy(np.int64)
        c = group["n_leaked"].to_numpy(np.int64)
        n_min = int(n.min())
        bounds, routes = upper_bounds(n, c, ks, confidence_level=level, bound=bound)
        estimate = np.full(ks.size, np.nan)
        se = np.full(ks.size, np.nan)
        ok = ks <= n_min
        if ok.any():
            est = arm_intervals(n, c, ks[ok], confidence_level=level)
            estimate[ok], se[ok] = est.estimate, est.se
        frame = pd.DataFrame({
            "k": ks, "estimate": estimate, "se": se, "ci_low": 0.0,
            "ci_high": np.maximum(bounds, np.nan_to_num(estimate)),
            "confidence_level": level,
            "ci_method": [f"one-sided upper bound: {r}" for r in routes],
            "n_prompts": n.size, "n_samples": int(n.sum()), "population": "prompts",
        })
        frame["upper_bound"] = frame["ci_high"]
        frame["route"] = routes
        if epsilon is not None:
            frame["certified"] = frame["upper_bound"] <= epsilon
        key = key if isinstance(key, tuple) else (key,)
        for name, value in zip(arms, key, strict=True):
            frame[name] = value
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    extra = ["upper_bound", "route"] + (["certified"] if epsilon is not None else [])
    table = table[[*arms, "k", *RESULT_COLUMNS, *extra]]
    for name in arms:
        table[name] = table[name].astype(counts[name].dtype)
    return CertifyResult(table=table, arms=tuple(arms), confidence_level=level, bound=bound,
                         epsilon=None if epsilon is None else float(epsilon))

