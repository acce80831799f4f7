"""Low-level helpers of :mod:`leakstats.records.api`: value coercion, fast grouping, file formats.

Private: the public API and its documentation live in :mod:`leakstats.records.api`.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsError, raise_bad_rows
from leakstats.core.vocabulary import FILE_FORMATS

FORMATS = FILE_FORMATS
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
            ".ndjson": "jsonl"}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}
_OPENERS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_TRUE_STRINGS = ("true", "True", "1")
_FALSE_STRINGS = ("false", "False", "0")


_BULKY = frozenset({"text", "prompt", "ground_truth", "response", "token_ids", "token_logprobs",
                    "token_logprobs_raw"})


def bad_rows(frame: pd.DataFrame, mask: Any, *, column: str | None, problem: str, fix: str,
             columns: Sequence[str] | None = None) -> None:
    """:func:`raise_bad_rows`, leaving bulky columns (generated text, tokens) out of the excerpt."""
    if columns is None:
        columns = [c for c in frame.columns if c == column or c not in _BULKY]
    raise_bad_rows(frame, mask, column=column, problem=problem, fix=fix, columns=columns)


def coerce_leaked(frame: pd.DataFrame) -> np.ndarray:
    """Return ``frame['leaked']`` as a numpy bool array, or raise for non-boolean values."""
    s = frame["leaked"]
    if s.dtype == np.dtype(bool):
        return s.to_numpy()
    fix_na = "drop these rows, or label them True/False (an unjudged sample has no label)."
    bad_rows(frame, s.isna().to_numpy(), column="leaked",
                   problem="missing value (NaN/None/NA)", fix=fix_na)
    problem = ("value is not a boolean (accepted: True/False, 0/1, and the strings "
               "'true'/'false', 'True'/'False', '0'/'1')")
    fix = ("convert the labels to booleans, e.g. frame['leaked'] = frame['score'] >= "
           "threshold, or map them explicitly with frame['leaked'].map({...}).")
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(object)
        dtype = s.dtype
    if isinstance(dtype, pd.BooleanDtype):
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        values = s.to_numpy(dtype=np.float64)
        bad_rows(frame, (values != 0) & (values != 1), column="leaked",
                       problem=problem, fix=fix)
        return values == 1
    if pd.api.types.is_string_dtype(dtype) or dtype == np.dtype(object):
        inferred = pd.api.types.infer_dtype(s, skipna=False)
        if inferred == "boolean":
            return s.to_numpy(dtype=bool)
        if inferred == "string":
            true = s.isin(_TRUE_STRINGS).to_numpy()
            bad_rows(frame, ~(true | s.isin(_FALSE_STRINGS).to_numpy()),
                           column="leaked", problem=problem, fix=fix)
            return true
        code = np.fromiter(map(_bool_code, s), dtype=np.int8, count=len(s))
        bad_rows(frame, code < 0, column="leaked", problem=problem, fix=fix)
        return code == 1
    bad_rows(frame, np.ones(len(frame), dtype=bool), column="leaked",
                   problem=f"dtype {dtype} is not boolean", fix=fix)
    raise AssertionError("unreachable")  # pragma: no cover


def _bool_code(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str):
        return 1 if value in _TRUE_STRINGS else 0 if value in _FALSE_STRINGS else -1
    return -1


@dataclass(frozen=True)
class Groups:
    """Rows of a table grouped by key columns (see :func:`group_codes`).

    ``codes[i]`` (in ``[0, size)``) is row i's group; code order is the sorted order of the
    key tuples. ``present`` lists the codes that occur, ascending; ``keys`` row j holds the key
    of group ``present[j]``.
    """

    codes: np.ndarray
    size: int
    present: np.ndarray
    keys: pd.DataFrame

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows per group (those where ``mask`` holds, if given), aligned with ``keys``."""
        codes = self.codes if mask is None else self.codes[mask]
        return np.bincount(codes, minlength=self.size)[self.present].astype(np.int64)


