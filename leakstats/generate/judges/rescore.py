"""Judging stored records again: :func:`relabel` (a new threshold on the stored scores) and
:func:`rejudge` (another judge on the stored texts); neither regenerates samples."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from leakstats.core.errors import DataValidationError
from leakstats.generate.judges.base import Judge, check_threshold
from leakstats.generate.judges.specs import make_judge

__all__ = ["rejudge", "relabel"]


def relabel(records: pd.DataFrame, threshold: float, *, judge: str | None = None) -> pd.DataFrame:
    """New labels at another threshold from the stored scores: no regeneration, no re-scoring.

    Parameters
    ----------
    records : pandas.DataFrame
        Records with ``score`` and ``judge`` columns (as :func:`leakstats.read_store` gives).
    threshold : float
        The new threshold: ``leaked = score >= threshold``.
    judge : str, optional
        Relabel only the rows of this judge (a ``judge`` value such as
        ``"rougeL_recall>=0.4"``); needed when the records hold several kinds of judge.

    Returns
    -------
    pandas.DataFrame
        A copy with ``leaked`` and ``judge`` (``"<kind>>=<threshold>"``) remade.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"prompt_id": [1, 1], "judge": ["rougeL_recall>=0.4"] * 2,
    ...                         "score": [0.3, 0.6], "leaked": [False, True]})
    >>> relabel(records, 0.25)[["judge", "leaked"]].values.tolist()
    [['rougeL_recall>=0.25', True], ['rougeL_recall>=0.25', True]]
    """
    threshold = check_threshold(threshold)
    for column in ("score", "judge"):
        if not isinstance(records, pd.DataFrame) or column not in records.columns:
            raise DataValidationError(
                f"argument 'records': no {column!r} column. Fix: pass records with the judge's "
                f"raw 'score' and its 'judge' name, as leakstats.read_store returns them.",
                column=column,
            )
    out = records.copy()
    rows = np.ones(len(out), dtype=bool) if judge is None else (out["judge"] == judge).to_numpy()
    if judge is not None and not rows.any():
        raise DataValidationError(
            f"argument 'judge': no rows with judge == {judge!r}; judges present: "
            f"{sorted(out['judge'].unique())}. Fix: pass one of those.", column="judge",
        )
    kinds = out.loc[rows, "judge"].astype(str).str.rpartition(">=")[0].unique()
    if len(kinds) != 1:
        raise DataValidationError(
            f"argument 'records': the rows hold {len(kinds)} kinds of judge ({sorted(kinds)}); a "
            f"threshold applies to one. Fix: pass judge= one of {sorted(out['judge'].unique())}.",
            column="judge",
        )
    out.loc[rows, "leaked"] = out.loc[rows, "score"].to_numpy(dtype=float) >= threshold
    out.loc[rows, "judge"] = f"{kinds[0]}>={threshold:g}"
    out["leaked"] = out["leaked"].astype(bool)
    return out


def rejudge(records: pd.DataFrame, judge: str | Judge | Callable,
            prompts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score stored texts with another judge (no regeneration).

    Parameters
    ----------
    records : pandas.DataFrame
        Records with ``prompt_id`` and ``text`` (one judge's rows: if a ``judge`` column holds
        several judges, the first judge's rows are used, so that each sample counts once).
    judge : str, Judge or callable
        See :func:`make_judge`.
    prompts : pandas.DataFrame, optional
        The prompt set (``prompt_id`` plus ``reference``, ``choices`` ...); default: the
        ``reference`` column of ``records``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``judge``, ``score`` and ``leaked`` remade.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"prompt_id": ["q"] * 2, "text": ["Paris", "Rome"],
    ...                         "reference": ["Paris"] * 2})
    >>> rejudge(records, "exact")[["judge", "leaked"]].values.tolist()
    [['exact_match>=1', True], ['exact_match>=1', False]]
    """
    judge = make_judge(judge)
    for column in ("prompt_id", "text"):
        if not isinstance(records, pd.DataFrame) or column not in records.columns:
            raise DataValidationError(
                f"argument 'records': no {column!r} column. Fix: read the store with its "
                f"texts (leakstats.read_store(path)).", column=column,
            )
    out = records
    if "judge" in out.columns and out["judge"].nunique() > 1:
        out = out[out["judge"] == out["judge"].iloc[0]]
    out = out.copy()
    if prompts is not None:
        fields = prompts.set_index(prompts["prompt_id"].astype(str)).drop(columns="prompt_id")
        keys = out["prompt_id"].astype(str)
        missing = ~keys.isin(fields.index)
        if missing.any():
            raise DataValidationError(
                f"argument 'prompts': {int(missing.sum())} record(s) have a prompt_id not in the "
                f"prompt set (e.g. {keys[missing].iloc[0]!r}). Fix: pass the prompt set the "
                f"records were generated from.", column="prompt_id",
            )
        items = fields.loc[keys].to_dict("records")
    else:
        items = out.to_dict("records")
    scores, labels = judge.judge(out["text"].astype(str).tolist(), items)
    out["judge"] = judge.name
    out["score"] = scores
    out["leaked"] = labels
    return out.reset_index(drop=True)
