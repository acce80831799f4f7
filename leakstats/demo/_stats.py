"""The two comparisons of the demo that the analysis layer does not have as such: greedy ROUGE-L
of each model against the retrain reference, and sampled leak@k against the greedy leak rate.

Estimands (stated in the report):

- **Greedy ROUGE-L** is deterministic given the model, so for the benchmark's own prompts it has
  no sampling error. Its intervals treat the prompts as a sample from a population of similar
  facts (superpopulation): Student t intervals of the mean over prompts, and of the paired
  per-prompt difference against the retrain model.
- **Sampled leak@k versus greedy**: the greedy leak rate G (share of prompts whose greedy answer
  the judge flags) is a fixed number for these prompts, and leak@k at T = 1 is estimated from the
  samples. H0: leak@k = G. The p-value inverts the two-sided ``leak_at_k`` interval (the
  calibrated ``cp-effective`` interval, fixed prompts): the smallest 1 - level at which G falls
  outside, so the test and the reported interval always agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["greedy_summary", "holm", "interval_pvalue", "vs_greedy"]


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        steps = np.maximum.accumulate(p[order] * np.arange(order.size, 0, -1))
        out[order] = np.minimum(steps, 1.0)
    return out


def _t_interval(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """Mean, t interval and two-sided p-value (H0: mean 0) of ``values``."""
    values = np.asarray(values, dtype=float)
    n = values.size
    mean = float(values.mean()) if n else np.nan
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    sd = float(values.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean, (1.0 if mean == 0.0 else 0.0)
    se = sd / np.sqrt(n)
    q = stats.t.ppf(0.5 + level / 2, n - 1)
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    return mean, mean - q * se, mean + q * se, p


def greedy_summary(greedy: pd.DataFrame, *, reference: str = "retrain",
                   unlearned=(), confidence_level: float = 0.95) -> pd.DataFrame:
    """Per model and split: mean greedy ROUGE-L recall with a t interval over prompts, the
    greedy leak rate (share of prompts whose greedy answer is ``leaked``), and the paired difference
    of ROUGE-L against ``reference`` with its interval and p-value (Holm-adjusted over the
    models in ``unlearned``, per split).

    Examples
    --------
    >>> g = pd.DataFrame({"model": ["a"] * 3 + ["retrain"] * 3, "split": "forget",
    ...                   "prompt_id": ["1", "2", "3"] * 2,
    ...                   "rouge_l_recall": [0.9, 0.8, 1.0, 0.1, 0.2, 0.0]})
    >>> g["leaked"] = g["rouge_l_recall"] >= 0.4
    >>> row = greedy_summary(g, unlearned=["a"]).iloc[0]
    >>> row["model"], float(row["leak_rate"]), round(float(row["diff"]), 3)
    ('a', 1.0, 0.8)
    """
    rows = []
    for (model, split), group in greedy.groupby(["model", "split"], sort=False):
        scores = group["rouge_l_recall"].to_numpy(dtype=float)
        leaked = group["leaked"].to_numpy(dtype=bool)
        mean, low, high, _ = _t_interval(scores, confidence_level)
        row = {"model": model, "split": split, "n_prompts": len(group), "rouge_l": mean,
               "ci_low": low, "ci_high": high, "leak_rate": float(np.mean(leaked)),
               "n_leaked": int(np.sum(leaked))}
        ref = greedy[(greedy["model"] == reference) & (greedy["split"] == split)]
        if model != reference and len(ref):
            joined = group.merge(ref, on="prompt_id", suffixes=("", "_ref"))
            diff = (joined["rouge_l_recall"] - joined["rouge_l_recall_ref"]).to_numpy(float)
            d, dlo, dhi, p = _t_interval(diff, confidence_level)
            row.update(diff=d, diff_low=dlo, diff_high=dhi, p_value=p)
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in ("diff", "diff_low", "diff_high", "p_value"):
        if column not in out.columns:
            out[column] = np.nan
    out["p_adjusted"] = np.nan
    for split in out["split"].unique():
        mask = (out["split"] == split) & out["model"].isin(list(unlearned))
        out.loc[mask, "p_adjusted"] = holm(out.loc[mask, "p_value"])
    out["significant"] = out["p_adjusted"] < 1 - confidence_level
    out["confidence_level"] = confidence_level
    out["ci_method"] = "Student t over prompts (superpopulation)"
    return out


def interval_pvalue(counts: pd.DataFrame, k: int, value: float, *, population: str = "prompts",
                    iterations: int = 20, floor: float = 1e-6) -> float:
    """Two-sided p-value of H0: leak@k = ``value``, by inverting the ``leak_at_k`` interval.

    The smallest alpha at which ``value`` lies outside the (1 - alpha) interval, found by
    bisection on log(alpha) (intervals are nested in the level); ``floor`` when it lies outside
    even at 1 - floor, 1 when it lies inside at every level down to 0.001.

    Examples
    --------
    >>> c = pd.DataFrame({"prompt_id": range(20), "n_samples": 16, "n_leaked": 8})
    >>> interval_pvalue(c, 1, 0.5)
    1.0
    >>> interval_pvalue(c, 1, 0.0)
    1e-06
    """
    from leakstats.estimate.api import leak_at_k

    def inside(alpha: float) -> bool:
        row = leak_at_k(counts, k=[k], confidence_level=1 - alpha, population=population,
                        by=[]).to_frame().iloc[0]
        return bool(row["ci_low"] <= value <= row["ci_high"])

    lo, hi = np.log(floor), np.log(0.999)
    if not inside(floor):
        return floor
    if inside(0.999):
        return 1.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if inside(float(np.exp(mid))):
            lo = mid
        else:
            hi = mid
    return float(np.exp(hi))


def vs_greedy(counts: pd.DataFrame, greedy: pd.DataFrame, ks, *,
              unlearned=(), confidence_level: float = 0.95) -> pd.DataFrame:
    """leak@k of each model's sampled arm against its greedy leak rate on the same prompts.

    ``counts``: one arm (the T = 1 arm), columns ``method``, ``prompt_id``, ``n_samples``,
    ``n_leaked``. ``greedy``: the greedy table (``model``, ``split``, ``prompt_id``, boolean
    ``leaked`` by the same judge). One row per model and k:
    ``estimate``, ``ci_low``, ``ci_high`` (leak_at_k), ``greedy_rate``, ``difference``,
    ``p_value`` and, for the models in ``unlearned``, ``p_adjusted`` (Holm over them at each k)
    and ``significant``.
    """
    from leakstats.estimate.api import leak_at_k

    rows = []
    for model, group in counts.groupby("method", sort=False):
        g = greedy[(greedy["model"] == model) & (greedy["split"] == "forget")]
        shared = group[group["prompt_id"].astype(str).isin(g["prompt_id"].astype(str))]
        if shared.empty:
            continue
        labels = g.set_index(g["prompt_id"].astype(str))["leaked"]
        rate = float(np.mean(labels.loc[shared["prompt_id"].astype(str)].to_numpy(dtype=bool)))
        single = shared[["prompt_id", "n_samples", "n_leaked"]]
        table = leak_at_k(single, k=list(ks), confidence_level=confidence_level,
                          by=[]).to_frame()
        for r in table.itertuples(index=False):
            rows.append({"model": model, "k": int(r.k), "estimate": r.estimate,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "ci_method": r.ci_method,
                         "greedy_rate": rate, "difference": r.estimate - rate,
                         "p_value": interval_pvalue(single, int(r.k), rate),
                         "n_prompts": int(r.n_prompts)})
    out = pd.DataFrame(rows)
    out["in_family"] = out["model"].isin(list(unlearned))
    out["p_adjusted"] = np.nan
    for k in out["k"].unique():
        mask = (out["k"] == k) & out["in_family"]
        out.loc[mask, "p_adjusted"] = holm(out.loc[mask, "p_value"])
    out["significant"] = out["p_adjusted"] < 1 - confidence_level
    out["confidence_level"] = confidence_level
    return out