def group_codes(frame: pd.DataFrame, cols: Sequence[str]) -> Groups:
    """Group the rows of ``frame`` by ``cols`` (missing values must be excluded beforehand).

    Each column is factorized once (sorted, so code order is key order) and the codes are
    combined arithmetically; the cost is one hash per column and a bincount, with no Python
    loop over rows and no per-group objects.
    """
    n = len(frame)
    if not cols:
        keys = pd.DataFrame(index=pd.RangeIndex(1 if n else 0))
        return Groups(np.zeros(n, np.int64), 1, np.arange(len(keys)), keys)
    factors = [pd.factorize(frame[c], sort=True) for c in cols]
    shape = tuple(max(len(u), 1) for _, u in factors)
    size = math.prod(shape)
    if size >= 2**62:  # pragma: no cover - would need > 2**62 distinct key combinations
        grouped = frame.groupby(list(cols), sort=True, dropna=False, observed=True)
        keys = grouped.size().index.to_frame(index=False)
        return Groups(grouped.ngroup().to_numpy(np.int64), len(keys), np.arange(len(keys)),
                      keys)
    codes = np.ravel_multi_index(tuple(c for c, _ in factors), shape).astype(np.int64, copy=False)
    if size <= max(4 * n, 1 << 20):
        present = np.flatnonzero(np.bincount(codes, minlength=size))
        combos = present
    else:  # sparse combinations: make the codes dense
        dense, combos = pd.factorize(codes, sort=True)
        codes, size, present = dense.astype(np.int64, copy=False), len(combos), None
    unravelled = np.unravel_index(combos, shape)
    keys = pd.DataFrame({c: u.take(i) for c, (_, u), i in zip(cols, factors, unravelled,
                                                              strict=True)})
    return Groups(codes, size, np.arange(size) if present is None else present, keys)


def duplicated(groups: Groups, extra: pd.Series | None = None) -> np.ndarray | None:
    """Mask (all copies) of rows whose (group, ``extra``) repeats, or None if none do."""
    codes = groups.codes
    n = len(codes)
    small = max(4 * n, 1 << 20)
    if extra is None:
        key, size = codes, groups.size
    else:
        width = small + 1
        if pd.api.types.is_integer_dtype(extra.dtype) and not extra.hasnans:
            values = extra.to_numpy(dtype=np.int64)
            low = int(values.min())
            width = int(values.max()) - low + 1
            if width <= small:
                offset = values - low
        if width > small:  # not small integers: hash instead
            offset, uniques = pd.factorize(extra, use_na_sentinel=False)
            width = max(len(uniques), 1)
        if np.bincount(offset, minlength=width).max() <= 1:
            return None  # ``extra`` alone is unique
        size = groups.size * width
        if size >= 2**62:  # pragma: no cover - astronomically many distinct keys
            mask = pd.DataFrame({"g": codes, "s": offset}).duplicated(keep=False).to_numpy()
            return mask if mask.any() else None
        key = codes * width + offset
    if size <= small:
        copies = np.bincount(key, minlength=size)
        return None if copies.max() <= 1 else copies[key] > 1
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():
        return None
    return pd.Series(key).duplicated(keep=False).to_numpy()


def coerce_count(frame: pd.DataFrame, col: str) -> np.ndarray:
    s = frame[col]
    fix = f"{col!r} must hold non-negative whole numbers; "
    if pd.api.types.is_bool_dtype(s.dtype):
        bad_rows(frame, np.ones(len(frame), bool), column=col,
                       problem="booleans where counts are expected",
                       fix=fix + "a table with a boolean column is a records table: use "
                                 "column 'leaked' and call counts() on it.")
    bad_rows(frame, s.isna().to_numpy(), column=col, problem="missing value (NaN/None/NA)",
                   fix=fix + "fill in the count or drop these rows.")
    if not (pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype)):
        s = pd.to_numeric(s.astype(object), errors="coerce")
        bad_rows(frame, s.isna().to_numpy(), column=col, problem="value is not a number",
                       fix=fix + f"convert with pandas.to_numeric(frame[{col!r}]).")
    if pd.api.types.is_integer_dtype(s.dtype):
        values = s.to_numpy()  # its own dtype: uint64 above 2**63 stays positive
    else:
        values = s.to_numpy(dtype=np.float64)
        bad_rows(frame, ~np.isfinite(values) | (values != np.round(values)), column=col,
                 problem="value is not a whole number",
                 fix=fix + "counts of samples cannot be fractional; check how the column was "
                           "computed.")
    bad_rows(frame, values < 0, column=col, problem="negative count",
             fix=fix + "check how the column was computed.")
    bad_rows(frame, values > MAX_COUNT, column=col,
             problem=f"count above {MAX_COUNT:.0e}, the largest leakstats accepts",
             fix=fix + "check how the column was computed (no sampling budget comes near "
                       "this).")
    return values.astype(np.int64)


