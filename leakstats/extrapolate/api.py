"""leak@k far beyond the number of samples (k >> n): extrapolation and its validation.

The unbiased estimator of leak@k exists only for k <= n. Beyond, leak@k is decided by the law G
of the per-prompt leak probabilities, and mostly by its left tail: a prompt with p = 1e-4
almost never leaks in n = 100 samples but leaks with probability 0.63 in k = 10,000. The data
inform G only through the distribution of the counts, so every extrapolation rests on the
*shape* assumed for G; :func:`extrapolate` makes that assumption explicit (the ``law``
column), and its default (``family="auto"``) lets the data choose among several shapes and
carries the uncertainty of that choice into the interval. :func:`backtest` checks any family
on your own data: fit on the first ``fit_n`` samples of every prompt, compare with the
unbiased estimate on all samples. See docs/extrapolation.md.

Estimands (``population=``): ``"prompts"`` (default), the benchmark's own prompts,
mean_i [1 - (1 - p_i)^k]; predicted for prompt i by E[1 - (1 - p)^k | c_i, n_i, G-hat] (empirical
Bayes, closed form). ``"superpopulation"``: E_G[1 - (1 - p)^k] over the population of prompts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leakstats.core.checks import check_choice, check_int, check_level, check_rng, parse_k
from leakstats.core.deprecation import renamed_arguments, renamed_attribute
from leakstats.core.errors import DegenerateDataWarning, LeakstatsError, raise_bad_rows, warn
from leakstats.core.vocabulary import FAMILIES
from leakstats.estimate.api import _arm_label
from leakstats.estimate.intervals import POPULATIONS
from leakstats.estimate.result import RESULT_COLUMNS
from leakstats.extrapolate._fitting import (
    SELECTION_COLUMNS,
    _arm_predictions,
    _check_arm,
    _extrapolate_iv,
    _parse_families,
)

__all__ = ["BacktestResult", "ExtrapolationResult", "FAMILIES", "backtest", "extrapolate"]



# --------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False, eq=False)
class ExtrapolationResult:
    """Predicted leak@k per arm, law and k, with intervals; see :func:`extrapolate`.

    Attributes
    ----------
    arms : tuple of str
        The arm columns.
    families : tuple of str
        The families run, in the order asked (the ``law`` column).
    confidence_level, population, n_resamples
        The settings the numbers were computed with.
    """

    table: pd.DataFrame = field(repr=False)
    asymptote_table: pd.DataFrame = field(repr=False)
    curve_table: pd.DataFrame = field(repr=False)
    observed_table: pd.DataFrame = field(repr=False)
    selection_table: pd.DataFrame = field(repr=False)
    counts_table: pd.DataFrame = field(repr=False)
    arms: tuple[str, ...]
    families: tuple[str, ...]
    confidence_level: float
    population: str
    n_resamples: int

    methods = renamed_attribute("methods", "families")
    n_boot = renamed_attribute("n_boot", "n_resamples")

    def to_frame(self) -> pd.DataFrame:
        """One row per arm x law x k: arm columns, ``law``, ``k``, then the columns of
        :func:`leakstats.leak_at_k` (``estimate, se, ci_low, ci_high, confidence_level,
        ci_method, n_prompts, n_samples, population``)."""
        return self.table.copy()

    def asymptotes(self) -> pd.DataFrame:
        """leak@k as k -> infinity (``k = inf``), same columns, one row per arm x law.

        Only zero-inflated laws (and ``auto`` or ``bayes`` when they include one) estimate an
        asymptote below 1; families without an atom at p = 0 have 1 by assumption (said in
        ``ci_method``). Power laws have no asymptote row.
        """
        return self.asymptote_table.copy()

    def curve(self) -> pd.DataFrame:
        """Predictions on a log-spaced grid of k (for plots), same columns as ``to_frame``."""
        return self.curve_table.copy()

    def observed(self) -> pd.DataFrame:
        """The observed unbiased leak@k (k <= n) with :func:`leakstats.leak_at_k`'s interval."""
        return self.observed_table.copy()

    def selection(self) -> pd.DataFrame:
        """What ``auto`` compared, per arm and family: log-likelihood, AIC, ``margin`` (the
        AIC lead over the beta law it needs to give the point estimate), 5-fold
        cross-validated log-likelihood, whether it was selected, the share of bootstrap
        resamples whose AIC selected it, and its fitted parameters (empty without
        ``auto``)."""
        return self.selection_table.copy()

    def counts(self) -> pd.DataFrame:
        """The validated counts the predictions were computed from."""
        return self.counts_table.copy()

    def __repr__(self) -> str:
        from leakstats.report.tables import format_table

        head = (
            f"ExtrapolationResult(population={self.population!r}, "
            f"confidence_level={self.confidence_level:g}, families={list(self.families)!r})"
        )
        text = head + "\n" + format_table(self.table, format="table")
        picked = self.selection_table
        if len(picked):
            chosen = picked[picked["selected"]]
            names = ", ".join(str(v) for v in chosen["family"])
            text += f"\nauto selected: {names}"
        return text

    def _repr_html_(self) -> str:  # Jupyter
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


