"""Exceptions and warnings raised by leakstats, and helpers that format them.

Every validation error names the column (or argument), shows up to five offending
rows and says how to fix the problem, so that bad input never turns into a silent
wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas load on first use, so that the CLI's --help stays fast
    import pandas as pd

MAX_ROWS_SHOWN = 5


class LeakstatsError(ValueError):
    """Base class of the errors leakstats raises on bad input."""


class DataValidationError(LeakstatsError):
    """A records or counts table failed validation.

    Attributes
    ----------
    column : str or None
        The column at fault (None when the problem is the table as a whole).
    rows : list
        Index labels of (up to five of) the offending rows.
    """

    def __init__(self, message: str, *, column: str | None = None, rows: Sequence = ()):
        super().__init__(message)
        self.column = column
        self.rows = list(rows)


class OutputExistsError(LeakstatsError, FileExistsError):
    """A file or folder leakstats was asked to write already exists (and no overwrite)."""


class InputNotFoundError(LeakstatsError, FileNotFoundError):
    """A file or folder leakstats was asked to read (or write into) does not exist."""


class PathKindError(LeakstatsError, IsADirectoryError):
    """A path names a folder where a file is needed, or a file where a folder is needed."""


class MissingDependencyError(LeakstatsError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra to install."""


class UnreadableFileError(DataValidationError):
    """A file exists but its reader failed on it (damaged, truncated, or another format)."""


class ExtrapolationRequiredError(LeakstatsError):
    """leak@k was asked for a k larger than the number of samples of some prompt."""


class LeakstatsWarning(UserWarning):
    """Base class of the warnings leakstats emits."""


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Emit a warning attributed to the caller's code: the first frame outside leakstats
    (a fixed ``stacklevel`` breaks when a function is wrapped or called from another one)."""
    import sys
    import warnings

    frame, level = sys._getframe(1), 2  # stacklevel 2 is the caller of warn()
    while frame is not None and frame.f_globals.get("__name__", "").startswith("leakstats"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class DegenerateDataWarning(LeakstatsWarning):
    """The data are valid but degenerate (e.g. nothing leaked); read the result with care."""


def show_rows(frame: pd.DataFrame, mask, *, columns: Sequence[str] | None = None) -> str:
    """Return a printable excerpt of up to five rows of ``frame`` where ``mask`` holds."""
    import numpy as np

    mask = np.asarray(mask, dtype=bool)
    bad = frame.loc[mask]
    if columns is not None:
        bad = bad.loc[:, [c for c in columns if c in bad.columns]]
    n_bad = len(bad)
    text = bad.head(MAX_ROWS_SHOWN).to_string()
    if n_bad > MAX_ROWS_SHOWN:
        text += f"\n... and {n_bad - MAX_ROWS_SHOWN} more row(s) ({n_bad} in all)"
    return text


def raise_bad_rows(
    frame: pd.DataFrame,
    mask,
    *,
    column: str | None,
    problem: str,
    fix: str,
    columns: Sequence[str] | None = None,
) -> None:
    """Raise :class:`DataValidationError` for the rows of ``frame`` where ``mask`` holds."""
    import numpy as np

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    n_bad = int(mask.sum())
    where = f"column {column!r}: " if column is not None else ""
    message = (
        f"{where}{problem} in {n_bad} row(s). Offending rows (up to {MAX_ROWS_SHOWN}):\n"
        f"{show_rows(frame, mask, columns=columns)}\nFix: {fix}"
    )
    raise DataValidationError(message, column=column, rows=list(frame.index[mask][:MAX_ROWS_SHOWN]))