def resolve_format(path: Path, format: str | None) -> tuple[str, str | None]:
    """Return (format, compression) for ``path``, or raise naming the ``format=`` fix."""
    if format is not None and format not in FORMATS:
        raise LeakstatsError(
            f"argument 'format': unknown format {format!r}. Fix: pass one of {list(FORMATS)} "
            f"or leave format=None to use the file suffix."
        )
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression is not None:
        suffixes = suffixes[:-1]
    fmt = format
    if fmt is None:
        if path.is_dir():
            fmt = "parquet"
        elif suffixes and suffixes[-1] in SUFFIXES:
            fmt = SUFFIXES[suffixes[-1]]
        else:
            raise LeakstatsError(
                f"argument 'format': cannot tell the format of '{path}' from its suffix "
                f"{path.suffix!r}; known suffixes are {sorted(SUFFIXES)} (CSV and JSON Lines "
                f"may end in {sorted(COMPRESSIONS)}). Fix: rename the file or pass "
                f"format='parquet', 'csv' or 'jsonl'."
            )
    if fmt == "parquet" and compression is not None:
        raise LeakstatsError(
            f"argument 'format': '{path}' is Parquet with an outer {compression} layer, which "
            f"is not supported. Fix: drop the {path.suffix!r} suffix (Parquet compresses "
            f"internally)."
        )
    return fmt, compression


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | pd.Timedelta):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot write a value of type {type(value).__name__} to JSON Lines")


def write_jsonl(frame: pd.DataFrame, path: Path, compression: str | None) -> None:
    """Write JSON Lines with exact float round-trips (pandas' writer keeps 15 digits).

    JSON has no infinity or NaN: an infinite number is refused (NaN is written as null)."""
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col].dtype):
            values = frame[col].to_numpy(dtype=float)
            bad_rows(frame, np.isinf(values), column=str(col),
                     problem="infinite value, which JSON Lines cannot hold",
                     fix="replace it (e.g. frame[col].replace([np.inf, -np.inf], None)) or "
                         "write Parquet, which keeps it")
    names = [str(c) for c in frame.columns]
    with open_text(path, "w", compression) as fh:
        for start in range(0, len(frame), 50_000):
            chunk = frame.iloc[start:start + 50_000].astype(object)
            chunk = chunk.where(chunk.notna(), None)
            for row in chunk.itertuples(index=False, name=None):
                fh.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False,
                                    allow_nan=False, default=_json_default))
                fh.write("\n")


def open_text(path: str | os.PathLike, mode: str, compression: str | None = None) -> IO[str]:
    """Open ``path`` as UTF-8 text, (de)compressing by ``compression`` or by the suffix."""
    if compression is None:
        compression = COMPRESSIONS.get(Path(path).suffix.lower())
    opener = _OPENERS.get(compression or "")
    if opener is None:
        return open(path, mode, encoding="utf-8", newline="\n" if "w" in mode else None)
    return opener(path, mode + "t", encoding="utf-8")


class TableTypeError(DataValidationError, TypeError):
    """A table argument is not a :class:`pandas.DataFrame` (or a path, where paths work)."""


