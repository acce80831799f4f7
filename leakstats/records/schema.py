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
    "COUNTS_REQUIRED",
    "RECORDS_REQUIRED",
    "arm_columns",
    "validate_counts",
    "validate_records",
]

#: Columns that identify an arm (one method under one decoding config), in output order.
ARM_COLUMNS = ("method", "model", "temperature", "top_p", "top_k", "min_p", "judge")

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
