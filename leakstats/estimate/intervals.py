"""Confidence intervals for benchmark leak@k, for one arm, on plain arrays.

Two estimands (see docs/methodology.md):

* ``"prompts"`` (fixed prompts): theta = mean_i leak@k(p_i) over the benchmark's prompts;
  only the sampling of generations is random.
* ``"superpopulation"``: theta = E[leak@k(p)] over the population the prompts were drawn from;
  prompt-to-prompt variation is random too.

Interval methods (``ci_method`` in results says exactly which construction produced a row):

``"cp-eb"`` (fixed-prompt default)
    Clopper-Pearson at an effective sample size n* = theta (1 - theta) / var (z / t_df)^2,
    with var an empirical-Bayes estimate of the estimator's sampling variance (posterior mean
    of each prompt's exact Var(U_i) under a zero-inflated beta law fitted to the counts,
    :mod:`leakstats.estimate.fixed_variance`), never below the unbiased variance estimate where
    2k <= n, and where 2k > n scaled up to the unbiased estimate at k = n // 2 and to the
    delete-one jackknife corrected by its excess there (:mod:`leakstats.estimate.sharp`); df is
    Satterthwaite's effective number of prompts carrying the variance, or, where that is below
    DF_MEASURED, the df of the variance estimate measured by a parametric bootstrap
    (:func:`leakstats.estimate.sharp.bootstrap_df`). n* never falls below the Hoeffding
    bound P n_min / k, so the interval is never wider than ``"cp-effective"``; it *is*
    ``"cp-effective"`` with nothing leaked and, by rule, with fewer than 30 prompts when
    2k > n. :class:`FixedSharp` holds what it needs at any level (the score and MOVER
    difference intervals of :mod:`leakstats.compare._difference` use it).
``"cp-effective"`` (superpopulation default; conservative fixed-prompt option)
    A Clopper-Pearson interval on an *effective sample size* n* = theta(1 - theta) / Var
    (Korn & Graubard 1998). It never has zero width, stays inside [0, 1] and reduces to the
    exact binomial interval in the cases where that is exact.

    - prompts: n* = P * n_min / k, which is a lower bound on the true effective size by
      Hoeffding's U-statistic inequality Var(U_n) <= (k/n) Var(kernel); with nothing leaked
      the upper limit equals the pooled Clopper-Pearson bound mapped through Jensen's
      inequality, which is valid for any heterogeneity of the prompts.
    - superpopulation: n* from the sample variance of the per-prompt estimates, shrunk by a
      degrees-of-freedom factor that accounts for kurtosis, kept between P (the worst case for
      [0, 1]-valued prompt estimates) and P n_min / k (homogeneous prompts); n* = P when all
      estimates are equal (nothing leaked); shrunk further when prompt heterogeneity is too
      skewed for the number of prompts (Cochran's rule). See :func:`_superpop_n_eff`.
``"wald"``
    estimate +/- z * se clipped to [0, 1] (t quantile with P - 1 df for superpopulation): the
    textbook interval, offered for comparison. It has zero width when nothing leaked and
    under-covers badly with rare leaks (docs/benchmarks.md).
``"bootstrap"``
    percentile bootstrap, seeded by ``rng``: over prompts (superpopulation) or over samples
    within each prompt (prompts). Where every resample is identical (nothing leaked) it
    falls back to the ``cp-effective`` interval and says so in ``ci_method``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv, ndtri, stdtrit

from leakstats.core.checks import check_rng
from leakstats.core.vocabulary import CI_METHODS, POPULATIONS  # noqa: F401 (re-exported)
from leakstats.estimate.kernels import distinct_pairs, fixed_variance_unbiased, leak_at_k_unbiased

DEFAULT_METHOD = {"prompts": "cp-eb", "superpopulation": "cp-effective"}
#: Below this many prompts, heterogeneous prompts get the distribution-free n* = P.
FEW_PROMPTS = 30
#: Below this Satterthwaite df (t quantile 1.2% above z), cp-eb measures df by bootstrap.
DF_MEASURED = 100
#: Above this many successes and failures, Clopper-Pearson limits use the normal form.
_NORMAL_COUNT = 1e7


@dataclass(frozen=True)
class ArmEstimate:
    """Point estimates and intervals for one arm, one entry per k."""

    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_method: tuple[str, ...]
    per_prompt: np.ndarray  # (P, K) unbiased per-prompt estimates


@dataclass(frozen=True)
class FixedSharp:
    """The ``cp-eb`` interval of one arm at any level: estimate, sharp variance, its degrees of
    freedom and the Hoeffding floor of the effective sample size, one entry per k.

    At level L, n* = theta (1 - theta) / var * (z_L / t_L,df)^2, never below ``n_floor``,
    and the limits are Clopper-Pearson's for theta n* successes in n* trials.
    """

    theta: np.ndarray
    var: np.ndarray
    df: np.ndarray
    n_floor: np.ndarray
    few: np.ndarray  # Hoeffding by rule: fewer than FEW_PROMPTS prompts and 2k > n

    def n_eff(self, confidence_level) -> np.ndarray:
        q = 0.5 + np.asarray(confidence_level, dtype=float) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = (ndtri(q) / stdtrit(np.fmax(self.df, 1.0), q)) ** 2
            n_est = self.theta * (1 - self.theta) / self.var * shrink
        return np.where(np.isfinite(n_est) & (n_est > self.n_floor), n_est, self.n_floor)

    def limits(self, confidence_level) -> tuple[np.ndarray, np.ndarray]:
        n_eff = self.n_eff(confidence_level)
        lo, hi = clopper_pearson(self.theta * n_eff, n_eff, confidence_level)
        return np.minimum(lo, self.theta), np.maximum(hi, self.theta)

    def labels(self) -> tuple[str, ...]:
        sharp = self.n_eff(0.95) > self.n_floor
        return tuple(
            f"cp-eb (Hoeffding n*: fewer than {FEW_PROMPTS} prompts, 2k > n)" if f
            else "cp-eb (empirical-Bayes n*)" if s else "cp-eb (Hoeffding n*)"
            for s, f in zip(sharp, self.few, strict=True)
        )


def clopper_pearson(x, n, confidence_level) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Clopper-Pearson limits for (possibly non-integer) x successes in n trials
    (``confidence_level`` a number or an array broadcast with x and n)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    x, n, alpha = np.broadcast_arrays(x, n, 1.0 - np.asarray(confidence_level, dtype=float))
    lo = np.zeros(x.shape)
    hi = np.ones(x.shape)
    pos = x > 0
    lo[pos] = betaincinv(x[pos], n[pos] - x[pos] + 1, alpha[pos] / 2)
    below = x < n
    hi[below] = betaincinv(x[below] + 1, n[below] - x[below], 1 - alpha[below] / 2)
    # Beyond ~1e7 successes and failures betaincinv loses its digits; the limits are then
    # the normal ones to within 1 / n.
    big = (x > _NORMAL_COUNT) & (n - x > _NORMAL_COUNT)
    if big.any():
        theta = x[big] / n[big]
        half = ndtri(1 - alpha[big] / 2) * np.sqrt(theta * (1 - theta) / n[big])
        lo[big], hi[big] = theta - half, theta + half
    return lo, hi


class _Arm:
    """Per-arm workspace: distinct (n, c) pairs and their multiplicities."""

    def __init__(self, n: np.ndarray, c: np.ndarray, ks: np.ndarray):
        self.n = np.asarray(n, dtype=np.int64)
        self.c = np.asarray(c, dtype=np.int64)
        self.ks = np.asarray(ks, dtype=np.int64)
        self.P = self.n.size
        self.n_min = int(self.n.min())
        self.dn, self.dc, self.inverse = distinct_pairs(self.n, self.c)
        self.weight = np.bincount(self.inverse, minlength=self.dn.size).astype(float)
        # (D, K) per-pair estimates
        self.theta_d = leak_at_k_unbiased(self.dn[:, None], self.dc[:, None], self.ks[None, :])
        self.estimate = self.weight @ self.theta_d / self.P

    def per_prompt(self) -> np.ndarray:
        return self.theta_d[self.inverse]

    # -- variances -------------------------------------------------------------------------
    def fixed_var_unbiased(self) -> np.ndarray:
        """Unbiased Var(estimate) under fixed prompts; NaN where 2k > n_min."""
        out = np.full(self.ks.size, np.nan)
        ok = 2 * self.ks <= self.n_min
        if ok.any():
            v = fixed_variance_unbiased(self.dn[:, None], self.dc[:, None], self.ks[None, ok])
            out[ok] = self.weight @ v / self.P**2
        return out

    def fixed_n_eff_bound(self) -> np.ndarray:
        """Hoeffding lower bound on the effective sample size: P * n_min / k."""
        return self.P * self.n_min / self.ks

    def fixed_sharp(self, *, measure_df: bool = True) -> FixedSharp:
        """The cp-eb interval's ingredients (see :class:`FixedSharp`).

        var is :func:`leakstats.estimate.sharp.sharp_variance` (the empirical-Bayes variance
        scaled up wherever a model-free estimate is larger); where the fit is not possible the
        unbiased estimate is used alone. df is Satterthwaite's effective number of prompts
        carrying the variance where that is at least DF_MEASURED for every k; below, it is
        measured by the parametric bootstrap of :func:`leakstats.estimate.sharp.bootstrap_df`
        (``measure_df=False``: Satterthwaite's always). With fewer than FEW_PROMPTS prompts
        and 2k > n, var is NaN (Hoeffding's n* by rule).
        """
        from leakstats.estimate.fixed_variance import fit_priors
        from leakstats.estimate.sharp import bootstrap_df, sharp_variance

        prior = fit_priors(self.dn, self.dc, self.weight)
        var, df = (v[0] for v in sharp_variance(self.dn, self.dc, self.weight, prior, self.ks,
                                                self.n_min, self.P))
        use_u = 2 * self.ks <= self.n_min
        # With fewer than FEW_PROMPTS prompts and 2k > n the estimates are nearly 0/1 (a
        # lattice of P + 1 values) and the prior is fitted on too few prompts: Hoeffding's n*.
        few = (self.P < FEW_PROMPTS) & ~use_u
        var = np.where(few, np.nan, var)
        sharp = np.isfinite(var) & (var > 0)
        if measure_df and (sharp & (df < DF_MEASURED)).any():
            measured = bootstrap_df(self.n, self.c, self.ks, prior[0])
            df = np.where(np.isnan(measured), df, measured)
        return FixedSharp(self.estimate, var, df, self.fixed_n_eff_bound(), few)

    def super_var(self) -> np.ndarray:
        """Sample variance of per-prompt estimates / P (NaN for a single prompt)."""
        if self.P < 2:
            return np.full(self.ks.size, np.nan)
        dev = self.theta_d - self.estimate[None, :]
        s2 = self.weight @ (dev * dev) / (self.P - 1)
        return s2 / self.P


def _cp_effective(theta, n_eff, confidence_level):
    return clopper_pearson(theta * n_eff, n_eff, confidence_level)


def _fixed(arm: _Arm, ci_method: str, confidence_level: float, n_resamples: int, rng):
    theta = arm.estimate
    var_u = arm.fixed_var_unbiased()
    n0 = arm.fixed_n_eff_bound()
    var_bound = theta * (1 - theta) / n0
    has_u = ~np.isnan(var_u)
    se = np.sqrt(np.where(has_u, var_u, var_bound))
    K = arm.ks.size
    if ci_method == "cp-effective":
        lo, hi = _cp_effective(theta, n0, confidence_level)
        labels = ("cp-effective (Hoeffding n*)",) * K
    elif ci_method == "cp-eb":
        sharp = arm.fixed_sharp()
        lo, hi = sharp.limits(confidence_level)
        se = np.where(np.isfinite(sharp.var), np.sqrt(sharp.var), se)
        labels = sharp.labels()
    elif ci_method == "wald":
        z = ndtri(0.5 + confidence_level / 2)
        lo, hi = np.clip(theta - z * se, 0, 1), np.clip(theta + z * se, 0, 1)
        labels = tuple("wald" if u else "wald (variance bound, 2k > n)" for u in has_u)
    else:  # bootstrap within prompts
        boot = _bootstrap_within(arm, confidence_level, n_resamples, rng)
        lo, hi, labels = _bootstrap_or_fallback(boot, theta, n0, confidence_level, "within")
    return se, lo, hi, labels


def _superpop_n_eff(arm: _Arm, var: np.ndarray, confidence_level: float):
    """Effective sample size for the superpopulation interval, and how it was chosen.

    n* = theta (1 - theta) / (s^2 / P) (Korn & Graubard 1998), shrunk by (z / t_df)^2 where
    df = 2 / (2 / (P - 1) + excess kurtosis / P) is the precision of s^2 under non-normal data
    (at most m - 1, m the number of prompts off the common value), and, when prompt
    heterogeneity dominates the variance (between-prompt share above one half)
    and there are too few prompts for its skewness G1 (Cochran's rule P >= 25 G1^2), shrunk
    by the factor P / (25 G1^2). n* is then kept within [P, max(P, P n_min / k)]: P is the
    worst case for [0, 1]-valued prompt estimates, P n_min / k the homogeneous-prompts value.
    With fewer than 30 prompts, n* = P: so few prompts cannot show the tail of a skewed
    difficulty distribution (the coverage study found 89-92% coverage there without this rule).
    """
    P = arm.P
    theta = arm.estimate
    z = ndtri(0.5 + confidence_level / 2)
    dev = arm.theta_d - theta[None, :]
    m2 = arm.weight @ dev**2 / P
    with np.errstate(divide="ignore", invalid="ignore"):
        kurt = np.where(m2 > 0, (arm.weight @ dev**4 / P) / m2**2 - 3.0, 0.0)
        skew = np.where(m2 > 0, (arm.weight @ dev**3 / P) / m2**1.5, 0.0)
        df = np.clip(2.0 / (2.0 / (P - 1) + np.maximum(kurt, 0.0) / P), 1.0, P - 1)
        # Only prompts off the common value (any leak, or short of always leaking) carry the
        # spread: their number bounds the degrees of freedom of s^2.
        minority = np.minimum(arm.weight @ (arm.theta_d > 0), arm.weight @ (arm.theta_d < 1))
        df = np.clip(np.minimum(df, minority - 1.0), 1.0, P - 1)
        n_kg = theta * (1 - theta) / var * (z / stdtrit(df, 0.5 + confidence_level / 2)) ** 2
    # Within-prompt share of the variance: unbiased where 2k <= n, else Hoeffding's bound.
    within = arm.fixed_var_unbiased()
    bound = (arm.ks / arm.n_min) * (arm.weight @ (arm.theta_d * (1 - arm.theta_d))) / P**2
    within = np.where(np.isnan(within), bound, within)
    with np.errstate(divide="ignore", invalid="ignore"):
        between_share = np.where(var > 0, 1.0 - within / var, 0.0)
        # Cochran's rule: the normal shape needs P >= 25 G1^2; short of it, shrink n*.
        cochran = np.where(skew != 0, P / (25.0 * skew**2), np.inf)
    too_skewed = (between_share > 0.5) & (cochran < 1)
    n_kg = np.where(too_skewed, n_kg * cochran, n_kg)
    cap = np.maximum(float(P), P * arm.n_min / arm.ks)
    # Fewer than 30 prompts cannot reveal the tail of the distribution of prompt difficulty
    # (a minority of prompts that leak a lot): use the distribution-free n* = P.
    few = np.full(theta.shape, P < FEW_PROMPTS)
    degenerate = ~(var > 0)
    n_eff = np.where(degenerate | few, float(P), np.minimum(np.maximum(n_kg, P), cap))
    labels = tuple(
        "cp-effective (n* = P: no spread)" if d
        else f"cp-effective (n* = P: fewer than {FEW_PROMPTS} prompts)" if f
        else "cp-effective (Korn-Graubard n*, skewness-shrunk)" if s
        else "cp-effective (Korn-Graubard n*)"
        for d, f, s in zip(degenerate, few, too_skewed, strict=True)
    )
    return n_eff, labels


def _superpop(arm: _Arm, ci_method: str, confidence_level: float, n_resamples: int, rng):
    theta = arm.estimate
    var = arm.super_var()
    se = np.sqrt(var)
    K = arm.ks.size
    P = arm.P
    if ci_method == "cp-effective":
        n_eff, labels = _superpop_n_eff(arm, var, confidence_level)
        lo, hi = _cp_effective(theta, n_eff, confidence_level)
    elif ci_method == "wald":
        t = stdtrit(P - 1, 0.5 + confidence_level / 2)
        lo, hi = np.clip(theta - t * se, 0, 1), np.clip(theta + t * se, 0, 1)
        labels = ("wald (t, P-1 df)",) * K
    else:
        boot = _bootstrap_prompts(arm, confidence_level, n_resamples, rng)
        lo, hi, labels = _bootstrap_or_fallback(boot, theta, float(P), confidence_level, "prompts")
    return se, lo, hi, labels


def _bootstrap_or_fallback(boot, theta, n_eff, confidence_level, kind: str):
    """Percentile limits, replaced by cp-effective (at ``n_eff``) where every resample is equal."""
    lo, hi, degenerate = boot
    flo, fhi = _cp_effective(theta, n_eff, confidence_level)
    lo = np.where(degenerate, flo, lo)
    hi = np.where(degenerate, fhi, hi)
    labels = tuple(
        f"bootstrap-{kind} (degenerate: cp-effective)" if d else f"bootstrap-{kind}"
        for d in degenerate
    )
    return lo, hi, labels


def _percentile(boot: np.ndarray, confidence_level: float):
    alpha = 1 - confidence_level
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    degenerate = np.ptp(boot, axis=0) == 0
    return lo, hi, degenerate


def _bootstrap_prompts(arm: _Arm, confidence_level, n_resamples, rng):
    """Resample prompts with replacement; multinomial weights over distinct pairs."""
    probs = arm.weight / arm.P
    w = rng.multinomial(arm.P, probs, size=n_resamples) / arm.P  # (B, D)
    boot = w @ arm.theta_d  # (B, K)
    return _percentile(boot, confidence_level)


def _bootstrap_within(arm: _Arm, confidence_level, n_resamples, rng):
    """Resample each prompt's samples with replacement: c* ~ Binomial(n_i, c_i / n_i)."""
    K = arm.ks.size
    boot = np.zeros((n_resamples, K))
    rows = np.arange(n_resamples)[:, None]
    for d in range(arm.dn.size):
        n_d, c_d, w_d = int(arm.dn[d]), int(arm.dc[d]), int(arm.weight[d])
        if c_d == 0 or c_d == n_d:  # resamples of these prompts never change
            boot += w_d * arm.theta_d[d]
            continue
        draws = rng.binomial(n_d, c_d / n_d, size=(n_resamples, w_d))
        values, inv = np.unique(draws, return_inverse=True)
        table = leak_at_k_unbiased(n_d, values[:, None], arm.ks[None, :])  # (V, K)
        flat = (rows * values.size + inv.reshape(n_resamples, w_d)).reshape(-1)
        hits = np.bincount(flat, minlength=n_resamples * values.size)
        hits = hits.reshape(n_resamples, values.size)
        boot += hits @ table
    boot /= arm.P
    return _percentile(boot, confidence_level)


def arm_intervals(
    n,
    c,
    ks,
    *,
    population: str = "prompts",
    ci_method: str = "auto",
    confidence_level: float = 0.95,
    n_resamples: int = 2000,
    rng=None,
) -> ArmEstimate:
    """Estimate leak@k and its interval for one arm from per-prompt counts (validated input)."""
    arm = _Arm(n, c, ks)
    if ci_method == "auto":
        ci_method = DEFAULT_METHOD[population]
    if ci_method == "cp-eb" and population != "prompts":
        raise ValueError("ci_method='cp-eb' is a fixed-prompt interval (population='prompts')")
    if ci_method == "bootstrap":
        rng = check_rng(rng)
    if population == "prompts":
        se, lo, hi, labels = _fixed(arm, ci_method, confidence_level, n_resamples, rng)
    else:
        se, lo, hi, labels = _superpop(arm, ci_method, confidence_level, n_resamples, rng)
    # The point estimate always lies in its interval (guards against round-off at the edges).
    lo = np.minimum(lo, arm.estimate)
    hi = np.maximum(hi, arm.estimate)
    return ArmEstimate(
        k=arm.ks,
        estimate=arm.estimate,
        se=se,
        ci_low=lo,
        ci_high=hi,
        ci_method=labels,
        per_prompt=arm.per_prompt(),
    )
