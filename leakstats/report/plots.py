"""Plots of results. matplotlib is imported inside the functions, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leakstats.core.checks import check_int
from leakstats.core.errors import InputNotFoundError, LeakstatsError, OutputExistsError
from leakstats.estimate.result import LeakAtKResult
from leakstats.report._expect import expect
from leakstats.report._plot_common import (
    _import_matplotlib,
    _note,
    _plain,
    _split_constant,
    error_bars,
    set_wrapped_title,
)
from leakstats.report.plots_extrapolate import plot_backtest, plot_extrapolation
from leakstats.report.tables import arm_columns_of, result_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# plot_extrapolation and plot_backtest live in plots_extrapolate; they are named here because
# leakstats/__init__.py and the callers load every plot_* from this module
__all__ = ["image_format", "plot_backtest", "plot_compare", "plot_difference_forest",
           "plot_extrapolation", "plot_leak_curve", "plot_prompt_forest", "save_figure"]


def image_format(
    path: str | os.PathLike,
    supported: Iterable[str] | None = None,
    *,
    argument: str = "argument 'path'",
) -> str:
    """The image format named by the suffix of ``path`` (``"png"``, ``"pdf"``, ...), checked.

    ``supported`` defaults to the formats matplotlib can write; ``argument`` names the path in
    the error message.

    Examples
    --------
    >>> image_format("curve.PDF", ["pdf", "png"])
    'pdf'
    """
    if supported is None:
        _import_matplotlib()
        from matplotlib.backend_bases import FigureCanvasBase

        supported = FigureCanvasBase.get_supported_filetypes()
    supported = sorted(supported)
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in supported:
        raise LeakstatsError(
            f"{argument}: cannot tell a supported image format from the suffix of "
            f"'{path}'. Fix: end the path in one of "
            f"{', '.join('.' + s for s in supported)} (e.g. .png or .pdf)."
        )
    return fmt


def _result_frame(result: Any) -> tuple[pd.DataFrame, list[str]]:
    """The table and arm columns of a result or a result DataFrame, checked."""
    frame = result_table(result, argument="result").reset_index(drop=True)
    if len(frame) == 0:
        raise LeakstatsError(
            "argument 'result': the table has no rows, so there is nothing to plot. Fix: pass "
            "a non-empty result."
        )
    k = pd.to_numeric(frame["k"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(k) & (k > 0)):
        raise LeakstatsError(
            f"argument 'result': column 'k' must hold positive numbers for the log-2 axis; got "
            f"{frame['k'].tolist()[:5]}. Fix: pass the table of a leak_at_k result."
        )
    arms = list(result.arms) if isinstance(result, LeakAtKResult) else arm_columns_of(frame)
    return frame, arms


def _arm_label(arms: list[str], key: tuple) -> str:
    if len(arms) == 1:
        return _plain(key[0])
    return ", ".join(f"{_plain(a)}={_plain(v)}" for a, v in zip(arms, key, strict=True))


def plot_leak_curve(result: Any, ax: Axes | None = None, *, label_arms: bool = True) -> Axes:
    """Plot leak@k against k (log-2 axis), one line per arm with its confidence band.

    Parameters
    ----------
    result : LeakAtKResult or pandas.DataFrame
        A result of :func:`leakstats.leak_at_k`, or its table (``to_frame()``): arm columns,
        then ``k``, ``estimate``, ``ci_low``, ``ci_high`` (and optionally
        ``confidence_level``, ``population``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    label_arms : bool, default True
        Name the arms in a legend and the title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    LeakstatsError
        If ``result`` is neither a result nor a DataFrame with the result columns, or is empty.
    MissingDependencyError (a ModuleNotFoundError)
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"prompt_id": [0, 1, 2], "n_samples": [16, 16, 16],
    ...                        "n_leaked": [0, 1, 3]})
    >>> ax = plot_leak_curve(leakstats.leak_at_k(counts, k=[1, 4, 16]))
    >>> ax.get_ylabel()
    'leak@k'
    """
    frame, all_arms = _result_frame(result)
    # a column with one value labels nothing: it is said once, under the title
    arms, constant = _split_constant(frame, all_arms) if len(all_arms) > 1 else (all_arms, "")
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.0, 4.0))
    groups = frame.groupby(arms, sort=False, dropna=False) if arms else [((), frame)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = group.sort_values("k")
        k = group["k"].to_numpy(dtype=float)
        label = _arm_label(arms, key) if (label_arms and arms) else None
        (line,) = ax.plot(k, group["estimate"].to_numpy(dtype=float), marker="o", label=label)
        ax.fill_between(
            k,
            group["ci_low"].to_numpy(dtype=float),
            group["ci_high"].to_numpy(dtype=float),
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )
    ks = np.unique(frame["k"].to_numpy(dtype=float))
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [f"{v:g}" for v in ks])
    ax.minorticks_off()
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("k (samples per prompt)")
    ax.set_ylabel("leak@k")
    names = ", ".join(_plain(a) for a in arms)
    title = f"leak@k by {names}" if (label_arms and arms) else "leak@k"
    # the note on its own line: a right-hand title collides with a long left-hand one
    note = "; ".join(t for t in (constant, _note(frame)) if t)
    set_wrapped_title(ax, title, note)
    if label_arms and arms:
        ax.legend(title=names if len(arms) == 1 else None, fontsize="small")
    return ax


def save_figure(
    fig_or_ax: Figure | Axes, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Save a figure (or the figure of an Axes); the format follows the suffix.

    Parameters
    ----------
    fig_or_ax : matplotlib.figure.Figure or matplotlib.axes.Axes
        What to save.
    path : str or os.PathLike
        Target file; its suffix (``.png``, ``.pdf``, ``.svg``, ...) picks the format.
    overwrite : bool, default False
        Replace an existing file. Without it an existing file is never touched.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputExistsError (a FileExistsError)
        If ``path`` exists and ``overwrite`` is False.
    InputNotFoundError (a FileNotFoundError)
        If the folder of ``path`` does not exist.
    LeakstatsError
        If ``fig_or_ax`` is not a figure or axes, or the suffix is not a supported format.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, tempfile, pathlib
    >>> fig, ax = plt.subplots()
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "curve.png"
    >>> save_figure(ax, out).name
    'curve.png'
    """
    _import_matplotlib()
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    if isinstance(fig_or_ax, Axes):
        fig = fig_or_ax.figure
    elif isinstance(fig_or_ax, Figure | SubFigure):
        fig = fig_or_ax
    else:
        raise LeakstatsError(
            f"argument 'fig_or_ax': expected a matplotlib Figure or Axes, got "
            f"{type(fig_or_ax).__name__}. Fix: pass the Axes returned by plot_leak_curve, or "
            f"its .figure."
        )
    while isinstance(fig, SubFigure):
        fig = fig.figure
    target = Path(path).expanduser()
    fmt = image_format(target, fig.canvas.get_supported_filetypes())
    if not target.parent.is_dir():
        raise InputNotFoundError(
            f"cannot save the figure to '{target}': the folder '{target.parent}' does not "
            f"exist. Fix: create it first, or choose another path."
        )
    if target.exists() and not overwrite:
        raise OutputExistsError(
            f"'{target}' already exists; leakstats does not overwrite files unless asked. "
            f"Fix: pass overwrite=True (--overwrite on the command line), or choose another "
            f"path."
        )
    mode = "wb" if overwrite else "xb"
    try:
        with open(target, mode) as handle:
            fig.savefig(handle, format=fmt, bbox_inches="tight")
    except FileExistsError:
        raise OutputExistsError(
            f"'{target}' already exists (created while saving). Fix: pass overwrite=True, or "
            f"choose another path."
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def plot_prompt_forest(model: Any, k: int = 1, ax: Axes | None = None, *, top: int = 20,
                       confidence_level: float = 0.95) -> Axes:
    """Forest plot of the riskiest prompts under a fitted Bayesian model.

    One row per prompt (the ``top`` with the highest posterior mean leak@k, over all arms):
    posterior mean and credible interval of the prompt's leak@k, labelled with its arm, its
    counts and P(p = 0).

    Parameters
    ----------
    model : leakstats.BetaBinomialModel
        A fitted model.
    k : int
        The k of leak@k (may exceed the number of samples).
    ax : matplotlib Axes, optional
    top : int
        How many prompts to show.

    Returns
    -------
    matplotlib.axes.Axes
    """
    expect(model, "leakstats.bayes.model.BetaBinomialModel", argument="model",
           public="a fitted leakstats.BetaBinomialModel", fix="model = leakstats.fit_bayes(data)")
    check_int("top", top, 1, 20)
    table = model.prompt_posteriors(k=[k], confidence_level=confidence_level)
    table = table.sort_values("leak_mean", ascending=False).head(top).iloc[::-1]
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.5, 0.3 * len(table) + 1.2))
    y = np.arange(len(table))
    mean = table["leak_mean"].to_numpy(dtype=float)
    ax.errorbar(mean, y, xerr=error_bars(mean, table["leak_low"], table["leak_high"]),
                fmt="o", capsize=2)
    arms = list(model.arms_)
    labels = []
    for r in table.itertuples(index=False):
        arm = ", ".join(str(getattr(r, a)) for a in arms)
        head = f"{arm}: " if arm else ""
        labels.append(_plain(f"{head}{r.prompt_id} ({r.n_leaked}/{r.n_samples}, "
                             f"P(p=0)={r.p_zero:.2f})"))
    ax.set_yticks(y, labels, fontsize="small")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(f"posterior leak@{k} of the prompt ({confidence_level:.0%} credible interval)")
    ax.set_title(f"Riskiest prompts at k = {k}", loc="left")
    return ax


