"""Per-arm engine of :func:`leakstats.extrapolate`: fits, bootstrap, intervals, baselines.

Works on validated plain arrays of one arm (per-prompt n and c); the public function in
:mod:`leakstats.extrapolate` validates, loops over arms and assembles the tables.

Intervals
---------
*One family* (``"zi-beta"``, ``"beta"``, ...): bootstrap over prompts (multinomial weights on
the distinct (n, c) pairs), refitting the family by maximum likelihood in every resample
(warm-started at the full-data fit). For the fixed-prompt estimand each resample's fit gives
the conditional mean m_b and variance v_b of the benchmark leak@k given the observed counts;
the interval is the equal-tailed interval of the mixture over resamples of betas with mean
m_b and variance v_b, so it carries both the uncertainty of the fitted law and the randomness
of the benchmark's own prompts given their counts.

*auto*: the same bootstrap, but every resample first *selects* its family among
:data:`AUTO_FAMILIES` by AIC (Buckland, Burnham & Augustin 1997, "Model selection: an integral
part of inference"), so that the interval also carries the uncertainty of which law's shape to
extrapolate with. The point estimate is the prediction of the beta law unless another law's
AIC (an asymptotic leave-one-out criterion, Stone 1977) is lower by more than its margin
(:data:`AUTO_MARGINS`): on a near tie the reference law is kept, since a richer law picked on
a small AIC lead extrapolates further from the truth, when it is wrong, than the beta law
does. The interval is widened to hold the point where needed. The margins were set in the
simulation of benchmarks/extrapolation.py (``--rules`` compares this rule with plain AIC, BIC,
parsimony margins, Akaike weights and bagging).

*power-law* baselines: ordinary least squares on the observed unbiased leak@k curve
(k = 1 .. n_min, log-spaced), intervals by the percentile bootstrap over prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import betainc

from leakstats.core.errors import LeakstatsError
from leakstats.estimate.kernels import distinct_pairs, leak_at_k_unbiased
from leakstats.laws import models as em

#: Families among which ``family="auto"`` selects (per bootstrap resample).
AUTO_FAMILIES = ("beta", "zi-beta", "beta-mix", "logit-normal", "zi-logit-normal")
#: AIC margin by which a law must beat the beta law to be the point estimate of ``auto``:
#: 6 for the logit-normal law (as many parameters: a likelihood ratio of e^3), 12 for the
#: zero-inflated beta (one parameter more: a likelihood-ratio statistic above 14), 6 for the
#: beta mixture (three more: above 12), 16 for the zero-inflated logit-normal.
AUTO_MARGINS = {"beta": 0.0, "zi-beta": 12.0, "beta-mix": 6.0, "logit-normal": 6.0,
                "zi-logit-normal": 16.0}
#: Rules of ``auto`` compared in benchmarks/extrapolation.py (``--rules``), each a pair
#: (rule of the point estimate, rule of every bootstrap resample); see :func:`auto_weights`.
AUTO_RULES = (("beta-first", "aic"), ("aic", "aic"), ("bic", "bic"),
              ("aic-parsimony-4", "aic-parsimony-4"), ("aic-weights", "aic-weights"),
              ("bic-weights", "bic-weights"), ("aic-bagged", "aic"),
              ("beta-first", "beta-first"))
#: The rule ``family="auto"`` uses (docs/extrapolation.md, section 5, says why).
AUTO_RULE = ("beta-first", "aic")
#: Maximum-likelihood families offered as methods.
MLE_METHODS = tuple(em.FAMILIES)
POWER_LAWS = {
    # name: (transform of leak@k fitted linearly in log k, inverse)
    "power-law": "-log(1 - leak@k) = a k^b",
    "power-law-neglog": "-log(leak@k) = a k^(-b)",
}
METHODS = ("auto", *MLE_METHODS, "bayes", *POWER_LAWS)


@dataclass
class Prediction:
    """One method's numbers for one arm: rows for the requested k, the curve, the asymptote."""

    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_method: str
    asymptote: tuple | None = None  # (estimate, se, low, high, ci_method)
    selection: list = field(default_factory=list)


