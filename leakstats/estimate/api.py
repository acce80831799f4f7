"""leak@k: the unbiased estimator with calibrated confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leakstats.core.checks import check_choice, check_int, check_level, check_rng, parse_k
from leakstats.core.deprecation import renamed_arguments
from leakstats.core.errors import (
    DegenerateDataWarning,
    ExtrapolationRequiredError,
    LeakstatsError,
    warn,
)
from leakstats.core.vocabulary import CI_METHODS, POPULATIONS
from leakstats.estimate.intervals import arm_intervals
from leakstats.estimate.result import RESULT_COLUMNS, LeakAtKResult


def _leak_at_k_iv(k, confidence_level, population, ci_method, n_resamples):
    ks = parse_k(k)
    level = check_level(confidence_level)
    check_choice("population", population, POPULATIONS)
    check_choice("ci_method", ci_method, CI_METHODS)
    if ci_method == "cp-eb" and population != "prompts":
        raise LeakstatsError(
            "ci_method: 'cp-eb' is the fixed-prompt interval (its variance is the sampling "
            "variance given the prompts); it does not cover the superpopulation. Fix: pass "
            "population='prompts', or ci_method='auto' / 'cp-effective' for the superpopulation."
        )
    check_int("n_resamples", n_resamples, 10, 2000)
    return ks, level


def _arm_label(arms: list[str], key) -> str:
    if not arms:
        return "the data"
    key = key if isinstance(key, tuple) else (key,)
    return "arm " + ", ".join(f"{a}={v!r}" for a, v in zip(arms, key, strict=True))


def _check_arm(group: pd.DataFrame, ks: np.ndarray, population: str, label: str) -> None:
    n = group["n_samples"].to_numpy()
    too_big = ks[ks > n.min()]
    if too_big.size:
        short = group.loc[n < too_big.max(), ["prompt_id", "n_samples"]].head(5)
        raise ExtrapolationRequiredError(
            f"k: leak@k for k={too_big.tolist()} exceeds the number of samples of some prompts in "
            f"{label} (smallest n_samples = {n.min()}), e.g.:\n{short.to_string(index=False)}\n"
            "The unbiased estimator exists only for k <= n. Leak@k beyond the observed samples "
            "needs extrapolation from a model of the per-prompt leak probabilities "
            "(leakstats.extrapolate). Fix: ask for k <= "
            f"{n.min()} here, draw more samples, or extrapolate."
        )
    if population == "superpopulation" and len(group) < 2:
        raise LeakstatsError(
            f"population='superpopulation' needs at least 2 prompts; {label} has "
            f"{len(group)}. Fix: use population='prompts', or add prompts."
        )
    if group["n_leaked"].sum() == 0:
        warn(
            f"No sample leaked in {label}: the estimate is 0 and only the upper limit of the "
            "interval is informative (a one-sided bound is sharper: see certify).",
            DegenerateDataWarning)


@renamed_arguments(method="ci_method", n_boot="n_resamples")
def leak_at_k(
    data,
    k=(1,),
    *,
    confidence_level: float = 0.95,
    population: str = "prompts",
    ci_method: str = "auto",
    by=None,
    n_resamples: int = 2000,
    rng=None,
) -> LeakAtKResult:
    """Estimate benchmark leak@k with confidence intervals, per arm.

    leak@k of a prompt is the probability that at least one of k sampled generations leaks;
    benchmark leak@k is its mean over prompts. The estimate is the unbiased estimator
    1 - C(n - c, k) / C(n, k) averaged over prompts (Chen et al. 2021).

    Parameters
    ----------
    data : DataFrame or path
        Records (one row per sample, with ``prompt_id`` and boolean ``leaked``) or counts (one
        row per prompt and arm with ``prompt_id``, ``n_samples``, ``n_leaked``), or a file
        holding either (Parquet, CSV, JSON Lines).
    k : int or sequence of int
        The k values; each must be at most the smallest ``n_samples`` of its arm.
    confidence_level : float, default 0.95
        Two-sided confidence level.
    population : {"prompts", "superpopulation"}
        ``"prompts"``: the benchmark's prompts are the estimand (sampling noise only).
        ``"superpopulation"``: the prompts are a sample from a larger population.
    ci_method : {"auto", "cp-eb", "cp-effective", "wald", "bootstrap"}
        Interval construction; ``"auto"`` is ``"cp-eb"`` for ``population="prompts"`` (an
        effective-sample-size Clopper-Pearson interval from an empirical-Bayes estimate of the
        sampling variance, never wider than ``"cp-effective"``) and ``"cp-effective"`` for
        the superpopulation; their coverage and width against an oracle are in
        docs/benchmarks.md. ``"cp-effective"`` with fixed prompts uses Hoeffding's worst-case
        variance (conservative). ``"wald"`` is the textbook interval, offered for comparison
        (it fails with rare leaks).
    by : str or list of str, optional
        Arm columns. Default: those of ``method, model, task, split, temperature, top_p,
        top_k, min_p, judge`` present in the data; ``[]`` for a single arm.
    n_resamples : int, default 2000
        Bootstrap resamples (``ci_method="bootstrap"`` only).
    rng : None, int or numpy.random.Generator
        Seed for the bootstrap.

    Returns
    -------
    LeakAtKResult
        ``to_frame()`` gives one row per arm x k with ``estimate, se, ci_low, ci_high,
        confidence_level, ci_method, n_prompts, n_samples, population``; ``per_prompt()``
        the per-prompt estimates.

    Raises
    ------
    ExtrapolationRequiredError
        If some k exceeds the number of samples of a prompt.
    ValueError
        On invalid data or arguments (the message names the column or argument and the fix).

    Examples
    --------
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"prompt_id": [0, 1, 2], "n_samples": [10, 10, 10],
    ...                        "n_leaked": [0, 1, 3]})
    >>> res = leakstats.leak_at_k(counts, k=[1, 5])
    >>> res.to_frame()[["k", "estimate"]].round(4).values.tolist()
    [[1.0, 0.1333], [5.0, 0.4722]]
    """
    from leakstats.records.api import as_counts

    ks, level = _leak_at_k_iv(k, confidence_level, population, ci_method, n_resamples)
    counts, arms = as_counts(data, by=by)
    generator = check_rng(rng)  # checked even where unused
    generator = generator if ci_method == "bootstrap" else None
    groups = counts.groupby(arms, sort=False, dropna=False) if arms else [((), counts)]
    frames = []
    for key, group in groups:
        _check_arm(group, ks, population, _arm_label(arms, key))
        est = arm_intervals(
            group["n_samples"].to_numpy(),
            group["n_leaked"].to_numpy(),
            ks,
            population=population,
            ci_method=ci_method,
            confidence_level=level,
            n_resamples=n_resamples,
            rng=generator,
        )
        frame = pd.DataFrame(
            {
                "k": ks,
                "estimate": est.estimate,
                "se": est.se,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "confidence_level": level,
                "ci_method": list(est.ci_method),
                "n_prompts": len(group),
                "n_samples": int(group["n_samples"].sum()),
                "population": population,
            }
        )
        key = key if isinstance(key, tuple) else (key,)
        for name, value in zip(arms, key, strict=True):
            frame[name] = value
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table = table[[*arms, "k", *RESULT_COLUMNS]]
    for name in arms:  # keep the arm columns' dtypes
        table[name] = table[name].astype(counts[name].dtype)
    return LeakAtKResult(
        table=table,
        counts_table=counts,
        arms=tuple(arms),
        confidence_level=level,
        population=population,
        ci_method=ci_method,
    )