# --------------------------------------------------------------------------- compare (issue 5)


def _compare_result(result: Any):
    return expect(result, "leakstats.compare.api.CompareResult", argument="result",
                  public="a leakstats.CompareResult",
                  fix="result = leakstats.compare(data, k=[...])")


def plot_difference_forest(result: Any, k: int | None = None, ax: Axes | None = None) -> Axes:
    """Forest plot of the paired differences of a comparison at one k.

    One row per pair of methods (and configuration): the difference of leak@k (method_a minus
    method_b) with its interval, a vertical line at 0, and the adjusted p-value (or the
    posterior probability) in the label; significant differences are drawn filled.

    Parameters
    ----------
    result : leakstats.CompareResult
        A result of :func:`leakstats.compare`.
    k : int, optional
        The k to show (default: the largest k of the result).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    LeakstatsError
        If ``result`` is not a CompareResult or ``k`` is not one of its k values.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 3, "prompt_id": [1, 2, 3] * 2,
    ...                        "n_samples": 20, "n_leaked": [5, 2, 9, 1, 0, 4]})
    >>> ax = plot_difference_forest(leakstats.compare(counts, k=[1, 4], rng=0))
    >>> ax.get_xlabel()
    'difference of leak@4 (method_a - method_b)'
    """
    result = _compare_result(result)
    frame = result.to_frame()
    ks = np.unique(frame["k"].to_numpy())
    if k is None:
        k = int(ks.max())
    elif k not in ks:
        raise LeakstatsError(
            f"argument 'k': {k!r} is not one of the result's k values {ks.tolist()}. Fix: pass "
            "one of them, or k=None for the largest."
        )
    rows = frame[frame["k"] == k].iloc[::-1]
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.0, 0.35 * len(rows) + 1.4))
    y = np.arange(len(rows))
    est = rows["estimate"].to_numpy(dtype=float)
    lo = rows["ci_low"].to_numpy(dtype=float)
    hi = rows["ci_high"].to_numpy(dtype=float)
    sig = rows["significant"].to_numpy(dtype=bool)
    for filled in (True, False):
        sel = sig == filled
        if sel.any():
            ax.errorbar(est[sel], y[sel], xerr=error_bars(est[sel], lo[sel], hi[sel]),
                        fmt="o", capsize=2, color="C0",
                        markerfacecolor="C0" if filled else "white")
    ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle="--")
    configs, constant = _split_constant(frame, list(result.configs))
    labels = []
    for r in rows.to_dict("records"):
        config = ", ".join(f"{c}={r[c]}" for c in configs)
        stat = (f"P(a>b)={r['prob_a_greater']:.2f}" if result.test == "bayes"
                else f"p_adj={r['p_adjusted']:.3g}")
        head = f"{config}: " if config else ""
        labels.append(_plain(f"{head}{r['method_a']} - {r['method_b']} ({stat})"))
    ax.set_yticks(y, labels, fontsize="small")
    ax.set_xlabel(f"difference of leak@{k} (method_a - method_b)")
    title = f"Paired differences, {100 * result.confidence_level:g}% intervals"
    set_wrapped_title(ax, title, constant)
    return ax


