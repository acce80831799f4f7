"""Compare unlearning methods on the same prompts: paired tests, multiplicity, paper tables.

Methods are compared within one decoding configuration: the rows are grouped by the arm columns
other than ``method`` (model, temperature, top_p, ...) and the methods are compared inside each
group. The pairing is the prompt: every method is evaluated on the same prompts, so prompt
difficulty, which varies a lot, cancels in the differences. See docs/compare.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leakstats.compare import _paired_tests as ct
from leakstats.compare._pairing import METHOD, _aligned, _collect, _pair_up, _pairs
from leakstats.core.checks import check_choice, check_int, check_level, check_rng, parse_k
from leakstats.core.deprecation import REMOVED_IN
from leakstats.core.errors import DataValidationError, LeakstatsError, warn
from leakstats.core.vocabulary import CORRECTIONS, MISSING, POPULATIONS, RENAMED_TESTS, TESTS
from leakstats.estimate.result import RESULT_COLUMNS

__all__ = ["CORRECTIONS", "MISSING", "TESTS", "CompareResult", "compare"]

#: Tests whose interval is the fixed-prompt difference of two cp-eb arms (and its dual test).
FIXED_TESTS = ("score", "mover")
FIXED_LABELS = {
    "score": "score interval at the cp-eb effective sample sizes (fixed prompts)",
    "mover": "MOVER of the cp-eb intervals (fixed prompts)",
}

#: Columns of the differences table after the configuration columns.
DIFFERENCE_COLUMNS = ("method_a", "method_b", "k", *RESULT_COLUMNS, "test", "p_value",
                      "p_adjusted", "correction", "prob_a_greater", "significant",
                      "ci_low_simultaneous", "ci_high_simultaneous")


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False, eq=False)
class CompareResult:
    """Per-method leak@k and paired differences between methods, per configuration and k.

    Attributes
    ----------
    configs : tuple of str
        Arm columns other than ``method`` (the methods are compared within each configuration).
    methods : tuple of str
        The methods, in table order.
    baseline : str or None
        The reference method (differences are ``method - baseline``), or None for all pairs.
    test, correction, population : str
        The test asked for (the ``test`` column says which test produced each row), the
        multiplicity correction and the estimand.
    confidence_level : float
        Level of every interval; the significance level is ``1 - confidence_level``.
    n_resamples : int
        Bootstrap / permutation resamples.
    """

    methods_table: pd.DataFrame = field(repr=False)
    differences_table: pd.DataFrame = field(repr=False)
    dropped_table: pd.DataFrame = field(repr=False)
    configs: tuple[str, ...]
    methods: tuple[str, ...]
    baseline: str | None
    test: str
    correction: str
    confidence_level: float
    population: str
    n_resamples: int

    def to_frame(self, table: str = "differences") -> pd.DataFrame:
        """Tidy table: ``"differences"`` (one row per pair x k; ``estimate`` is leak@k of
        ``method_a`` minus that of ``method_b``) or ``"methods"`` (the :func:`leak_at_k` table
        of every method)."""
        check_choice("table", table, ("differences", "methods"))
        frame = self.differences_table if table == "differences" else self.methods_table
        return frame.copy()

    def dropped(self) -> pd.DataFrame:
        """The (configuration, method, prompt) rows left out by ``missing="drop"``."""
        return self.dropped_table.copy()

    def summary(self, *, digits: int = 4) -> str:
        """A printable report: settings, per-method leak@k, differences with p-values."""
        from leakstats.report.compare_text import summary_text

        return summary_text(self, digits=digits)

    def to_latex(self, *, table: str = "methods", k=None, digits: int = 3) -> str:
        """A booktabs ``tabular`` for a paper.

        ``table="methods"``: one row per method, one column per k, cells ``estimate [low,
        high]``; the least leaky method at each k in bold; marks for significant differences
        (against the baseline, or else against the best method), explained in footnote rows.
        ``table="differences"``: one row per pair and k with the difference, its interval and
        the adjusted p-value. ``k`` restricts the columns/rows to some k values.
        """
        from leakstats.report.compare_text import render

        return render(self, "latex", table=table, k=k, digits=digits)

    def to_markdown(self, *, table: str = "methods", k=None, digits: int = 3) -> str:
        """The tables of :meth:`to_latex` as Markdown pipe tables, notes below."""
        from leakstats.report.compare_text import render

        return render(self, "markdown", table=table, k=k, digits=digits)

    def plot(self, k: int | None = None, axes=None) -> np.ndarray:
        """leak@k curves per method (with bands) and a forest plot of the differences at ``k``
        (default: the largest k). Returns the two Axes."""
        from leakstats.report.plots import plot_compare

        return plot_compare(self, k=k, axes=axes)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:  # Jupyter
        return "<pre>" + self.summary().replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


# --------------------------------------------------------------------------- validation


def _compare_iv(k, test, correction, confidence_level, population, missing, n_resamples):
    ks = parse_k(k)
    if test in RENAMED_TESTS:
        warn(
            f"compare(): test={test!r} is renamed test={RENAMED_TESTS[test]!r}; the old name "
            f"stops working in leakstats {REMOVED_IN}. Fix: pass test={RENAMED_TESTS[test]!r}.",
            DeprecationWarning)
        test = RENAMED_TESTS[test]
    check_choice("test", test, TESTS)
    check_choice("correction", correction, CORRECTIONS)
    level = check_level(confidence_level)
    check_choice("population", population, POPULATIONS)
    check_choice("missing", missing, MISSING)
    if test in FIXED_TESTS and population != "prompts":
        raise LeakstatsError(
            f"test: {test!r} builds the fixed-prompt difference interval; it does not answer "
            "the superpopulation question. Fix: pass population='prompts', or test='auto' / "
            "'paired-bootstrap' for the superpopulation."
        )
    return ks, level, test, check_int("n_resamples", n_resamples, 100, 2000)


# --------------------------------------------------------------------------- per configuration


def _row(a, b, k, est, se, lo, hi, ci_method, n_prompts, n_samples, test, p, prob=np.nan,
         sim=(np.nan, np.nan)):
    return {"method_a": a, "method_b": b, "k": int(k), "estimate": float(est),
            "se": float(se), "ci_low": float(lo), "ci_high": float(hi),
            "ci_method": ci_method, "n_prompts": n_prompts, "n_samples": n_samples,
            "test": test, "p_value": float(p), "prob_a_greater": float(prob),
            "ci_low_simultaneous": float(sim[0]), "ci_high_simultaneous": float(sim[1])}


def _frequentist(n, c, here, pairs, ks, test, population, level, n_resamples, rng, family):
    """Rows of the p-value tests; ``family`` is the number of comparisons at each k (the
    simultaneous intervals are Bonferroni's, at level 1 - (1 - level) / family)."""
    from scipy.special import ndtri, stdtrit

    from leakstats.compare._difference import mover, mover_p_value, score, score_p_value
    from leakstats.estimate.intervals import _Arm

    P = next(iter(n.values())).size
    sim_level = 1 - (1 - level) / family
    theta = {m: ct.per_prompt_leak(n[m], c[m], ks) for m in here}
    fixed = population == "prompts" and test in ("auto", "permutation", *FIXED_TESTS)
    # the fixed-prompt construction: the score interval, or MOVER when asked for
    dual = "mover" if test == "mover" else "score"
    interval, p_value = (mover, mover_p_value) if dual == "mover" else (score, score_p_value)
    if fixed:
        sharp = {m: _Arm(n[m], c[m], ks).fixed_sharp() for m in here}
    else:
        weights = ct.bootstrap_weights(P, n_resamples, rng)
    boot_label = f"paired bootstrap over prompts (bootstrap SE, t), {n_resamples} resamples"
    fixed_label = FIXED_LABELS[dual]
    use_perm = test in ("permutation", "gee")
    rows = []
    for a, b in pairs:
        diff = theta[a] - theta[b]
        if fixed:
            lo, hi = interval(sharp[a], sharp[b], level)
            s_lo, s_hi = interval(sharp[a], sharp[b], sim_level)
            se = np.sqrt(np.nan_to_num(sharp[a].var) + np.nan_to_num(sharp[b].var))
            p_main = p_value(sharp[a], sharp[b])
        else:
            se, lo, hi, p_main = ct.paired_bootstrap(diff, weights, level)
            q = stdtrit(max(P - 1, 1), 0.5 + sim_level / 2)
            est = diff.mean(axis=0)
            s_lo, s_hi = np.clip(est - q * se, -1, 1), np.clip(est + q * se, -1, 1)
        label = fixed_label if fixed else boot_label
        perm = ct.permutation_test(n[a], c[a], n[b], c[b], ks, n_resamples, rng) if use_perm \
            else None
        n_samples = int(n[a].sum() + n[b].sum())
        for j, k in enumerate(ks):
            est = diff[:, j].mean()
            if test == "gee" and k == 1:
                y_a, y_b = c[a] / n[a], c[b] / n[b]
                _, s, gl, gh = ct.gee_interval(y_a, y_b, level)
                half = ndtri(0.5 + sim_level / 2) * s
                rows.append(_row(a, b, k, est, s, gl, gh,
                                 "GEE delta method (prompt-clustered sandwich)", P, n_samples,
                                 "gee", ct.gee_score_test(y_a, y_b),
                                 sim=(max(est - half, -1.0), min(est + half, 1.0))))
                continue
            if test == "gee":
                name, p = "permutation (gee covers k = 1 only)", perm[j]
            elif use_perm:
                name, p = "permutation", perm[j]
            elif fixed:
                name, p = dual, p_main[j]
            else:
                name, p = "paired-bootstrap", p_main[j]
            rows.append(_row(a, b, k, est, se[j], lo[j], hi[j], label, P, n_samples, name, p,
                             sim=(s_lo[j], s_hi[j])))
    return rows


def _bayes(group, here, pairs, ks, population, level, options, rng, family):
    from leakstats.bayes.paired import PairedLogitModel

    opts = dict(options or {})
    opts.setdefault("rng", rng)
    model = PairedLogitModel(**opts).fit(group, by=[METHOD])
    index = {label[0]: i for i, label in enumerate(model.arm_labels_)}
    draws = model.leak_draws(ks, population=population)  # (S, A, K)
    P = group["prompt_id"].nunique()
    rows = []
    for a, b in pairs:
        diff = draws[:, index[a]] - draws[:, index[b]]
        lo, hi = np.quantile(diff, [(1 - level) / 2, (1 + level) / 2], axis=0)
        tail = (1 - level) / (2 * family)
        s_lo, s_hi = np.quantile(diff, [tail, 1 - tail], axis=0)
        n_samples = int(group.loc[group[METHOD].isin([a, b]), "n_samples"].sum())
        for j, k in enumerate(ks):
            rows.append(_row(a, b, k, diff[:, j].mean(), diff[:, j].std(ddof=1), lo[j], hi[j],
                             "posterior credible interval (paired logit-normal model)", P,
                             n_samples, "bayes", np.nan, (diff[:, j] > 0).mean(),
                             sim=(s_lo[j], s_hi[j])))
    return rows


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (as statsmodels' multipletests(method="holm"), which
    runs gc.collect() on every call: 0.1 s in a large session)."""
    order = np.argsort(p, kind="stable")
    steps = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    out = np.empty(p.size)
    out[order] = np.minimum(steps, 1.0)
    return out


def _adjust(frame: pd.DataFrame, correction: str, alpha: float) -> pd.DataFrame:
    """Multiplicity-adjusted p-values over the comparisons at each k, and significance."""
    adjusted = frame["p_value"].to_numpy(dtype=float).copy()
    if correction != "none":
        for k in frame["k"].unique():
            rows = np.flatnonzero((frame["k"] == k).to_numpy() & np.isfinite(adjusted))
            if rows.size and correction == "holm":
                adjusted[rows] = _holm(adjusted[rows])
            elif rows.size:
                from statsmodels.stats.multitest import multipletests

                adjusted[rows] = multipletests(adjusted[rows], alpha=alpha, method=correction)[1]
    frame["p_adjusted"] = adjusted
    bayes = frame["test"] == "bayes"
    frame["correction"] = np.where(bayes, "none (posterior probabilities)", correction)
    # A row is never marked while its interval holds 0: the adjusted p-value of a
    # p-value test is at least the unadjusted one, which is dual to the interval for "score",
    # "mover" and the paired bootstrap; for the permutation test and the GEE both must agree.
    excludes = (frame["ci_low"] > 0) | (frame["ci_high"] < 0)
    frame["significant"] = np.where(bayes, excludes, (adjusted < alpha) & excludes)
    return frame


# --------------------------------------------------------------------------- public


def compare(
    data,
    k=(1,),
    *,
    baseline: str | None = None,
    test: str = "auto",
    correction: str = "holm",
    confidence_level: float = 0.95,
    population: str = "prompts",
    missing: str = "error",
    by=None,
    n_resamples: int = 2000,
    bayes_options: Mapping[str, Any] | None = None,
    rng=None,
) -> CompareResult:
    """Compare methods on shared prompts: leak@k per method and paired differences.

    Parameters
    ----------
    data : DataFrame, path or dict
        Records or counts with a ``method`` column, or ``{method_name: records_or_counts}``.
        Other arm columns (model, temperature, ...) define configurations; methods are
        compared within each configuration.
    k : int or sequence of int
        The k values (each at most the smallest ``n_samples``).
    baseline : str, optional
        Compare every method with this one (e.g. the model retrained without the forget
        set); differences are ``method - baseline``. Default: all pairs.
    test : {"auto", "score", "mover", "paired-bootstrap", "permutation", "gee", "bayes"}
        ``"score"`` (fixed prompts only): each method's estimate is treated as a binomial
        proportion at its ``cp-eb`` effective sample size n* (the methods' samples are
        independent given the prompts), and the difference interval is the inverted score
        test of two proportions (Miettinen & Nurminen 1985; the variance at each candidate
        difference from the constrained maximum-likelihood rates, Farrington & Manning 1990);
        the p-value is its dual (the smallest alpha whose interval excludes 0), so the test
        and the interval are one construction. ``"mover"`` (fixed prompts only): MOVER applied
        to the two ``cp-eb`` intervals, with its dual p-value. ``"permutation"``: exact
        within-prompt permutation test (Monte Carlo over hypergeometric rearrangements of each
        prompt's pooled samples; H0: the methods leak alike on every prompt), reported with
        the score interval. ``"paired-bootstrap"``: bootstrap over prompts, resampling the
        same prompts for both methods (the superpopulation question); its t interval and
        p-value are dual.
        ``"gee"``: a prompt-clustered generalized estimating equation (binomial, logit link,
        independence working correlation, sandwich covariance; its closed form agrees with
        statsmodels' ``GEE``) for leak@1, with its robust score test; other k use the
        permutation test (the ``test`` column says so). ``"glmm"`` is the old name of
        ``"gee"`` (it never fitted a mixed model) and warns. ``"bayes"``: the joint paired model
        :class:`leakstats.PairedLogitModel`; reports P(leak@k_A > leak@k_B) and credible
        intervals, no p-values (one NUTS fit: seconds). Its ``significant`` (interval excludes
        0) is not a level-alpha test: its rejection rate under the null exceeds alpha by the
        Monte Carlo error of the interval's endpoints, more with fewer draws (measured in
        docs/benchmarks.md); use a p-value test for error control.
        ``"auto"``: ``"score"`` (population ``"prompts"``) or ``"paired-bootstrap"``
        (``"superpopulation"``). Rejection rates under the null and power are in
        docs/benchmarks.md.
        A row is ``significant`` when its adjusted p-value is below 1 - confidence_level *and*
        its interval excludes 0 (for the dual tests the second follows from the first), so no
        row is marked while its printed interval holds 0. ``ci_low_simultaneous`` /
        ``ci_high_simultaneous`` are Bonferroni intervals over the comparisons at each k
        (family-wise coverage; with ``correction="bonferroni"`` and a dual test a row is
        significant exactly when its simultaneous interval excludes 0).
    correction : str, default "holm"
        Multiplicity correction over the comparisons at each k (a statsmodels
        ``multipletests`` method, or ``"none"``).
    confidence_level : float, default 0.95
        Level of the intervals; differences are significant at ``1 - confidence_level``.
    population : {"prompts", "superpopulation"}
        Estimand of the per-method intervals (see :func:`leak_at_k`) and of the default test.
    missing : {"error", "drop"}
        Prompts evaluated under some methods only: an error naming them, or ``"drop"`` to
        compare on the shared prompts (``result.dropped()`` lists what was left out).
    by : str or list of str, optional
        Arm columns (must include ``method``); default: those of :data:`ARM_COLUMNS` present.
    n_resamples : int, default 2000
        Bootstrap and permutation resamples.
    bayes_options : dict, optional
        Keyword arguments of :class:`PairedLogitModel` (draws, tune, chains, ...).
    rng : None, int or numpy.random.Generator
        Seed.

    Returns
    -------
    CompareResult
        ``to_frame()``: differences (``method_a``, ``method_b``, ``k``, ``estimate`` = leak@k
        of A minus B, interval, ``test``, ``p_value``, ``p_adjusted``, ``significant``, ...);
        ``to_frame("methods")``: the :func:`leak_at_k` table; ``summary()``, ``to_latex()``,
        ``to_markdown()``, ``plot()``.

    Raises
    ------
    DataValidationError
        No ``method`` column, a single method, prompts missing from some methods (with
        ``missing="error"``), fewer than 2 shared prompts, duplicate method names, or
        invalid records/counts (empty table, missing labels, ...).
    ExtrapolationRequiredError
        If some k exceeds the number of samples of a prompt.
    ValueError
        On invalid arguments (the message names the argument and the fix).

    Examples
    --------
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"method": ["npo"] * 4 + ["retrain"] * 4,
    ...                        "prompt_id": [1, 2, 3, 4] * 2, "n_samples": 50,
    ...                        "n_leaked": [9, 4, 12, 7, 1, 0, 3, 2]})
    >>> res = leakstats.compare(counts, k=[1, 8], baseline="retrain", rng=0)
    >>> res.to_frame()[["method_a", "method_b", "k", "estimate"]].round(3).values.tolist()
    [['npo', 'retrain', 1, 0.13], ['npo', 'retrain', 8, 0.526]]
    >>> res.to_frame()["significant"].tolist()
    [True, True]
    """
    ks, level, test, n_resamples = _compare_iv(k, test, correction, confidence_level,
                                               population, missing, n_resamples)
    counts, arms, methods = _collect(data, by)
    if len(methods) < 2:
        raise DataValidationError(
            f"compare needs at least two methods; the data have one ({methods[0]!r}). Fix: "
            "include the methods to compare (e.g. the unlearned model and the retrained one).",
            column=METHOD,
        )
    if baseline is not None:
        same = [m for m in methods if str(m) == str(baseline)]
        baseline = same[0] if baseline not in methods and len(same) == 1 else baseline
        if baseline not in methods:
            raise LeakstatsError(
                f"baseline: {baseline!r} is not one of the methods "
                f"({', '.join(map(repr, methods))}). Fix: pass one of them, or baseline=None "
                "to compare all pairs."
            )
    configs = [a for a in arms if a != METHOD]
    kept, dropped, plans = _pair_up(counts, configs, methods, baseline, missing)
    restricted = pd.concat(kept, ignore_index=True)
    from leakstats.estimate.api import leak_at_k

    per_method = leak_at_k(restricted, k=ks, confidence_level=level, population=population,
                           by=arms).to_frame()
    generator = check_rng(rng)
    frames = []
    family = sum(len(_pairs(here, baseline)) for _, _, here, _ in plans)
    for key, _, here, group in plans:
        pairs = _pairs(here, baseline)
        if test == "bayes":
            rows = _bayes(group, here, pairs, ks, population, level, bayes_options, generator,
                          family)
        else:
            n, c = _aligned(group, here)
            rows = _frequentist(n, c, here, pairs, ks, test, population, level, n_resamples,
                                generator, family)
        frame = pd.DataFrame(rows)
        for name, value in zip(configs, key, strict=True):
            frame[name] = value
        frames.append(frame)
    diffs = pd.concat(frames, ignore_index=True)
    diffs["confidence_level"] = level
    diffs["population"] = population
    diffs = _adjust(diffs, correction, 1 - level)
    diffs = diffs[[*configs, *DIFFERENCE_COLUMNS]]
    for name in configs:
        diffs[name] = diffs[name].astype(counts[name].dtype)
    columns = [*arms, "prompt_id", "n_samples", "n_leaked"]
    dropped_table = (pd.concat(dropped, ignore_index=True)[columns] if dropped
                     else pd.DataFrame({c: pd.Series(dtype=counts[c].dtype) for c in columns}))
    return CompareResult(
        methods_table=per_method,
        differences_table=diffs,
        dropped_table=dropped_table,
        configs=tuple(configs),
        methods=tuple(methods),
        baseline=baseline,
        test=test,
        correction=correction,
        confidence_level=level,
        population=population,
        n_resamples=n_resamples,
    )