# --------------------------------------------------------------------------- intervals
def mixture_quantiles(mean, var, probs, *, iters: int = 60) -> np.ndarray:
    """Quantiles of the equal-weight mixture of betas with the given means and variances.

    ``mean``, ``var`` (B, K); rows with no variance are point masses. Returns (len(probs), K).
    """
    mean = np.clip(np.asarray(mean, dtype=float), 0.0, 1.0)
    var = np.asarray(var, dtype=float)
    spread = mean * (1 - mean)
    ok = (var > 1e-15) & (var < spread * (1 - 1e-9)) & (mean > 0) & (mean < 1)
    nu = np.where(ok, spread / np.where(ok, var, 1.0) - 1.0, 1.0)
    a = np.where(ok, mean * nu, 1.0)
    b = np.where(ok, (1 - mean) * nu, 1.0)
    out = np.empty((len(probs), mean.shape[1]))
    for i, prob in enumerate(probs):
        lo = np.zeros(mean.shape[1])
        hi = np.ones(mean.shape[1])
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            cdf = np.where(ok, betainc(a, b, mid[None, :]), mean <= mid[None, :]).mean(axis=0)
            below = cdf < prob
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out[i] = hi
    return out


def _interval(point, mean, var, level):
    """(estimate, se, low, high) from a point prediction and (B, K) predictive moments."""
    keep = np.isfinite(mean).all(axis=1) & np.isfinite(var).all(axis=1)
    mean, var = mean[keep], var[keep]
    alpha = 1 - level
    lo, hi = mixture_quantiles(mean, var, [alpha / 2, 1 - alpha / 2])
    se = np.sqrt(mean.var(axis=0) + var.mean(axis=0))
    point = np.clip(point, 0.0, 1.0)
    return point, se, np.clip(np.minimum(lo, point), 0, 1), np.clip(np.maximum(hi, point), 0, 1)


# --------------------------------------------------------------------------- the arm
class ArmData:
    """Distinct pairs, bootstrap weights and k grids of one arm."""

    def __init__(self, n, c, ks, curve_ks, n_resamples, rng):
        self.n = np.asarray(n, dtype=np.int64)
        self.c = np.asarray(c, dtype=np.int64)
        dn, dc, inverse = distinct_pairs(self.n, self.c)
        weight = np.bincount(inverse, minlength=dn.size)
        self.pairs = em.Pairs(dn, dc, weight)
        self.P = int(self.n.size)
        self.ks = np.asarray(ks, dtype=float)
        self.curve_ks = np.asarray(curve_ks, dtype=float)
        #: every k predicted: requested, curve, and the asymptote (last)
        self.all_ks = np.concatenate([self.ks, self.curve_ks, [np.inf]])
        self.n_resamples = n_resamples
        self.boot_weight = rng.multinomial(self.P, weight / self.P, size=n_resamples).astype(float)


def fit_mle(arm: ArmData, names, population: str):
    """Full-data and bootstrap fits of the named families, and the full-data predictions.

    Returns {name: dict(theta, loglik, aic, point (A,), boot_theta (B, p), boot_loglik (B,))}
    over all k of the arm (A = len(arm.all_ks)); bootstrap predictions are computed on
    demand by :func:`boot_moments` (``auto`` needs them only where a family was selected).
    """
    fits = em.fit_families(arm.pairs, names)
    boots = em.bootstrap_fits(arm.pairs, fits, arm.boot_weight)
    out = {}
    for name in names:
        family = em.FAMILIES[name]
        theta, ll = fits[name]
        point, _ = em.predict(family, theta, arm.pairs, arm.all_ks, population)
        boot_theta, boot_ll = boots[name]
        out[name] = {
            "theta": theta,
            "loglik": ll,
            "aic": -2 * ll + 2 * family.n_params,
            "point": point[0],
            "boot_theta": boot_theta,
            "boot_loglik": boot_ll,
        }
    return out


