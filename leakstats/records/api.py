"""Records and counts tables: the public entry points.

Validation lives in :mod:`leakstats.records.schema`, file reading and writing in
:mod:`leakstats.records.files`, other tools' formats in :mod:`leakstats.records.importers`;
this module adds what combines them (``read_records``, ``read_counts``, ``as_counts``,
``counts``, ``read_leakk_jsonl``) and re-exports the rest. Everything is validated once, at
the boundary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.records._util import Groups, TableTypeError, check_table
from leakstats.records.files import FORMATS, read_table, write_table
from leakstats.records.importers import leakk as _leakk
from leakstats.records.schema import (
    ARM_COLUMNS,
    COUNTS_REQUIRED,
    RECORDS_REQUIRED,
    By,
    _validate_counts,
    _validate_records,
    arm_columns,
    check_unnamed_arms,
    table_kind,
    validate_counts,
    validate_records,
)

__all__ = [
    "ARM_COLUMNS",
    "COUNTS_REQUIRED",
    "FORMATS",
    "RECORDS_REQUIRED",
    "TableTypeError",
    "arm_columns",
    "as_counts",
    "counts",
    "read_counts",
    "read_leakk_jsonl",
    "read_records",
    "read_table",
    "validate_counts",
    "validate_records",
    "write_table",
]


# --------------------------------------------------------------------------- counts()


def as_counts(
    data: pd.DataFrame | str | os.PathLike, *, by: By = None
) -> tuple[pd.DataFrame, list[str]]:
    """Like :func:`counts`, and also return the resolved arm columns.

    This is the entry point of the analysis functions, which accept records or counts.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"method": ["a", "a", "b"], "prompt_id": [1, 1, 1],
    ...                         "leaked": [True, False, False]})
    >>> table, arms = as_counts(records)
    >>> arms, table["n_leaked"].tolist()
    (['method'], [1, 0])
    """
    if isinstance(data, str | os.PathLike):
        from leakstats.records.read import read

        frame = read(data)
    else:
        frame = data
    if not isinstance(frame, pd.DataFrame):
        raise TableTypeError(
            f"argument 'data': expected a records or counts DataFrame or a path to one, got "
            f"{type(data).__name__}. Fix: pass a pandas.DataFrame or a file path "
            f"(.parquet, .csv, .jsonl)."
        )
    is_counts = table_kind(frame) == "counts"
    if is_counts:
        table, arms, groups = _validate_counts(frame.copy(), by)
        table = table.loc[:, [*arms, *COUNTS_REQUIRED]]
        return table.iloc[np.argsort(groups.codes)].reset_index(drop=True), arms
    check_table(frame, "records", RECORDS_REQUIRED)
    arms = arm_columns(frame, by)
    if by is None:
        check_unnamed_arms(frame, arms)
    keep = [*arms, "prompt_id", "leaked"] + (["sample_id"] if "sample_id" in frame else [])
    valid, arms, maybe = _validate_records(frame.loc[:, keep].copy(), arms, group=True)
    groups = cast(Groups, maybe)  # group=True always groups
    table = groups.keys
    table["n_samples"] = groups.count()
    table["n_leaked"] = groups.count(valid["leaked"].to_numpy())
    return table, arms


def counts(data: pd.DataFrame | str | os.PathLike, *, by: By = None) -> pd.DataFrame:
    """Turn records into counts (one row per arm and prompt); validate counts as they are.

    Parameters
    ----------
    data : pandas.DataFrame, str or os.PathLike
        A records table (has ``leaked``), a counts table (has ``n_samples`` and
        ``n_leaked``), or a path that :func:`read_table` reads.
    by : str, sequence of str or None
        Arm columns; see :func:`arm_columns`.

    Returns
    -------
    pandas.DataFrame
        Columns: the arm columns (in ``by`` order, dtypes kept), ``prompt_id``,
        ``n_samples``, ``n_leaked`` (int64); sorted by arms then ``prompt_id``, with a fresh
        RangeIndex. Other columns of a counts table are dropped.

    Raises
    ------
    DataValidationError
        If ``data`` fails :func:`validate_records` / :func:`validate_counts`, or has the
        columns of both kinds of table, or of neither.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"prompt_id": ["q2", "q1", "q1", "q1"],
    ...                         "leaked": [False, True, False, True]})
    >>> counts(records)
      prompt_id  n_samples  n_leaked
    0        q1          3         2
    1        q2          1         0
    """
    return as_counts(data, by=by)[0]


# --------------------------------------------------------------------------- files


def read_records(
    source: pd.DataFrame | str | os.PathLike, *, by: By = None, format: str | None = None
) -> pd.DataFrame:
    """Read a records table (see :func:`read_table`) and validate it (:func:`validate_records`).

    Examples
    --------
    >>> import pandas as pd
    >>> read_records(pd.DataFrame({"prompt_id": [1], "leaked": ["true"]}))["leaked"].dtype
    dtype('bool')
    """
    return _validate_records(read_table(source, format=format), by)[0]


def read_counts(
    source: pd.DataFrame | str | os.PathLike, *, by: By = None, format: str | None = None
) -> pd.DataFrame:
    """Read a counts table (see :func:`read_table`) and validate it (:func:`validate_counts`).

    Examples
    --------
    >>> import pandas as pd
    >>> read_counts(pd.DataFrame({"prompt_id": [1], "n_samples": [5], "n_leaked": [0]})).shape
    (1, 3)
    """
    return _validate_counts(read_table(source, format=format), by)[0]


# --------------------------------------------------------------------------- importers


def read_leakk_jsonl(
    path: str | os.PathLike,
    *,
    leaked: str | Callable[[dict], bool],
    method: str | None = None,
) -> pd.DataFrame:
    """Read the Leak@k paper's per-prompt JSON Lines output as a records table.

    Each line is an object with ``prompt``, ``ground_truth`` and ``responses``, a list of
    objects with ``response`` and numeric scores (``rougeL_recall``, ``ES``,
    ``exact_match``, ...). A ``.gz`` file is read transparently. Blank lines are skipped.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.jsonl`` (or ``.jsonl.gz``) file.
    leaked : str or callable
        Which responses count as leaked. A rule over the score fields such as
        ``"rougeL_recall >= 0.4 and ES >= 0.5"``: comparisons ``<field> <op> <number>``
        (ops ``==``, ``!=``, ``>=``, ``<=``, ``>``, ``<``) joined by ``and`` / ``or``
        (``and`` binds tighter), with ``not`` and parentheses; parsed, never ``eval``-ed.
        Or a callable taking the response dict and returning a bool.
    method : str, optional
        Value of a ``method`` column added to every row.

    Returns
    -------
    pandas.DataFrame
        Records: ``method`` (if given), ``prompt_id`` (the line's ``prompt_id`` or ``id``
        field, else ``p-`` and the first 12 hex digits of the SHA-256 of the prompt text, with
        ``#2``, ``#3`` ... on repeated prompts: never the line number, so a dropped line does
        not shift the prompts after it), ``sample_id``
        (index in ``responses``), ``leaked``, ``text``, ``prompt``, ``ground_truth``, one
        float column per numeric score field, then any other response fields.

    Raises
    ------
    DataValidationError
        On malformed JSON (with the line number), a line without ``responses``, a response
        lacking a field the rule uses, or a callable that returns a non-bool.
    LeakstatsError
        If the rule does not parse (the message points at the position).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> line = {"prompt": "Q?", "ground_truth": "A", "responses": [
    ...     {"response": "A", "rougeL_recall": 1.0}, {"response": "B", "rougeL_recall": 0.0}]}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
    >>> _ = path.write_text(json.dumps(line) + "\\n")
    >>> read_leakk_jsonl(path, leaked="rougeL_recall >= 0.4")["leaked"].tolist()
    [True, False]
    """
    if method is not None and not isinstance(method, str):
        raise LeakstatsError(
            f"argument 'method': expected a string or None, got {method!r}. Fix: pass the "
            f"method name, e.g. method='npo'."
        )
    frame = _leakk.load(path, leaked=leaked)
    if method is not None:
        frame.insert(0, "method", method)
    return _validate_records(frame, None)[0]
