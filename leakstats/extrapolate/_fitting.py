"""Argument checks and per-arm fitting behind :func:`leakstats.extrapolate`.

This module holds the helpers that :mod:`leakstats.extrapolate.api` calls: the validation of
the arguments (``_parse_families``, also used by ``backtest``, and ``_extrapolate_iv``) and of
every arm's counts (``_check_arm``), the k grids of the curve and observed tables, the builder
of the result frames (``_frame``), the seed drawn for the Bayesian sampler (``_child_seed``),
and ``_arm_predictions``, which fits the requested laws to one arm and returns its five tables
(predictions, asymptotes, curve, observed, selection). It also defines the columns of the
selection table and the threshold of the few-leaking-prompts warning. It imports nothing from
:mod:`leakstats.extrapolate.api`, which imports it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from leakstats.core.checks import check_choice, check_int, check_level, parse_k
from leakstats.core.errors import DegenerateDataWarning, LeakstatsError, raise_bad_rows, warn
from leakstats.core.vocabulary import FAMILIES
from leakstats.estimate.intervals import POPULATIONS, arm_intervals
from leakstats.extrapolate import engine as eng

#: Columns of :meth:`leakstats.extrapolate.api.ExtrapolationResult.selection`.
SELECTION_COLUMNS = ("family", "n_params", "loglik", "aic", "delta_aic", "margin", "cv_loglik",
                     "selected", "bootstrap_share", "parameters")
#: Fewer prompts with a leak than this: the shape of the law is barely informed (warning).
FEW_LEAKING = 10


# --------------------------------------------------------------------------- validation
def _parse_families(family) -> tuple[str, ...]:
    values = [family] if isinstance(family, str) else family
    if not isinstance(values, Iterable) or isinstance(values, dict):
        raise LeakstatsError(
            f"family: expected a family name or a list of them, got {family!r}. "
            f"Fix: pass one of {', '.join(map(repr, FAMILIES))}."
        )
    out = []
    for v in values:
        check_choice("family", v, FAMILIES)
        if v not in out:
            out.append(v)
    if not out:
        raise LeakstatsError("family: empty. Fix: pass e.g. family='auto'.")
    return tuple(out)


def _extrapolate_iv(k, family, confidence_level, population, n_resamples, bayes_options):
    ks = parse_k(k)
    families = _parse_families(family)
    level = check_level(confidence_level)
    check_choice("population", population, POPULATIONS)
    n_resamples = check_int("n_resamples", n_resamples, 50, 200)
    if bayes_options is not None and not isinstance(bayes_options, dict):
        raise LeakstatsError(
            f"bayes_options: expected a dict of leakstats.fit_bayes arguments, got "
            f"{type(bayes_options).__name__}. Fix: e.g. bayes_options={{'draws': 500}}."
        )
    return ks, families, level, n_resamples, dict(bayes_options or {})


def _check_arm(group: pd.DataFrame, label: str) -> None:
    """Can these counts support extrapolation? Raise with the reason and the fix if not."""
    n = group["n_samples"].to_numpy()
    c = group["n_leaked"].to_numpy()
    raise_bad_rows(
        group, n < 2, column="n_samples",
        problem=f"fewer than 2 samples per prompt in {label}",
        fix="extrapolation needs at least 2 samples of every prompt (the spread of the counts "
            "within prompts is what reveals how leak rates vary across prompts; 50 or more "
            "are advisable). Draw more samples, or drop these prompts.",
        columns=["prompt_id", "n_samples", "n_leaked"],
    )
    if len(group) < 2:
        raise LeakstatsError(
            f"{label} has a single prompt: extrapolation fits a law of leak rates across "
            "prompts, which needs at least 2 prompts (20 or more for a useful fit). Fix: add "
            "prompts."
        )
    if c.sum() == 0:
        raise LeakstatsError(
            f"No sample leaked in {label} ({len(group)} prompts, {int(n.sum())} samples): "
            "nothing in the data tells prompts that never leak from rare leaks, so leak@k at "
            "large k cannot be extrapolated (any value up to the bound is consistent with the "
            "data). Fix: report an upper confidence bound on leak@k instead (certify), or draw "
            "more samples."
        )
    if (c == n).all():
        raise LeakstatsError(
            f"Every sample leaked in {label}: leak@k is 1 for every k the data can speak to, "
            "and there is nothing to extrapolate. Fix: report leak_at_k (which is 1), or check "
            "the judge's threshold."
        )
    leaking = int((c > 0).sum())
    if leaking < FEW_LEAKING:
        warn(
            f"Only {leaking} prompt(s) leaked at least once in {label}: the shape of the law "
            "of leak rates, which decides leak@k at large k, is barely informed; expect wide "
            "intervals and read them as such.",
            DegenerateDataWarning)


def _curve_grid(ks: np.ndarray, n_max: int) -> np.ndarray:
    top = max(int(ks.max()), n_max)
    return np.unique(np.round(np.geomspace(1, top, 12)).astype(np.int64))


def _observed_grid(n_min: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, n_min, 12)).astype(np.int64))


def _frame(ks, est, se, lo, hi, labels, level, population, group, law):
    return pd.DataFrame({
        "law": law,
        "k": ks,
        "estimate": est,
        "se": se,
        "ci_low": lo,
        "ci_high": hi,
        "confidence_level": level,
        "ci_method": labels,
        "n_prompts": len(group),
        "n_samples": int(group["n_samples"].sum()),
        "population": population,
    })


def _child_seed(generator: np.random.Generator) -> int:
    return int(generator.integers(2**31 - 1))


def _arm_predictions(group, ks, families, level, population, n_resamples, bayes_options, generator):
    """The five tables of one arm: predictions, asymptotes, curve, observed, selection."""
    from leakstats.laws import models as em

    n = group["n_samples"].to_numpy()
    c = group["n_leaked"].to_numpy()
    curve_ks = _curve_grid(ks, int(n.max()))
    arm = eng.ArmData(n, c, ks, curve_ks, n_resamples, generator)
    K = ks.size
    needed = [f for f in em.FAMILIES
              if f in families or ("auto" in families and f in eng.AUTO_FAMILIES)]
    fits = eng.fit_mle(arm, needed, population) if needed else {}
    rows, asym_rows, curve_rows, selection = [], [], [], []
    for name in families:
        if name == "auto":
            cv = {f: em.cross_validated_loglik(em.FAMILIES[f], fits[f]["theta"], arm.pairs)
                  for f in eng.AUTO_FAMILIES}
            pred = eng.auto_prediction(arm, fits, level, population, cv)
            selection = pred.selection
        elif name in em.FAMILIES:
            pred = eng.family_prediction(arm, name, fits[name], level, population)
        elif name == "bayes":
            pred = eng.bayes_prediction(group, arm, level, population, bayes_options,
                                        _child_seed(generator))
        else:
            pred = eng.power_law_prediction(arm, name, level)
        parts = (pred.estimate, pred.se, pred.ci_low, pred.ci_high)
        rows.append(_frame(ks, *(x[:K] for x in parts), pred.ci_method, level, population,
                           group, name))
        curve_rows.append(_frame(curve_ks, *(x[K:] for x in parts), pred.ci_method, level,
                                 population, group, name))
        if pred.asymptote is not None:
            e, s, lo, hi, label = pred.asymptote
            asym_rows.append(_frame([np.inf], [e], [s], [lo], [hi], label, level, population,
                                    group, name))
    grid = _observed_grid(int(n.min()))
    obs = arm_intervals(n, c, grid, population=population, confidence_level=level)
    observed = _frame(grid, obs.estimate, obs.se, obs.ci_low, obs.ci_high, list(obs.ci_method),
                      level, population, group, "observed").drop(columns="law")
    empty = _frame([], [], [], [], [], [], level, population, group, [])
    selection_frame = pd.DataFrame(selection)
    if not len(selection_frame):
        selection_frame = pd.DataFrame(columns=list(SELECTION_COLUMNS))
    return (
        pd.concat(rows, ignore_index=True),
        pd.concat(asym_rows, ignore_index=True) if asym_rows else empty,
        pd.concat(curve_rows, ignore_index=True),
        observed,
        selection_frame,
    )