def boot_moments(arm: ArmData, name: str, fit: dict, population: str, rows=None):
    """Predictive (mean, var), each (B', A), of the bootstrap fits (all or the given rows)."""
    theta = fit["boot_theta"] if rows is None else fit["boot_theta"][rows]
    if theta.shape[0] == 0:
        empty = np.empty((0, arm.all_ks.size))
        return empty, empty
    return em.predict(em.FAMILIES[name], theta, arm.pairs, arm.all_ks, population)


def _asymptote_label(name: str) -> str:
    if name.startswith("zi-"):
        return "share of prompts that are not never-leakers (zero-inflation)"
    return "1 by assumption (no prompt has p = 0 under this family)"


def family_prediction(arm: ArmData, name: str, fit: dict, level: float, population: str):
    family = em.FAMILIES[name]
    mean, var = boot_moments(arm, name, fit, population)
    est, se, lo, hi = _interval(fit["point"], mean, var, level)
    what = "fixed-prompt posterior spread included; " if population == "prompts" else ""
    label = (
        f"{family.label} MLE; prompt bootstrap (B={arm.n_resamples}), refitted; {what}"
        "equal-tailed"
    )
    asym = (est[-1], se[-1], lo[-1], hi[-1], f"{label}; asymptote: {_asymptote_label(name)}")
    return Prediction(est[:-1], se[:-1], lo[:-1], hi[:-1], label, asymptote=asym)


def auto_weights(loglik, names, n_prompts: int, rule: str) -> np.ndarray:
    """Weights (F, B) of the families ``names`` in each of B columns of log-likelihoods (F, B).

    ``rule``: ``"beta-first"`` (least AIC + :data:`AUTO_MARGINS`: the beta law unless
    another's AIC is lower by more than its margin), ``"aic"``, ``"bic"`` (the least
    criterion; BIC's penalty is log(n_prompts) per parameter), ``"aic-parsimony-<d>"`` (of
    the families within d of the least AIC, the one with fewest parameters, ties broken by
    AIC), ``"aic-weights"`` / ``"bic-weights"`` (Akaike weights exp(-criterion / 2),
    normalised), ``"aic-bagged"`` (the weights of ``"aic"``; the point estimate is then the
    mean over the resamples, see :func:`auto_prediction`). A family whose fit failed
    (non-finite log-likelihood) gets 0.
    """
    loglik = np.atleast_2d(np.asarray(loglik, dtype=float))
    k = np.array([em.FAMILIES[n].n_params for n in names], dtype=float)[:, None]
    penalty = np.log(n_prompts) if rule.startswith("bic") else 2.0
    crit = np.where(np.isfinite(loglik), -2.0 * loglik + penalty * k, np.inf)
    if rule == "beta-first":
        crit = crit + np.array([AUTO_MARGINS[n] for n in names])[:, None]
    best = crit.min(axis=0)
    out = np.zeros_like(crit)
    if rule.endswith("-weights"):
        with np.errstate(invalid="ignore"):
            w = np.where(np.isfinite(crit), np.exp(-0.5 * (crit - best)), 0.0)
        return w / w.sum(axis=0)
    if "-parsimony-" in rule:
        margin = float(rule.rsplit("-", 1)[1])
        within = crit <= best + margin
        fewest = np.where(within, k, np.inf).min(axis=0)
        crit = np.where(within & (k == fewest), crit, np.inf)
    out[crit.argmin(axis=0), np.arange(crit.shape[1])] = 1.0
    return out