def plot_compare(result: Any, k: int | None = None, axes=None) -> np.ndarray:
    """Two panels for a comparison: leak@k curves per method with their bands, and the forest
    plot of the paired differences at ``k`` (default: the largest k).

    Parameters
    ----------
    result : leakstats.CompareResult
        A result of :func:`leakstats.compare`.
    k : int, optional
        The k of the forest plot.
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new figure with two panels is made when omitted.

    Returns
    -------
    numpy.ndarray of two matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd, leakstats
    >>> counts = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 3, "prompt_id": [1, 2, 3] * 2,
    ...                        "n_samples": 20, "n_leaked": [5, 2, 9, 1, 0, 4]})
    >>> axes = plot_compare(leakstats.compare(counts, k=[1, 4], rng=0))
    >>> [ax.get_ylabel() for ax in axes]
    ['leak@k', '']
    """
    result = _compare_result(result)
    _import_matplotlib()
    if axes is None:
        import matplotlib.pyplot as plt

        n_rows = len(result.to_frame().query("k == k.max()"))
        _, axes = plt.subplots(1, 2, figsize=(12.0, max(4.0, 0.35 * n_rows + 1.4)),
                               layout="constrained")
    axes = np.asarray(axes, dtype=object).reshape(-1)
    if axes.size != 2:
        raise LeakstatsError(
            f"argument 'axes': expected two Axes, got {axes.size}. Fix: pass e.g. "
            "plt.subplots(1, 2)[1], or axes=None."
        )
    plot_leak_curve(result.to_frame("methods"), ax=axes[0])
    plot_difference_forest(result, k=k, ax=axes[1])
    return axes