@dataclass(frozen=True, repr=False, eq=False)
class BacktestResult:
    """Predictions from the first ``fit_n`` samples vs the unbiased estimate on all samples.

    ``to_frame()`` has one row per arm x law x k x repeat; :meth:`summary` aggregates.
    """

    table: pd.DataFrame = field(repr=False)
    arms: tuple[str, ...]
    families: tuple[str, ...]
    fit_n: int
    confidence_level: float
    population: str

    methods = renamed_attribute("methods", "families")

    def to_frame(self) -> pd.DataFrame:
        """Arm columns, ``law``, ``k``, ``repeat``, ``fit_n``, the prediction (``estimate``,
        ``ci_low``, ``ci_high``), the reference (``reference``, ``reference_low``,
        ``reference_high``: leak_at_k on all samples), ``error`` (estimate - reference) and
        ``covered`` (reference inside the prediction interval)."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """Per law and k: ``n`` comparisons, ``mae``, ``bias``, ``rmse``, ``coverage``
        (share of comparisons whose interval holds the reference) and ``mean_width``."""
        t = self.table.assign(
            abs_error=self.table["error"].abs(),
            sq_error=self.table["error"] ** 2,
            width=self.table["ci_high"] - self.table["ci_low"],
        )
        out = (
            t.groupby(["law", "k"], sort=False)
            .agg(n=("error", "size"), mae=("abs_error", "mean"), bias=("error", "mean"),
                 rmse=("sq_error", "mean"), coverage=("covered", "mean"),
                 mean_width=("width", "mean"))
            .reset_index()
        )
        out["rmse"] = np.sqrt(out["rmse"])
        return out

    def __repr__(self) -> str:
        head = (
            f"BacktestResult(fit_n={self.fit_n}, population={self.population!r}, "
            f"confidence_level={self.confidence_level:g})"
        )
        return head + "\n" + self.summary().to_string(index=False, float_format="{:.4f}".format)


# --------------------------------------------------------------------------- the function
@renamed_arguments(method="family", n_boot="n_resamples")
def extrapolate(
    data,
    k=(1000, 10_000),
    *,
    family="auto",
    confidence_level: float = 0.95,
    population: str = "prompts",
    by=None,
    n_resamples: int = 200,
    bayes_options: dict | None = None,
    rng=None,
) -> ExtrapolationResult:
    """Predict leak@k for k beyond the number of samples, with intervals, per arm.

    Parameters
    ----------
    data : DataFrame or path
        Records or counts (see :func:`leakstats.leak_at_k`). Every prompt needs at least 2
        samples; k may exceed them.
    k : int or sequence of int
        The k values to predict (any positive integers; k <= n gives the model's fit of the
        observed curve).
    family : str or sequence of str, default "auto"
        ``"auto"``: the point estimate is the beta law's unless another of ``zi-beta``,
        ``beta-mix``, ``logit-normal`` and ``zi-logit-normal`` has an AIC lower by more than
        its margin (12, 6, 6, 16: on a near tie the reference law is kept), and the interval is
        a prompt bootstrap that selects the law by AIC in every resample, so that it carries
        the uncertainty of the extrapolated shape (``selection()`` says what was picked, the
        margins and how often each law was selected). One family by maximum likelihood,
        interval by prompt bootstrap: ``"zi-beta"`` (zero-inflated beta-binomial: the atom
        at p = 0 gives the asymptote), ``"beta"`` (beta-binomial, Kazdan et al. 2025),
        ``"beta-mix"``, ``"zi-beta-mix"`` (two betas), ``"logit-normal"``,
        ``"zi-logit-normal"`` (logistic random intercept).
        ``"bayes"``: the posterior of :func:`leakstats.fit_bayes` (PyMC; seconds to minutes).
        Baselines: ``"power-law"``, -log(1 - leak@k) = a k^b fitted to the observed curve (the
        form named in the issue), and ``"power-law-neglog"``, -log(leak@k) = a k^(-b) (the
        form of Schaeffer et al. 2025); intervals by percentile prompt bootstrap. A list runs
        several families side by side.
    confidence_level : float, default 0.95
        Two-sided level of the intervals.
    population : {"prompts", "superpopulation"}
        ``"prompts"``: leak@k of the benchmark's own prompts (each prompt predicted from its
        counts under the fitted law); ``"superpopulation"``: of the population of prompts.
    by : str or list of str, optional
        Arm columns (as in :func:`leakstats.leak_at_k`).
    n_resamples : int, default 200
        Bootstrap resamples (each refits the law).
    bayes_options : dict, optional
        Extra arguments of :func:`leakstats.fit_bayes` for ``family="bayes"`` (e.g. draws).
    rng : None, int or numpy.random.Generator
        Seed of the bootstrap (and of the Bayesian sampler).

    Returns
    -------
    ExtrapolationResult
        ``to_frame()``: arm columns, ``law``, ``k``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``confidence_level``, ``ci_method``, ``n_prompts``, ``n_samples``,
        ``population``; ``asymptotes()`` (k = inf), ``curve()``, ``observed()``,
        ``selection()``.

    Raises
    ------
    ValueError
        (:class:`leakstats.LeakstatsError`) if an arm has no leak at all (use an upper bound:
        ``certify``), every sample leaked, a single prompt, or prompts with fewer than 2
        samples; on invalid arguments.

    Examples
    --------
    >>> import numpy as np, pandas as pd, leakstats
    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.random(300) < 0.6, 0.0, rng.beta(0.4, 20, 300))
    >>> counts = pd.DataFrame({"prompt_id": range(300), "n_samples": 100,
    ...                        "n_leaked": rng.binomial(100, p)})
    >>> res = leakstats.extrapolate(counts, k=[1000, 10_000], n_resamples=50, rng=1)
    >>> frame = res.to_frame()
    >>> frame[["law", "k"]].values.tolist()
    [['auto', 1000], ['auto', 10000]]
    >>> bool(((frame.ci_low <= frame.estimate) & (frame.estimate <= frame.ci_high)).all())
    True
    """
    from leakstats.records.api import as_counts

    ks, families, level, n_resamples, bayes_options = _extrapolate_iv(
        k, family, confidence_level, population, n_resamples, bayes_options
    )
    counts, arms = as_counts(data, by=by)
    generator = check_rng(rng)
    groups = counts.groupby(arms, sort=False, dropna=False) if arms else [((), counts)]
    groups = list(groups)
    for key, group in groups:
        _check_arm(group, _arm_label(arms, key))
    frames, asym_frames, curve_frames, observed_frames, selection_frames = [], [], [], [], []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        parts = _arm_predictions(group, ks, families, level, population, n_resamples,
                                 bayes_options, generator)
        for frame_list, frame in zip(
            (frames, asym_frames, curve_frames, observed_frames, selection_frames),
            parts, strict=True,
        ):
            for name, value in zip(arms, key, strict=True):
                frame[name] = value
            frame_list.append(frame)

    def assemble(pieces, columns):
        table = pd.concat(pieces, ignore_index=True)
        table = table[[*arms, *columns]]
        for name in arms:
            table[name] = table[name].astype(counts[name].dtype)
        return table

    cols = ["law", "k", *RESULT_COLUMNS]
    selection_cols = list(SELECTION_COLUMNS)
    return ExtrapolationResult(
        table=assemble(frames, cols),
        asymptote_table=assemble(asym_frames, cols),
        curve_table=assemble(curve_frames, cols),
        observed_table=assemble(observed_frames, ["k", *RESULT_COLUMNS]),
        selection_table=assemble(selection_frames, selection_cols),
        counts_table=counts,
        arms=tuple(arms),
        families=families,
        confidence_level=level,
        population=population,
        n_resamples=n_resamples,
    )


# --------------------------------------------------------------------------- backtest
def _fit_subsample(data, counts, arms, fit_n, repeat, generator):
    """Counts of the first ``fit_n`` samples of every prompt (records, repeat 0), else of a
    random subset of ``fit_n`` samples (hypergeometric draw from the counts)."""
    frame = data
    if repeat == 0 and isinstance(frame, pd.DataFrame) and "leaked" in frame.columns:
        from leakstats.records.api import as_counts

        keys = [*arms, "prompt_id"]
        ordered = frame.sort_values([*keys, "sample_id"] if "sample_id" in frame else keys,
                                    kind="stable")
        first = ordered[ordered.groupby(keys, sort=False, dropna=False).cumcount() < fit_n]
        sub, _ = as_counts(first, by=arms)
        merged = counts[keys].merge(sub, on=keys, how="left")
        return merged, "first samples"
    n = counts["n_samples"].to_numpy()
    c = counts["n_leaked"].to_numpy()
    draw = generator.hypergeometric(c, n - c, np.full(n.size, fit_n))
    return counts.assign(n_samples=fit_n, n_leaked=draw), "random subsample"


@renamed_arguments(method="family", n_boot="n_resamples")
def backtest(
    data,
    fit_n: int,
    k=None,
    *,
    family=("auto", "zi-beta", "beta", "power-law", "power-law-neglog"),
    confidence_level: float = 0.95,
    population: str = "prompts",
    by=None,
    repeats: int = 1,
    n_resamples: int = 200,
    rng=None,
) -> BacktestResult:
    """Validate extrapolation on your own data: fit on ``fit_n`` samples, predict the rest.

    Every family is fitted on the first ``fit_n`` samples of every prompt (records, in
    ``sample_id`` order when present, else row order; with counts, or for repeats after the
    first, a random subset of ``fit_n`` samples, drawn hypergeometrically) and its prediction
    of leak@k for k > fit_n is compared with the unbiased estimate on all n samples
    (:func:`leakstats.leak_at_k`). The reference is itself an estimate: read coverage of it
    as a check, not as an exact coverage of the truth.

    Parameters
    ----------
    data : DataFrame or path
        Records or counts.
    fit_n : int
        Samples per prompt to fit on; at least 2 and below every prompt's ``n_samples``.
    k : int or sequence of int, optional
        k values to compare, each at most the smallest ``n_samples`` of its arm. Default: a
        log-spaced grid between 2 fit_n and the smallest n.
    family, confidence_level, population, by, n_resamples, rng
        As in :func:`extrapolate`.
    repeats : int, default 1
        Independent subsamples to fit on (each a full run of every family).

    Returns
    -------
    BacktestResult
        ``to_frame()`` the comparisons, ``summary()`` error and coverage per law and k.

    Examples
    --------
    >>> import numpy as np, pandas as pd, leakstats
    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.random(300) < 0.5, 0.0, rng.beta(0.5, 30, 300))
    >>> counts = pd.DataFrame({"prompt_id": range(300), "n_samples": 200,
    ...                        "n_leaked": rng.binomial(200, p)})
    >>> bt = leakstats.backtest(counts, fit_n=20, k=[100, 200], family=["beta", "power-law"],
    ...                         n_resamples=50, rng=0)
    >>> bt.summary()[["law", "k"]].values.tolist()
    [['beta', 100], ['beta', 200], ['power-law', 100], ['power-law', 200]]
    """
    from leakstats.estimate.api import leak_at_k
    from leakstats.records.api import as_counts

    fit_n = check_int("fit_n", fit_n, 2, 20)
    repeats = check_int("repeats", repeats, 1, 5)
    families = _parse_families(family)
    level = check_level(confidence_level)
    check_choice("population", population, POPULATIONS)
    if isinstance(data, str | os.PathLike):  # read once: the subsamples need the records
        from leakstats.records.read import read

        data = read(data)
    counts, arms = as_counts(data, by=by)
    n_min = int(counts["n_samples"].min())
    raise_bad_rows(
        counts, counts["n_samples"].to_numpy() <= fit_n, column="n_samples",
        problem=f"prompts with no more than fit_n={fit_n} samples",
        fix="fit_n must be below every prompt's number of samples, so that there is something "
            "left to predict: lower fit_n or drop these prompts.",
    )
    if k is None:
        lo = min(2 * fit_n, n_min)
        ks = np.unique(np.round(np.geomspace(lo, n_min, 4)).astype(np.int64))
    else:
        ks = parse_k(k)
        if ks.max() > n_min:
            raise LeakstatsError(
                f"k: {ks.max()} exceeds the smallest n_samples ({n_min}); the reference (the "
                f"unbiased estimate on all samples) exists only for k <= n. Fix: pass k <= "
                f"{n_min}."
            )
    generator = check_rng(rng)
    reference = leak_at_k(counts, k=ks, by=arms, population=population,
                          confidence_level=level).to_frame()
    reference = reference[[*arms, "k", "estimate", "ci_low", "ci_high"]].rename(columns={
        "estimate": "reference", "ci_low": "reference_low", "ci_high": "reference_high"})
    frames = []
    for repeat in range(repeats):
        sub, how = _fit_subsample(data, counts, arms, fit_n, repeat, generator)
        groups = sub.groupby(arms, sort=False, dropna=False) if arms else [((), sub)]
        for key, group in groups:
            try:
                res = extrapolate(group, k=ks, family=families, confidence_level=level,
                                  population=population, by=arms, n_resamples=n_resamples,
                                  rng=generator)
            except LeakstatsError as exc:  # e.g. no leak in the first fit_n samples
                warn(
                    f"backtest: {_arm_label(arms, key)} skipped in repeat {repeat}: {exc}",
                    DegenerateDataWarning)
                continue
            pred = res.to_frame()[[*arms, "law", "k", "estimate", "ci_low", "ci_high"]]
            pred = pred.merge(reference, on=[*arms, "k"], how="left")
            pred.insert(len(arms) + 2, "repeat", repeat)
            pred.insert(len(arms) + 3, "fit_n", fit_n)
            pred["subsample"] = how
            frames.append(pred)
    if not frames:
        raise LeakstatsError(
            f"backtest: no arm could be extrapolated from {fit_n} samples per prompt (see the "
            "warnings for the reasons). Fix: raise fit_n."
        )
    table = pd.concat(frames, ignore_index=True)
    table["error"] = table["estimate"] - table["reference"]
    table["covered"] = (table["ci_low"] <= table["reference"]) & (
        table["reference"] <= table["ci_high"])
    return BacktestResult(table=table, arms=tuple(arms), families=families, fit_n=fit_n,
                          confidence_level=level, population=population)