def auto_prediction(arm: ArmData, fits: dict, level: float, population: str, cv: dict,
                    rule: tuple[str, str] = AUTO_RULE):
    """``auto``: the point estimate by ``rule[0]`` on the full data, the interval by a prompt
    bootstrap that applies ``rule[1]`` in every resample (each resample's predictive law is
    the weighted mixture of its families' moment-matched betas)."""
    point_rule, boot_rule = rule
    names = [n for n in AUTO_FAMILIES if n in fits]
    ll = np.array([fits[n]["loglik"] for n in names])
    weight = auto_weights(ll[:, None], names, arm.P, point_rule)[:, 0]  # (F,)
    chosen = int(np.argmax(weight))
    boot_w = auto_weights(np.stack([fits[n]["boot_loglik"] for n in names]), names, arm.P,
                          boot_rule)  # (F, B)
    mean = np.zeros((arm.n_resamples, arm.all_ks.size))
    second = np.zeros_like(mean)
    within = np.zeros_like(mean)
    for i, name in enumerate(names):
        rows = np.flatnonzero(boot_w[i] > 0)
        m, v = boot_moments(arm, name, fits[name], population, rows)
        w = boot_w[i, rows, None]
        mean[rows] += w * m
        second[rows] += w * (v + m * m)
        within[rows] += w * v
    # a resample that selected one law keeps that law's variance as computed
    one_law = (boot_w == 1.0).any(axis=0)[:, None]
    var = np.where(one_law, within, np.maximum(second - mean * mean, 0.0))
    if point_rule.endswith("-bagged"):
        point = mean.mean(axis=0)
    else:
        point = sum(weight[i] * fits[n]["point"] for i, n in enumerate(names))
    est, se, lo, hi = _interval(point, mean, var, level)
    share = boot_w.mean(axis=1)
    label = (f"auto: {_rule_label(point_rule, names[chosen])}; interval: prompt bootstrap "
             f"(B={arm.n_resamples}) with {_rule_label(boot_rule, None)} among "
             f"{', '.join(names)} in every resample (Buckland et al. 1997)")
    n_params = np.array([em.FAMILIES[n].n_params for n in names])
    aic = -2 * ll + 2 * n_params
    selection = []
    for i, name in enumerate(names):
        selection.append({
            "family": name,
            "n_params": int(n_params[i]),
            "loglik": ll[i],
            "aic": aic[i],
            "delta_aic": aic[i] - aic.min(),
            "margin": AUTO_MARGINS[name],
            "cv_loglik": cv.get(name, np.nan),
            "selected": i == chosen,
            "bootstrap_share": share[i],
            "parameters": em.FAMILIES[name].describe(fits[name]["theta"]),
        })
    asym = (est[-1], se[-1], lo[-1], hi[-1], label)
    return Prediction(est[:-1], se[:-1], lo[:-1], hi[:-1], label, asymptote=asym,
                      selection=selection)


def _rule_label(rule: str, chosen: str | None) -> str:
    """Words for a rule of :func:`auto_weights`; with ``chosen``, the law it picked."""
    crit = rule.split("-")[0].upper()
    if rule == "beta-first":
        text = ("beta unless another law's AIC is lower by its margin (logit-normal and "
                "beta-mix 6, zi-beta 12, zi-logit-normal 16)")
        return text if chosen is None else f"{chosen} selected ({text})"
    if rule.endswith("-bagged"):
        return f"bootstrap mean of the {crit}-selected laws"
    if rule.endswith("-weights"):
        return f"average of the laws with {crit} weights"
    if "-parsimony-" in rule:
        margin = rule.rsplit("-", 1)[1]
        what = f"the law with fewest parameters within {margin} of the least {crit}"
        return what if chosen is None else f"{chosen} selected ({what})"
    return f"{crit} selection" if chosen is None else f"{chosen} selected by {crit}"


# --------------------------------------------------------------------------- power laws
def _power_grid(n_min: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, n_min, 20)).astype(np.int64))


def _power_fit(curves, grid, form):
    """OLS of the transformed leak@k curve on log k, per row; (intercept, slope), NaN if < 2
    usable points (leak@k strictly between 0 and 1)."""
    x = np.log(grid.astype(float))[None, :]
    ok = (curves > 0) & (curves < 1)
    safe = np.where(ok, curves, 0.5)
    y = np.log(-np.log1p(-safe)) if form == "power-law" else np.log(-np.log(safe))
    m = ok.astype(float)
    cnt = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xb = (m * x).sum(axis=1) / cnt
        yb = (m * y).sum(axis=1) / cnt
        sxx = (m * (x - xb[:, None]) ** 2).sum(axis=1)
        sxy = (m * (x - xb[:, None]) * (y - yb[:, None])).sum(axis=1)
        slope = sxy / sxx
    bad = (cnt < 2) | ~(sxx > 0)
    slope = np.where(bad, np.nan, slope)
    return np.where(bad, np.nan, yb - slope * xb), slope


