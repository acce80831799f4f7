"""Reading and writing tables as Parquet, CSV or JSON Lines (no schema: see ``schema``).

Writing is atomic (:func:`leakstats.core.files.atomic_file`) and never replaces a file unless
asked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from leakstats.core.errors import (
    InputNotFoundError,
    LeakstatsError,
    OutputExistsError,
    PathKindError,
    UnreadableFileError,
)
from leakstats.core.files import atomic_file
from leakstats.records._util import (
    FORMATS,
    ID_COLUMNS,
    WRITERS,
    TableTypeError,
    resolve_format,
    restore_ids,
)
from leakstats.records.store_files import read_manifest, store_root, verified_shards

__all__ = ["FORMATS", "read_any_table", "read_table", "write_table"]


def read_table(
    source: pd.DataFrame | str | os.PathLike, *, format: str | None = None
) -> pd.DataFrame:
    """Read a table from Parquet, CSV or JSON Lines, or pass a DataFrame through (as a copy).

    Parameters
    ----------
    source : pandas.DataFrame, str or os.PathLike
        A DataFrame, a file (``.parquet``/``.pq``, ``.csv``, ``.jsonl``/``.ndjson``; CSV and
        JSON Lines may end in ``.gz``, ``.bz2`` or ``.xz``), a directory of Parquet files
        (a partitioned dataset), read as one table, or a generation store or its ``records``
        folder (its shards, each checked against the manifest first). CSV ids
        (``prompt_id``, ``sample_id``) are read as text; canonical integers become numbers.
        :func:`leakstats.read` also takes results folders and other tools' files.
    format : {"parquet", "csv", "jsonl"}, optional
        Overrides the suffix.

    Returns
    -------
    pandas.DataFrame
        The table, unvalidated (see :func:`read_records`, :func:`read_counts`).

    Raises
    ------
    InputNotFoundError
        If the path does not exist (a :class:`FileNotFoundError` too).
    UnreadableFileError
        If the reader fails on the file (damaged, truncated, or not in the format).
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
        raise InputNotFoundError(
            f"no such file or directory: '{path}'. Fix: check the path (relative paths are "
            f"taken from the working directory {os.getcwd()!r})."
        )
    root = store_root(path) if path.is_dir() else None
    if root is not None:  # a generation store (or its records folder): its shards, checked
        shards = verified_shards(root, read_manifest(root))
        try:
            return (pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True)
                    if shards else pd.DataFrame())
        except (ValueError, OSError) as exc:
            raise UnreadableFileError(
                f"cannot read the store '{root}': {type(exc).__name__}: {exc}. Fix: run the "
                f"same `leakstats generate` command with --resume."
            ) from exc
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
            # ids are text in a CSV file: read them as text, so that 007 and 7 stay two ids
            # (restore_ids turns canonical integers back into numbers)
            table = pd.read_csv(path, dtype={c: str for c in ID_COLUMNS})
            _check_csv_header(path, table)
            for col in ID_COLUMNS:
                if col in table.columns:
                    table[col] = restore_ids(table[col])
            return table
        if path.stat().st_size == 0:
            return pd.DataFrame()
        _check_jsonl_lines(path, first_only=True)
        return pd.read_json(path, lines=True, orient="records", dtype=False, precise_float=True)
    except (ValueError, OSError) as exc:  # what the readers raise on a damaged or wrong file
        if isinstance(exc, UnreadableFileError):
            raise
        where = _check_jsonl_lines(path) if fmt == "jsonl" else None
        if fmt == "jsonl" and where is None:
            # every line is a JSON object, but pandas' fast parser refused a value (e.g. a
            # subnormal float such as 2e-311): parse with the json module instead
            return _read_jsonl_exactly(path)
        raise UnreadableFileError(
            f"cannot read '{path}' as {fmt}: {where or f'{type(exc).__name__}: {exc}'}. Fix: "
            f"check that the file is complete and really {fmt} (pass format=... if its suffix "
            f"misleads)."
        ) from exc


def read_any_table(path: Path) -> pd.DataFrame:
    """A table from a file, by suffix: what :func:`read_table` reads, and also ``.json`` (a
    JSON array of objects, or JSON Lines under that suffix); reader failures raise
    :class:`UnreadableFileError` naming the file."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return read_table(path)
    try:
        return pd.read_json(path, dtype=False)
    except ValueError:
        pass
    try:
        return read_table(path, format="jsonl")
    except UnreadableFileError as exc:
        raise UnreadableFileError(
            f"cannot read '{path}' as a JSON array of objects or as JSON Lines: "
            f"{str(exc).split(': ', 1)[-1]}"
        ) from None


def _read_jsonl_exactly(path: Path) -> pd.DataFrame:
    """JSON Lines parsed line by line with the json module (slower, exact for any double)."""
    import json

    from leakstats.records._util import open_text

    with open_text(path, "r") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return pd.DataFrame.from_records(rows)


def _check_csv_header(path: Path, table: pd.DataFrame) -> None:
    """Refuse a CSV header that names a column twice (pandas would rename the second
    ``leaked.1`` and the first would be used silently) or that looks tab- or
    semicolon-separated (one column whose name holds the separators)."""
    import csv

    from leakstats.records._util import open_text

    with open_text(path, "r") as handle:
        header = next(csv.reader(handle), [])
    header = [h.lstrip("\ufeff") for h in header]
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise UnreadableFileError(
            f"cannot read '{path}' as csv: its header names column(s) {twice} more than once, "
            f"so which one holds the data is ambiguous. Fix: rename or drop the repeated "
            f"columns in the file."
        )
    if len(table.columns) == 1:
        name = str(table.columns[0])
        for sep, word in (("\t", "tab"), (";", "semicolon"), ("|", "bar")):
            if sep in name:
                raise UnreadableFileError(
                    f"cannot read '{path}' as csv: it looks {word}-separated (one column "
                    f"named {name[:60]!r}); leakstats reads comma-separated files. Fix: "
                    f"convert it, e.g. pandas.read_csv(path, sep={sep!r}).to_csv(new_path, "
                    f"index=False), or pass the DataFrame itself."
                )


def _check_jsonl_lines(path: Path, first_only: bool = False) -> str | None:
    """Find the first line of a JSON Lines file that is not one JSON object: raise for a
    line that is valid JSON but not an object; return a description of a broken line."""
    import json

    from leakstats.records._util import open_text

    with open_text(path, "r") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))
            except ValueError as exc:
                return f"line {number} is not valid JSON ({exc.msg}, column {exc.colno}): " \
                       f"{line.strip()[:80]!r}"
            if not isinstance(value, dict):
                raise UnreadableFileError(
                    f"cannot read '{path}' as jsonl: line {number} is a JSON "
                    f"{type(value).__name__}, not an object ({line.strip()[:80]!r}); each line "
                    f"must be one record such as {{\"prompt_id\": 1, \"leaked\": true}}. Fix: "
                    f"convert the file, or pass the right format=."
                )
            if first_only:
                return None
    return None



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
    OutputExistsError (a FileExistsError)
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
        raise PathKindError(
            f"argument 'path': '{path}' is a directory. Fix: pass a file name inside it, e.g. "
            f"'{path / ('table.' + fmt)}'."
        )
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"argument 'path': '{path}' already exists. Fix: pass overwrite=True to replace "
            f"it, or choose another path."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        WRITERS[fmt](frame, tmp, compression)
    return path
