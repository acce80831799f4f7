"""Format result tables (one row per arm x k) as text, CSV, JSON, LaTeX or Markdown.

The input is the tidy table of a result (``LeakAtKResult.to_frame()``): the arm columns, then
``k``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``confidence_level``, ``ci_method``,
``n_prompts``, ``n_samples``, ``population``. The arm columns are the columns before ``k``.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.checks import check_int
from leakstats.core.deprecation import renamed_arguments
from leakstats.core.errors import LeakstatsError
from leakstats.core.vocabulary import TABLE_FORMATS

__all__ = ["FORMATS", "REQUIRED_COLUMNS", "format_plain", "format_table"]

#: Output formats of :func:`format_table`.
FORMATS = TABLE_FORMATS

#: Columns a table must have to be formatted.
REQUIRED_COLUMNS = ("k", "estimate", "ci_low", "ci_high")

#: Columns shown, when present, after the interval in the human-readable formats.
_DETAIL_COLUMNS = ("se", "n_prompts", "n_samples", "ci_method")

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # under the default OT1 font encoding a bare < or > prints as an inverted ! or ?
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


# --------------------------------------------------------------------------- helpers


def result_table(obj: Any, *, argument: str = "frame") -> pd.DataFrame:
    """The table of a result object (anything with ``to_frame()``) or a result DataFrame,
    checked for the columns every result has; ``argument`` names it in errors."""
    frame = obj
    if not isinstance(frame, pd.DataFrame):
        to_frame = getattr(frame, "to_frame", None)
        if not callable(to_frame) or isinstance(frame, pd.Series):
            raise LeakstatsError(
                f"argument '{argument}': expected a result table (pandas.DataFrame) or a result "
                f"object such as LeakAtKResult, got {type(frame).__name__}. Fix: pass "
                f"result.to_frame() or the result itself."
            )
        frame = to_frame()
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LeakstatsError(
            f"argument '{argument}': missing required column(s) {missing}; columns present: "
            f"{list(map(str, frame.columns))}. Fix: pass the table of a result "
            f"(result.to_frame()), which has {list(REQUIRED_COLUMNS)}."
        )
    return frame


def arm_columns_of(frame: pd.DataFrame) -> list[str]:
    """The arm columns of a result table: the columns before ``k``."""
    columns = list(frame.columns)
    return [str(c) for c in columns[: columns.index("k")]]


def _constant(frame: pd.DataFrame, column: str) -> Any:
    """The single value of ``column`` if present and constant (and the table non-empty)."""
    if column not in frame.columns or len(frame) == 0:
        return None
    values = frame[column].unique()
    return values[0] if len(values) == 1 else None


def _num(value: Any, digits: int) -> str:
    """Format a number with ``digits`` decimals; missing values as ``NA``."""
    if value is None or (isinstance(value, numbers.Real) and math.isnan(value)):
        return "NA"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _interval(low: Any, high: Any, digits: int) -> str:
    return f"[{_num(low, digits)}, {_num(high, digits)}]"


def _level_text(level: Any) -> str:
    return f"{100 * float(level):g}%"


def _display_frame(frame: pd.DataFrame, digits: int) -> tuple[pd.DataFrame, list[str]]:
    """Strings for the human-readable formats: arms, k, estimate, CI, details.

    Returns the frame and the names of its numeric (right-aligned) columns.
    """
    arms = arm_columns_of(frame)
    level = _constant(frame, "confidence_level")
    ci_name = f"{_level_text(level)} CI" if level is not None else "CI"
    out = pd.DataFrame(index=range(len(frame)))
    numeric = []
    for arm in arms:
        values = frame[arm].to_numpy()
        out[arm] = [str(v) for v in values]
        if pd.api.types.is_numeric_dtype(frame[arm]):
            numeric.append(arm)
    out["k"] = [_num(v, digits) for v in frame["k"].to_numpy()]
    out["estimate"] = [_num(v, digits) for v in frame["estimate"].to_numpy()]
    out[ci_name] = [
        _interval(lo, hi, digits)
        for lo, hi in zip(frame["ci_low"].to_numpy(), frame["ci_high"].to_numpy(), strict=True)
    ]
    numeric += ["k", "estimate"]
    if level is None and "confidence_level" in frame.columns:
        out["level"] = [_level_text(v) for v in frame["confidence_level"].to_numpy()]
    for col in _DETAIL_COLUMNS:
        if col == "ci_method" and _constant(frame, col) is not None:
            continue  # one method for every row: said once, above or below the table
        if col in frame.columns:
            values = frame[col].to_numpy()
            out[col] = [str(v) if col == "ci_method" else _num(v, digits) for v in values]
            if col != "ci_method":
                numeric.append(col)
    if "population" in frame.columns and _constant(frame, "population") is None:
        out["population"] = [str(v) for v in frame["population"].to_numpy()]
    return out, numeric


def _note(frame: pd.DataFrame) -> str:
    """One sentence on the intervals: level, method(s) and population, where known."""
    level = _constant(frame, "confidence_level")
    parts = [
        f"leak@k estimates with {_level_text(level)} confidence intervals in brackets"
        if level is not None
        else "leak@k estimates with confidence intervals in brackets (levels per row)"
    ]
    if "ci_method" in frame.columns and len(frame):
        methods = list(dict.fromkeys(map(str, frame["ci_method"].to_numpy())))
        parts.append(f"interval method{'s' if len(methods) > 1 else ''}: {', '.join(methods)}")
    population = _constant(frame, "population")
    if population is not None:
        parts.append(f"population: {population}")
    return parts[0] + (" (" + "; ".join(parts[1:]) + ")" if len(parts) > 1 else "") + "."


def _header(frame: pd.DataFrame) -> str | None:
    """First line of the text table: population and confidence level when constant."""
    bits = []
    population = _constant(frame, "population")
    if population is not None:
        bits.append(f"population: {population}")
    level = _constant(frame, "confidence_level")
    if level is not None:
        bits.append(f"confidence level: {float(level):g}")
    method = _constant(frame, "ci_method")
    if method is not None:
        bits.append(f"interval: {method}")
    return ", ".join(bits) if bits else None


# --------------------------------------------------------------------------- formats


def _format_text(frame: pd.DataFrame, digits: int) -> str:
    shown, numeric = _display_frame(frame, digits)
    lines = []
    header = _header(frame)
    if header is not None:
        lines.append(header)
    if len(shown) == 0:
        lines.append("(no rows)")
        return "\n".join(lines)
    widths = {c: max(len(c), *(len(v) for v in shown[c])) for c in shown.columns}

    def row(values: dict[str, str]) -> str:
        cells = [
            values[c].rjust(widths[c]) if c in numeric else values[c].ljust(widths[c])
            for c in shown.columns
        ]
        return "  ".join(cells).rstrip()

    lines.append(row({c: c for c in shown.columns}))
    lines.extend(row(r) for r in shown.to_dict("records"))
    return "\n".join(lines)


def _format_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n").rstrip("\n")


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _format_json(frame: pd.DataFrame) -> str:
    records = [
        {str(col): _json_value(value) for col, value in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return json.dumps(records, indent=2, allow_nan=False)


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _format_latex(frame: pd.DataFrame, digits: int) -> str:
    arms = arm_columns_of(frame)
    level = _constant(frame, "confidence_level")
    cell_name = f"leak@$k$ [{_level_text(level)} CI]" if level is not None else "leak@$k$ [CI]"
    header = [_latex_escape(a) for a in arms] + ["$k$", cell_name.replace("%", r"\%")]
    align = ["r" if pd.api.types.is_numeric_dtype(frame[a]) else "l" for a in arms] + ["r", "l"]
    columns: list[list[str]] = [[_latex_escape(str(v)) for v in frame[a].to_numpy()] for a in arms]
    columns.append([_num(v, digits) for v in frame["k"].to_numpy()])
    columns.append(
        [
            f"{_num(e, digits)} {_interval(lo, hi, digits)}"
            for e, lo, hi in zip(
                frame["estimate"].to_numpy(),
                frame["ci_low"].to_numpy(),
                frame["ci_high"].to_numpy(),
                strict=True,
            )
        ]
    )
    if level is None and "confidence_level" in frame.columns:
        header.append("level")
        align.append("r")
        columns.append([_latex_escape(_level_text(v)) for v in frame["confidence_level"]])
    for col, title in (("n_prompts", "prompts"), ("n_samples", "samples")):
        if col in frame.columns:
            header.append(title)
            align.append("r")
            columns.append([_num(v, digits) for v in frame[col].to_numpy()])
    if "ci_method" in frame.columns and _constant(frame, "ci_method") is None:
        header.append("interval")
        align.append("l")
        columns.append([_latex_escape(str(v)) for v in frame["ci_method"].to_numpy()])
    lines = [
        f"% Caption note: {_latex_escape(_note(frame))}",
        rf"\begin{{tabular}}{{{''.join(align)}}}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    lines.extend(" & ".join(cells) + r" \\" for cells in zip(*columns, strict=True))
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _format_markdown(frame: pd.DataFrame, digits: int) -> str:
    shown, numeric = _display_frame(frame, digits)

    def cell(text: str) -> str:
        return text.replace("|", r"\|")

    lines = [
        "| " + " | ".join(cell(c) for c in shown.columns) + " |",
        "|" + "|".join("---:" if c in numeric else ":---" for c in shown.columns) + "|",
    ]
    lines.extend(
        "| " + " | ".join(cell(v) for v in row) + " |"
        for row in shown.itertuples(index=False, name=None)
    )
    return "\n".join(lines) + "\n\n" + _note(frame)


# --------------------------------------------------------------------------- public


@renamed_arguments(fmt="format")
def format_table(frame: Any, format: str = "table", *, digits: int = 4) -> str:
    """Format a result table for reading, for machines, or for a paper.

    Parameters
    ----------
    frame : pandas.DataFrame or LeakAtKResult
        A result table (``result.to_frame()``: arm columns, ``k``, ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ...) or a result object. ``k``, ``estimate``, ``ci_low`` and
        ``ci_high`` are required; the columns before ``k`` are the arm columns.
    format : {"table", "csv", "json", "latex", "markdown"}, default "table"
        ``"table"``: fixed-width text (arms, k, estimate, interval, se, n_prompts, n_samples,
        ci_method) under a line stating the population and confidence level.
        ``"csv"``: all columns, full precision. ``"json"``: a list of records, all columns,
        full precision, NaN as ``null``. ``"latex"``: a booktabs ``tabular`` with the estimate
        and its interval in one cell, preceded by a comment with a caption-ready note.
        ``"markdown"``: a pipe table followed by the same note.
    digits : int, default 4
        Decimals of the numbers in the ``"table"``, ``"latex"`` and ``"markdown"`` formats.

    Returns
    -------
    str
        The formatted table, without a trailing newline.

    Raises
    ------
    LeakstatsError
        If ``format`` is unknown, ``digits`` is not a non-negative integer, ``frame`` is neither a
        DataFrame nor a result, or required columns are missing.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"method": ["npo"], "k": [8], "estimate": [0.123],
    ...                       "ci_low": [0.101], "ci_high": [0.146]})
    >>> print(format_table(frame, "latex", digits=3).splitlines()[5])
    npo & 8 & 0.123 [0.101, 0.146] \\\\
    """
    if not isinstance(format, str) or format not in FORMATS:
        raise LeakstatsError(
            f"format: {format!r} is not one of {', '.join(map(repr, FORMATS))}. "
            f"Fix: pass format='table' or another listed value."
        )
    check_int("digits", digits, 0, 4)
    table = result_table(frame).reset_index(drop=True)
    if format == "csv":
        return _format_csv(table)
    if format == "json":
        return _format_json(table)
    if format == "latex":
        return _format_latex(table, int(digits))
    if format == "markdown":
        return _format_markdown(table, int(digits))
    return _format_text(table, int(digits))


def format_plain(frame: pd.DataFrame, format: str = "table", *, digits: int = 4) -> str:
    """Format any table (one without intervals, such as a backtest summary) in one of the
    formats of :func:`format_table`: every column as it is, numbers to ``digits`` decimals
    (``"csv"`` and ``"json"`` at full precision).

    >>> print(format_plain(pd.DataFrame({"law": ["beta"], "mae": [0.01234]}), "markdown", digits=3))
    | law | mae |
    |:---|---:|
    | beta | 0.012 |
    """
    if not isinstance(format, str) or format not in FORMATS:
        raise LeakstatsError(
            f"format: {format!r} is not one of {', '.join(map(repr, FORMATS))}. "
            f"Fix: pass format='table' or another listed value."
        )
    check_int("digits", digits, 0, 4)
    frame = frame.reset_index(drop=True)
    if format == "csv":
        return _format_csv(frame)
    if format == "json":
        return _format_json(frame)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    cells = [[_num(v, digits) if c in numeric else str(v) for v in frame[c]]
             for c in frame.columns]
    rows = list(zip(*cells, strict=True)) if cells else []
    names = [str(c) for c in frame.columns]
    if format == "table":
        widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
        lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(lines)
    if format == "markdown":
        lines = ["| " + " | ".join(names) + " |",
                 "|" + "|".join("---:" if c in numeric else ":---" for c in frame.columns) + "|"]
        lines += ["| " + " | ".join(v.replace("|", r"\|") for v in r) + " |" for r in rows]
        return "\n".join(lines)
    align = "".join("r" if c in numeric else "l" for c in frame.columns)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(_latex_escape(n) for n in names) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(v) for v in r) + r" \\" for r in rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"])