def _power_predict(intercept, slope, ks, form):
    eta = np.exp(intercept[:, None] + slope[:, None] * np.log(ks)[None, :])
    return -np.expm1(-eta) if form == "power-law" else np.exp(-eta)


def power_law_prediction(arm: ArmData, form: str, level: float):
    n_min = int(arm.n.min())
    grid = _power_grid(n_min)
    pairs = arm.pairs
    theta_d = leak_at_k_unbiased(pairs.n[:, None].astype(np.int64),
                                 pairs.c[:, None].astype(np.int64), grid[None, :])
    curve = (pairs.weight @ theta_d)[None, :] / arm.P
    a, b = _power_fit(curve, grid, form)
    if not np.isfinite(a[0]):
        raise LeakstatsError(
            f"family={form!r}: the observed leak@k is 0 or 1 at all but at most one k in "
            f"1..{n_min}, so no power law can be fitted. Fix: use a model-based method "
            "(family='auto')."
        )
    ks = arm.all_ks[:-1]
    point = _power_predict(a, b, ks, form)[0]
    boot_curves = arm.boot_weight @ theta_d / arm.P
    ba, bb = _power_fit(boot_curves, grid, form)
    keep = np.isfinite(ba)
    boot = _power_predict(ba[keep], bb[keep], ks, form)
    est, se, lo, hi = _interval(point, boot, np.zeros_like(boot), level)
    label = (
        f"power law {POWER_LAWS[form]} (OLS on the observed leak@k, k = 1..{n_min}); "
        f"percentile prompt bootstrap (B={arm.n_resamples})"
    )
    return Prediction(est, se, lo, hi, label)


# --------------------------------------------------------------------------- Bayes
def bayes_prediction(counts, arm: ArmData, level: float, population: str, options: dict,
                     seed: int):
    """Posterior of the zero-inflated beta-binomial model (leakstats.bayes.model, PyMC)."""
    from leakstats.bayes import _math as bm
    from leakstats.bayes.model import fit_bayes

    opts = {"zero_inflated": True, **options}
    model = fit_bayes(counts[["prompt_id", "n_samples", "n_leaked"]], by=[], rng=seed, **opts)
    finite = arm.all_ks[:-1].astype(np.int64)
    frame = model.to_frame(k=np.unique(finite), population=population, confidence_level=level)
    frame = frame.set_index("k").loc[finite]
    est = frame["estimate"].to_numpy()
    se = frame["se"].to_numpy()
    lo = np.clip(np.minimum(frame["ci_low"].to_numpy(), est), 0, 1)
    hi = np.clip(np.maximum(frame["ci_high"].to_numpy(), est), 0, 1)
    label = str(frame["ci_method"].iloc[0])
    a, b, pi0 = model._hyper(0)
    if population == "prompts":
        pairs = arm.pairs
        z = bm.zero_probability(pairs.c[None, :], pairs.n[None, :], a[:, None], b[:, None],
                                pi0[:, None])
        mean = (1 - z) @ pairs.weight / arm.P
        var = (z * (1 - z)) @ pairs.weight / arm.P**2
    else:
        mean, var = 1 - pi0, np.zeros_like(pi0)
    alo, ahi = mixture_quantiles(mean[:, None], var[:, None], [(1 - level) / 2, (1 + level) / 2])
    aest = float(mean.mean())
    asym = (aest, float(np.sqrt(mean.var() + var.mean())), float(min(alo[0], aest)),
            float(max(ahi[0], aest)), label + "; asymptote: 1 - P(p = 0)")
    return Prediction(est, se, lo, hi, label, asymptote=asym)
