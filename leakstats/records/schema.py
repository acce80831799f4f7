"""The schema of records and counts tables: their columns, the arm columns, validation.

A *records* table has one row per generated sample (required columns ``prompt_id`` and
``leaked``); a *counts* table has one row per prompt and arm (``prompt_id``, ``n_samples``,
``n_leaked``). An *arm* is one method under one decoding configuration; the arm columns are
those of :data:`ARM_COLUMNS` present in the table unless ``by=`` names them.

Each error names the column or argument, shows up to five offending rows and says how to fix
it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsError
from leakstats.records._util import (
    Groups,
    bad_rows,
    check_keys_present,
    check_table,
    coerce_count,
    coerce_leaked,
    duplicated,
    group_codes,
)

__all__ = [
    "ARM_COLUMNS",
    "check_unnamed_arms",
    "table_kind",
    "COUNTS_REQUIRED",
    "RECORDS_REQUIRED",
    "arm_columns",
    "validate_counts",
    "validate_records",
]

#: Columns that identify an arm (one method under one decoding config), in output order.
ARM_COLUMNS = ("method", "model", "task", "split", "temperature", "top_p", "top_k", "min_p",
               "judge")

RECORDS_REQUIRED = ("prompt_id", "leaked")
COUNTS_REQUIRED = ("prompt_id", "n_samples", "n_leaked")
_NOT_ARMS = frozenset({"prompt_id", "sample_id", "leaked", "n_samples", "n_leaked"})

By = str | Sequence[str] | None


# --------------------------------------------------------------------------- arm columns


def arm_columns(frame: pd.DataFrame, by: By = None) -> list[str]:
    """Resolve the arm columns of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A records or counts table.
    by : str, sequence of str or None
        ``None``: the columns of :data:`ARM_COLUMNS` present in ``frame``, in that order.
        ``[]`` or ``()``: a single arm. A string or a list of names: exactly those columns.

    Returns
    -------
    list of str
        The arm columns.

    Raises
    ------
    DataValidationError
        If ``by`` names a column not in ``frame``, names one twice, or names a column that
        cannot be an arm (``prompt_id``, ``sample_id``, ``leaked``, ``n_samples``, ``n_leaked``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"temperature": [1.0], "method": ["npo"], "prompt_id": ["p"],
    ...                       "leaked": [True]})
    >>> arm_columns(frame)
    ['method', 'temperature']
    >>> arm_columns(frame, by="method"), arm_columns(frame, by=[])
    (['method'], [])
    """
    if by is None:
        return [c for c in ARM_COLUMNS if c in frame.columns]
    names = [by] if isinstance(by, str) else by
    if not isinstance(names, Sequence) or not all(isinstance(c, str) for c in names):
        raise LeakstatsError(
            f"argument 'by': expected None, a column name or a list of column names, got "
            f"{by!r} ({type(by).__name__}). Fix: pass e.g. by='method', "
            f"by=['method', 'temperature'], or by=[] for a single arm."
        )
    names = list(names)
    seen: set[str] = set()
    for name in names:
        if name not in frame.columns:
            raise DataValidationError(
                f"argument 'by': unknown arm column {name!r}; available columns are "
                f"{list(map(str, frame.columns))}. Fix: pass by= with names from those "
                f"columns, by=None for the default arm columns {list(ARM_COLUMNS)}, or by=[] "
                f"for a single arm.",
                column=name,
            )
        if name in _NOT_ARMS:
            raise DataValidationError(
                f"argument 'by': {name!r} cannot be an arm column (it is part of the table's "
                f"schema). Fix: drop {name!r} from by=.",
                column=name,
            )
        if name in seen:
            raise DataValidationError(
                f"argument 'by': column {name!r} is named twice in by={names!r}. Fix: name "
                f"each arm column once.",
                column=name,
            )
        seen.add(name)
    return names


# --------------------------------------------------------------------------- table kind


def table_kind(frame: pd.DataFrame) -> str:
    """``"records"`` or ``"counts"``, from the columns; a table that has the columns of both
    kinds, parts of both, or neither is refused, saying which columns to rename or drop.

    >>> table_kind(pd.DataFrame({"prompt_id": [1], "n_samples": [10], "n_leaked": [2]}))
    'counts'
    """
    cols = set(map(str, frame.columns))
    counts_cols = {"n_samples", "n_leaked"} & cols
    present = list(map(str, frame.columns))
    if "leaked" in cols and not counts_cols:
        return "records"
    if counts_cols == {"n_samples", "n_leaked"} and "leaked" not in cols:
        return "counts"
    if "leaked" in cols and counts_cols == {"n_samples"}:
        fix = ("if it is a counts table (one row per prompt), its count of leaked samples "
               "must be called 'n_leaked': frame.rename(columns={'leaked': 'n_leaked'}); if it "
               "is a records table (one row per sample), drop 'n_samples'")
    elif "leaked" in cols:
        fix = ("keep the columns of one kind: drop 'leaked' (counts) or "
               f"{sorted(counts_cols)} (records)")
    elif counts_cols:
        missing = sorted({"n_samples", "n_leaked"} - counts_cols)
        fix = f"a counts table needs both 'n_samples' and 'n_leaked': add {missing}"
    else:
        fix = ("a records table has 'prompt_id' and 'leaked' (one row per sample); a counts "
               "table has 'prompt_id', 'n_samples' and 'n_leaked' (one row per prompt)")
    raise DataValidationError(
        f"argument 'data': cannot tell a records table from a counts table (columns present: "
        f"{present}). Fix: {fix}.",
        column="leaked" if "leaked" in cols else None,
    )


#: Columns a records table may have besides its arms that vary between a prompt's samples by
#: design (what generation and the importers write); never taken for unnamed arms.
_SAMPLE_COLUMNS = frozenset({"text", "score", "n_tokens", "finish_reason", "seed", "output",
                             "generation", "response", "completion"})


def _decides_leaked(frame: pd.DataFrame, col) -> bool:
    if "leaked" not in frame.columns:
        return False
    try:
        labels = frame["leaked"].astype(bool)
    except (TypeError, ValueError):
        return False
    if labels.nunique() < 2:
        return False
    return bool((labels.groupby(frame[col], dropna=False).nunique() == 1).all())


def check_unnamed_arms(frame: pd.DataFrame, arms: Sequence[str]) -> None:
    """Refuse records whose samples a column that is not an arm column splits in equal
    groups within every prompt (e.g. ``algo`` with values a and b, n samples each): without
    ``by=`` they would be pooled into one arm with no word.

    A column splits the samples when every (arm, prompt) has all of its 2 to 50 values, and
    every (arm, prompt, value) cell the same number (at least 2) of samples. A column whose
    value decides ``leaked`` (each value with one label, both labels present: the score the
    labels were made from, such as a judge's "C"/"I") is not taken for an arm.
    """
    keys = [*arms, "prompt_id"]
    skip = {*keys, *_NOT_ARMS, *_SAMPLE_COLUMNS}
    for col in frame.columns:
        if col in skip or str(col).startswith(("logprob", "reference_")):
            continue
        values = frame[col]
        try:
            n_values = values.nunique(dropna=False)
        except TypeError:  # unhashable values (lists): not an arm
            continue
        if not 2 <= n_values <= 50 or n_values * 2 > len(frame):
            continue
        if _decides_leaked(frame, col):
            continue
        cells = frame.groupby([*keys, col], dropna=False, observed=True, sort=False).size()
        per_prompt = cells.groupby(level=list(range(len(keys))), sort=False).agg(
            ["size", "min", "max"])
        balanced = ((per_prompt["size"] == n_values) & (per_prompt["min"] == per_prompt["max"])
                    & (per_prompt["min"] >= 2)).all()
        if balanced:
            seen = sorted(values.dropna().unique().tolist(), key=str)[:5]
            shown = ", ".join(map(repr, seen))
            raise DataValidationError(
                f"column {col!r}: it splits every prompt's samples into {n_values} equal groups "
                f"({shown}), like an arm column, but it is not one ({list(ARM_COLUMNS)} are "
                f"taken by default), so its groups would be pooled into one arm. Fix: pass "
                f"by={[*arms, str(col)]!r} to keep them apart, or drop the column "
                f"(frame.drop(columns={str(col)!r})) to pool them on purpose.",
                column=str(col),
            )


# --------------------------------------------------------------------------- validation


def _names(columns: Sequence[str]) -> str:
    return ", ".join(map(repr, columns))


def _validate_records(
    frame: pd.DataFrame, by: By, *, group: bool = False
) -> tuple[pd.DataFrame, list[str], Groups | None]:
    """Validate ``frame`` in place (the caller passes a copy); return it, the arms and, if
    ``group`` or needed for the duplicate check, its grouping by (arms..., prompt_id)."""
    check_table(frame, "records", RECORDS_REQUIRED)
    arms = arm_columns(frame, by)
    if by is None:
        check_unnamed_arms(frame, arms)
    check_keys_present(frame, [*arms, "prompt_id"])
    frame["leaked"] = coerce_leaked(frame)
    groups = None
    if group or "sample_id" in frame.columns:
        groups = group_codes(frame, [*arms, "prompt_id"])
    if "sample_id" in frame.columns:
        dup = duplicated(groups, frame["sample_id"])
        if dup is not None:
            keys = [*arms, "prompt_id", "sample_id"]
            bad_rows(
                frame, dup, column="sample_id", columns=[*keys, "leaked"],
                problem=f"duplicate ({_names(keys)}) (the same sample appears twice)",
                fix="drop exact duplicates with frame.drop_duplicates(), or give every sample "
                    "of a prompt (within an arm) a unique sample_id; if the copies come from "
                    "different arms, name the column that tells them apart in by=.",
            )
    return frame, arms, groups


def validate_records(frame: pd.DataFrame, *, by: By = None) -> pd.DataFrame:
    """Validate a records table (one row per generated sample) and return a clean copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Must have ``prompt_id`` and ``leaked``; ``sample_id``, arm columns and any other
        columns are optional and kept untouched.
    by : str, sequence of str or None
        Arm columns; see :func:`arm_columns`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``frame`` with ``leaked`` as numpy ``bool``. The input is never modified.

    Raises
    ------
    TableTypeError
        If ``frame`` is not a DataFrame.
    DataValidationError
        If the table is empty, lacks a required column, has missing values in ``leaked``,
        ``prompt_id`` or an arm column, has ``leaked`` values that are not booleans (0/1,
        True/False and the strings ``"true"``/``"false"``/``"0"``/``"1"`` are accepted), or
        repeats an (arm..., ``prompt_id``, ``sample_id``) key.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"prompt_id": ["a", "a", "b"], "leaked": [1, 0, 0]})
    >>> validate_records(frame)["leaked"].tolist()
    [True, False, False]
    """
    check_table(frame, "records", RECORDS_REQUIRED)
    return _validate_records(frame.copy(), by)[0]


def _validate_counts(frame: pd.DataFrame, by: By) -> tuple[pd.DataFrame, list[str], Groups]:
    """Validate ``frame`` in place; return it, the arms and its grouping (one row each)."""
    check_table(frame, "counts", COUNTS_REQUIRED)
    arms = arm_columns(frame, by)
    check_keys_present(frame, [*arms, "prompt_id"])
    frame["n_samples"] = coerce_count(frame, "n_samples")
    frame["n_leaked"] = coerce_count(frame, "n_leaked")
    bad_rows(frame, (frame["n_leaked"] > frame["n_samples"]).to_numpy(), column="n_leaked",
                   problem="n_leaked is larger than n_samples",
                   fix="n_leaked counts the leaked samples among n_samples; check that the "
                       "two columns are not swapped.")
    bad_rows(frame, (frame["n_samples"] == 0).to_numpy(), column="n_samples",
                   problem="prompt with no samples (n_samples == 0)",
                   fix="drop these rows (e.g. frame[frame['n_samples'] > 0]); a prompt "
                       "without samples carries no information about leakage.")
    groups = group_codes(frame, [*arms, "prompt_id"])
    dup = duplicated(groups)
    if dup is not None:
        keys = [*arms, "prompt_id"]
        others = [str(c) for c in frame.columns if c not in (*keys, *COUNTS_REQUIRED)]
        hint = f" (other columns in the table: {others})" if others else ""
        bad_rows(
            frame, dup, column="prompt_id",
            problem=f"duplicate ({_names(keys)}): one prompt has several rows in one arm",
            fix=f"name the column that tells these rows apart in by={hint}, or add them up "
                f"with frame.groupby({keys!r}, as_index=False)[['n_samples', "
                f"'n_leaked']].sum().",
        )
    return frame, arms, groups


def validate_counts(frame: pd.DataFrame, *, by: By = None) -> pd.DataFrame:
    """Validate a counts table (one row per prompt and arm) and return a clean copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Must have ``prompt_id``, ``n_samples`` and ``n_leaked``; arm columns optional.
    by : str, sequence of str or None
        Arm columns; see :func:`arm_columns`.

    Returns
    -------
    pandas.DataFrame
        A copy with ``n_samples`` and ``n_leaked`` as ``int64``; the input is not modified.

    Raises
    ------
    TableTypeError
        If ``frame`` is not a DataFrame.
    DataValidationError
        If the table is empty, lacks a column, has missing, non-numeric, fractional or
        negative counts, ``n_leaked > n_samples``, ``n_samples == 0`` or a repeated
        (arm..., ``prompt_id``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"prompt_id": ["a", "b"], "n_samples": [10.0, 4.0],
    ...                       "n_leaked": [3, 0]})
    >>> validate_counts(frame).dtypes["n_samples"]
    dtype('int64')
    """
    check_table(frame, "counts", COUNTS_REQUIRED)
    return _validate_counts(frame.copy(), by)[0]
