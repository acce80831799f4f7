"""Plots of results. matplotlib is imported inside the functions, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leakstats._errors import LeakstatsError
from leakstats._results import LeakAtKResult
from leakstats.tables import arm_columns_of, result_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["image_format", "plot_leak_curve", "plot_prompt_forest", "save_figure"]


def _import_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "plotting needs matplotlib, which is not installed. Fix: pip install "
            "'leakstats[plot]' (or pip install matplotlib)."
        ) from exc


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


def _plain(text: object) -> str:
    """Text for matplotlib with ``$`` escaped, so that it is never parsed as mathtext."""
    return str(text).replace("$", r"\$")


def _arm_label(arms: list[str], key: tuple) -> str:
    if len(arms) == 1:
        return _plain(key[0])
    return ", ".join(f"{_plain(a)}={_plain(v)}" for a, v in zip(arms, key, strict=True))


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
    ModuleNotFoundError
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
    frame, arms = _result_frame(result)
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
    ax.set_title(title, loc="left")
    note = _note(frame)
    if note:
        ax.set_title(note, loc="right", fontsize="small")
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
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
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
        raise FileNotFoundError(
            f"cannot save the figure to '{target}': the folder '{target.parent}' does not "
            f"exist. Fix: create it first, or choose another path."
        )
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"'{target}' already exists; leakstats does not overwrite files unless asked. "
            f"Fix: pass overwrite=True (--overwrite on the command line), or choose another "
            f"path."
        )
    mode = "wb" if overwrite else "xb"
    try:
        with open(target, mode) as handle:
            fig.savefig(handle, format=fmt, bbox_inches="tight")
    except FileExistsError:
        raise FileExistsError(
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
    from leakstats.bayes import BetaBinomialModel

    if not isinstance(model, BetaBinomialModel):
        raise LeakstatsError(
            f"argument 'model': expected a fitted leakstats.BetaBinomialModel, got "
            f"{type(model).__name__}. Fix: model = leakstats.fit_bayes(data)."
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise LeakstatsError(f"argument 'top': {top!r} is not a positive integer. Fix: top=20.")
    table = model.prompt_posteriors(k=[k], confidence_level=confidence_level)
    table = table.sort_values("leak_mean", ascending=False).head(top).iloc[::-1]
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.5, 0.3 * len(table) + 1.2))
    y = np.arange(len(table))
    mean = table["leak_mean"].to_numpy(dtype=float)
    ax.errorbar(mean, y, xerr=[mean - table["leak_low"].to_numpy(dtype=float),
                               table["leak_high"].to_numpy(dtype=float) - mean],
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
