"""Private helpers that the figure modules share (matplotlib is imported inside the
functions, never at import time)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leakstats.core.errors import MissingDependencyError


def error_bars(est, low, high) -> list:
    """Error-bar lengths for ``errorbar(xerr=...)``, never negative: an exact posterior mean
    may fall a rounding error (or, for zero-inflated posteriors, more) outside a Monte Carlo
    equal-tailed interval, and then the bar spans only the interval.

    >>> error_bars([0.5, 0.1], [0.4, 0.1000001], [0.7, 0.2])
    [array([0.1, 0. ]), array([0.2, 0.1])]
    """
    est, low, high = (np.asarray(v, dtype=float) for v in (est, low, high))
    return [np.clip(est - low, 0, None), np.clip(high - est, 0, None)]


def _import_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            "plotting needs matplotlib, which is not installed. Fix: pip install "
            "'leakstats[plot]' (or pip install matplotlib)."
        ) from exc


def _plain(text: object) -> str:
    """Text for matplotlib with ``$`` escaped, so that it is never parsed as mathtext."""
    return str(text).replace("$", r"\$")


def _split_constant(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], str]:
    """The columns that vary over ``frame``, and the others as "col=value" text (they are said
    once in the title instead of in every label)."""
    varying = [c for c in columns if frame[c].nunique(dropna=False) > 1]
    constant = ", ".join(f"{_plain(c)}={_plain(frame[c].iloc[0])}" for c in columns
                         if c not in varying and len(frame))
    return varying, constant


def _note(frame: pd.DataFrame) -> str:
    bits = []
    if "confidence_level" in frame.columns:
        levels = frame["confidence_level"].unique()
        bits.append(f"{100 * float(levels[0]):g}% CI" if len(levels) == 1 else "CI levels vary")
    if "population" in frame.columns:
        populations = frame["population"].unique()
        bits.append(
            f"population: {_plain(populations[0])}" if len(populations) == 1 else "populations vary"
        )
    return ", ".join(bits)


def set_wrapped_title(ax, title: str, note: str = "") -> None:
    """A left title with ``note`` below it, both wrapped at spaces to the axes' width (so
    that titles of side-by-side axes never run into each other)."""
    import textwrap

    fig = ax.get_figure()
    width_in = ax.get_position().width * fig.get_figwidth()
    chars = max(20, int(width_in * 72 / (0.62 * 11)))  # ~11 pt title text
    wrap = dict(width=chars, break_on_hyphens=False, break_long_words=False)
    lines = [textwrap.fill(title, **wrap)]
    if note:
        lines.append(textwrap.fill(note, **wrap))
    ax.set_title("\n".join(lines), loc="left")
