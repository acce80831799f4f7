"""Records and counts tables: validation, reading, writing and ``counts()``.

A *records* table has one row per generated sample (required columns ``prompt_id`` and
``leaked``); a *counts* table has one row per prompt and arm (``prompt_id``, ``n_samples``,
``n_leaked``). An *arm* is one method under one decoding configuration; the arm columns are
those of :data:`ARM_COLUMNS` present in the table unless ``by=`` names them.

Everything is validated once, at the boundary: each error names the column or argument,
shows up to five offending rows and says how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsError
from leakstats.core.files import atomic_file
from leakstats.records._util import (
    FORMATS,
    WRITERS,
    Groups,
    TableTypeError,
    bad_rows,
    check_keys_present,
    check_table,
    coerce_count,
    coerce_leaked,
    duplicated,
    group_codes,
    resolve_format,
)
from leakstats.records.importers import leakk as _leakk

__all__ = [
    "ARM_COLUMNS",
    "FORMATS",
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
    frame = read_table(data) if isinstance(data, str | os.PathLike) else data
    if not isinstance(frame, pd.DataFrame):
        raise TableTypeError(
            f"argument 'data': expected a records or counts DataFrame or a path to one, got "
            f"{type(data).__name__}. Fix: pass a pandas.DataFrame or a file path "
            f"(.parquet, .csv, .jsonl)."
        )
    is_records = "leaked" in frame.columns
    is_counts = "n_samples" in frame.columns and "n_leaked" in frame.columns
    if is_records == is_counts:
        what = "both 'leaked' and 'n_samples'/'n_leaked'" if is_records else "neither"
        raise DataValidationError(
            f"argument 'data': cannot tell a records table from a counts table: it has {what}"
            f" (columns present: {list(map(str, frame.columns))}). Fix: a records table has "
            f"'prompt_id' and 'leaked' (one row per sample); a counts table has 'prompt_id', "
            f"'n_samples' and 'n_leaked' (one row per prompt); keep the columns of one kind.",
            column="leaked" if is_records else None,
        )
    if is_counts:
        table, arms, groups = _validate_counts(frame.copy(), by)
        table = table.loc[:, [*arms, *COUNTS_REQUIRED]]
        return table.iloc[np.argsort(groups.codes)].reset_index(drop=True), arms
    check_table(frame, "records", RECORDS_REQUIRED)
    arms = arm_columns(frame, by)
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


def read_table(
    source: pd.DataFrame | str | os.PathLike, *, format: str | None = None
) -> pd.DataFrame:
    """Read a table from Parquet, CSV or JSON Lines, or pass a DataFrame through (as a copy).

    Parameters
    ----------
    source : pandas.DataFrame, str or os.PathLike
        A DataFrame, a file (``.parquet``/``.pq``, ``.csv``, ``.jsonl``/``.ndjson``; CSV and
        JSON Lines may end in ``.gz``, ``.bz2`` or ``.xz``), or a directory of Parquet files
        (a partitioned dataset), read as one table.
    format : {"parquet", "csv", "jsonl"}, optional
        Overrides the suffix.

    Returns
    -------
    pandas.DataFrame
        The table, unvalidated (see :func:`read_records`, :func:`read_counts`).

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    LeakstatsError
        If the format is unknown or cannot be told from the suffix.

    Examples
    --------
    >>> import pandas as pd
    >>> read_table(pd.DataFrame({"prompt_id": [1], "leaked": [True]})).shape
    (1, 2)
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if not isinstance(source, str | os.PathLike):
        raise TableTypeError(
            f"argument 'source': expected a DataFrame or a path, got {type(source).__name__}. "
            f"Fix: pass a pandas.DataFrame, a str or a pathlib.Path."
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"no such file or directory: '{path}'. Fix: check the path (relative paths are "
            f"taken from the working directory {os.getcwd()!r})."
        )
    fmt, _ = resolve_format(path, format)
    if path.is_dir() and fmt != "parquet":
        raise LeakstatsError(
            f"argument 'format': '{path}' is a directory; only a directory of Parquet files "
            f"can be read as one table. Fix: pass a file, or format='parquet'."
        )
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "csv":
            return pd.read_csv(path)
        if path.stat().st_size == 0:
            return pd.DataFrame()
        return pd.read_json(path, lines=True, orient="records", dtype=False, precise_float=True)
    except Exception as exc:
        exc.add_note(f"leakstats: while reading '{path}' as {fmt}")
        raise


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


def write_table(
    frame: pd.DataFrame,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a table to Parquet, CSV or JSON Lines, atomically.

    The table goes to a temporary file in the target directory, which is flushed to disk
    and then renamed over ``path`` (:func:`os.replace`), so a crash never leaves a
    half-written file. The index is not written. Missing parent directories are created.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : str or os.PathLike
        Target file; its suffix picks the format (as in :func:`read_table`).
    format : {"parquet", "csv", "jsonl"}, optional
        Overrides the suffix.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    Notes
    -----
    Parquet keeps dtypes exactly; prefer it. JSON Lines keeps floats exactly but not
    categorical or integer-vs-string distinctions of missing data. CSV cannot tell an empty
    string from a missing value, and reads numeric-looking ids (``"007"``) back as numbers.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> frame = pd.DataFrame({"prompt_id": ["a"], "leaked": [True]})
    >>> read_table(write_table(frame, folder / "records.parquet")).equals(frame)
    True
    """
    if not isinstance(frame, pd.DataFrame):
        raise TableTypeError(
            f"argument 'frame': expected a pandas DataFrame, got {type(frame).__name__}. "
            f"Fix: pass a pandas.DataFrame."
        )
    path = Path(path).expanduser()
    fmt, compression = resolve_format(path, format)
    if path.is_dir():
        raise IsADirectoryError(
            f"argument 'path': '{path}' is a directory. Fix: pass a file name inside it, e.g. "
            f"'{path / ('table.' + fmt)}'."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"argument 'path': '{path}' already exists. Fix: pass overwrite=True to replace "
            f"it, or choose another path."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        WRITERS[fmt](frame, tmp, compression)
    return path


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
        field, else the 0-based index of the line among non-blank lines), ``sample_id``
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