def check_table(frame: Any, kind: str, required: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TableTypeError(
            f"argument 'frame': expected a pandas DataFrame ({kind} table), got "
            f"{type(frame).__name__}. Fix: build one with pandas.DataFrame(...) or read a "
            f"file with leakstats.read_table(path)."
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"column(s) {missing} missing from the {kind} table; columns present are "
            f"{list(map(str, frame.columns))}. Fix: add or rename the columns so that the "
            f"table has {list(required)} (e.g. frame.rename(columns={{'old': '{missing[0]}'}})).",
            column=missing[0],
        )
    if len(frame) == 0:
        raise DataValidationError(
            f"the {kind} table is empty (0 rows). Fix: pass a table with at least one row "
            f"(check the filter or file that produced it)."
        )
    if not frame.columns.is_unique:
        dup = sorted(map(str, frame.columns[frame.columns.duplicated()].unique()))
        raise DataValidationError(
            f"column(s) {dup} appear more than once in the {kind} table. Fix: rename or drop "
            f"the repeated columns.",
            column=dup[0],
        )


def check_keys_present(frame: pd.DataFrame, keys: Sequence[str]) -> None:
    """Identifying columns: no missing values, no unhashable values (lists, dicts), and no two
    values that are different objects but the same text (``7`` and ``"7"``, ``7`` and ``7.0``):
    ids are identities, and such a pair would be one prompt or two depending on the file
    format."""
    for col in keys:
        bad_rows(
            frame, frame[col].isna().to_numpy(), column=col,
            problem="missing value (NaN/None/NA) in an identifying column",
            fix=f"fill in {col!r} (e.g. frame[{col!r}] = frame[{col!r}].fillna('none')) or "
                f"drop these rows.",
        )
        values = frame[col]
        if values.dtype != object or not pd.api.types.infer_dtype(
                values, skipna=True).startswith("mixed"):
            continue  # one kind of value (C-speed check): nothing to compare
        unhashable = values.map(lambda v: isinstance(v, list | dict | set | np.ndarray))
        bad_rows(
            frame, unhashable.to_numpy(), column=col,
            problem="a list, dict or array where an id is expected",
            fix=f"give each row one scalar {col!r} (e.g. a string); to combine several ids "
                f"use frame[{col!r}].map(str).",
        )
        # same text (7 and '7') or same value (7 and 7.0) under different forms
        forms = pd.DataFrame({"text": values.map(str).to_numpy(),
                              "value": pd.factorize(values)[0],
                              "repr": values.map(repr).to_numpy()})
        clash = ((forms.groupby("text")["repr"].transform("nunique").to_numpy() > 1)
                 | (forms.groupby("value")["repr"].transform("nunique").to_numpy() > 1))
        bad_rows(
            frame, clash, column=col,
            problem=f"{col!r} holds one id in several forms (e.g. 7 and '7', or 7 and 7.0): "
                    f"ids are identities, and whether they merge would depend on the file "
                    f"format",
            fix=f"make every id text, e.g. frame[{col!r}] = frame[{col!r}].map(str), or every "
                f"id a number.",
        )


#: Columns that hold identities (text in a CSV file, never numbers to compute with).
ID_COLUMNS = ("prompt_id", "sample_id")

#: The largest count (``n_samples``) leakstats accepts: sums over millions of prompts stay
#: exact in int64, and far beyond any sampling budget.
MAX_COUNT = 10**12


def restore_ids(values: pd.Series) -> pd.Series:
    """Ids read from CSV as text: canonical integers (no sign, no leading zeros) become
    int64, everything else stays text, so ``007`` and ``7`` stay two ids."""
    text = values.dropna()
    if text.empty or not text.str.fullmatch(r"0|[1-9][0-9]{0,17}").all():
        return values
    return values.astype(np.int64) if len(text) == len(values) else values


WRITERS: Mapping[str, Callable[[pd.DataFrame, Path, str | None], None]] = {
    "parquet": lambda frame, path, _: frame.to_parquet(path, index=False),
    "csv": lambda frame, path, comp: frame.to_csv(path, index=False, compression=comp),
    "jsonl": write_jsonl,
}


def json_lines(path: Path):
    """``(line number, parsed value)`` for every non-blank line of a JSON Lines file; a line
    that is not JSON is refused naming the file, the line and the column."""
    with open_text(path, "r") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(
                    f"{path}, line {lineno}: malformed JSON ({exc.msg} at column {exc.colno}). "
                    f"Fix: repair or remove this line; each line must be one JSON object."
                ) from None
