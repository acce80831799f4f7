"""Plots of results. matplotlib is imported inside the functions, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.estimate.result import LeakAtKResult
from leakstats.report._expect import expect
from leakstats.report.tables import arm_columns_of, result_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["image_format", "plot_leak_curve", "plot_prompt_forest", "save_figure"]


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
    ax.set_title(f"{title}\n{note}" if note else title, loc="left")
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
    expect(model, "leakstats.bayes.model.BetaBinomialModel", argument="model",
           public="a fitted leakstats.BetaBinomialModel", fix="model = leakstats.fit_bayes(data)")
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
    ax.set_title(f"{title}\n{constant}" if constant else title, loc="left")
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


# --------------------------------------------------------------------------- extrapolation
def _select_arm(frame: pd.DataFrame, arms: list[str], arm: Any, what: str) -> pd.DataFrame:
    """Rows of one arm; ``arm`` is a value (one arm column), a tuple, or a dict by column."""
    if not arms:
        return frame
    keys = frame[arms].drop_duplicates()
    if arm is None:
        if len(keys) == 1:
            return frame
        shown = ", ".join(str(tuple(r)) for r in keys.head(5).itertuples(index=False))
        raise LeakstatsError(
            f"argument 'arm': the {what} has {len(keys)} arms ({shown}); a figure shows one. "
            f"Fix: pass arm=... (a value of {arms[0]!r}, a tuple over {arms}, or a dict)."
        )
    if isinstance(arm, dict):
        wanted = arm
    else:
        values = arm if isinstance(arm, tuple) else (arm,)
        if len(values) != len(arms):
            raise LeakstatsError(
                f"argument 'arm': {arm!r} does not give one value per arm column {arms}. "
                "Fix: pass a tuple with one value per column, or a dict."
            )
        wanted = dict(zip(arms, values, strict=True))
    mask = np.ones(len(frame), dtype=bool)
    for name, value in wanted.items():
        if name not in arms:
            raise LeakstatsError(
                f"argument 'arm': {name!r} is not an arm column of the {what} ({arms})."
            )
        mask &= (frame[name] == value).to_numpy()
    if not mask.any():
        raise LeakstatsError(f"argument 'arm': no rows for {wanted!r} in the {what}.")
    return frame.loc[mask]


def plot_extrapolation(result: Any, ax: Axes | None = None, *, arm: Any = None) -> Axes:
    """Observed leak@k with its band, and each model's extrapolated band, on a log k axis.

    The observed unbiased leak@k (k <= n) is drawn in black with the interval of
    :func:`leakstats.leak_at_k`; every model of the result gets its predicted curve and band
    (and markers with intervals at the requested k); a dashed line marks the asymptote
    (k -> infinity) where the model estimates one below 1 (zero-inflated laws).

    Parameters
    ----------
    result : leakstats.ExtrapolationResult
        A result of :func:`leakstats.extrapolate`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    arm : scalar, tuple or dict, optional
        The arm to draw when the result has several.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd, leakstats
    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.random(200) < 0.5, 0.0, rng.beta(0.5, 20, 200))
    >>> counts = pd.DataFrame({"prompt_id": range(200), "n_samples": 50,
    ...                        "n_leaked": rng.binomial(50, p)})
    >>> res = leakstats.extrapolate(counts, k=[1000], method=["zi-beta", "power-law"],
    ...                             n_boot=50, rng=0)
    >>> plot_extrapolation(res).get_xscale()
    'log'
    """
    expect(result, "leakstats.extrapolate.api.ExtrapolationResult", argument="result",
           public="a leakstats.ExtrapolationResult",
           fix="result = leakstats.extrapolate(data, k=[...])")
    arms = list(result.arms)
    observed = _select_arm(result.observed(), arms, arm, "result")
    curve = _select_arm(result.curve(), arms, arm, "result")
    points = _select_arm(result.to_frame(), arms, arm, "result")
    asym = result.asymptotes()
    asym = _select_arm(asym, arms, arm, "result") if len(asym) else asym
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.5, 4.2))
    k_obs = observed["k"].to_numpy(dtype=float)
    ax.fill_between(k_obs, observed["ci_low"].to_numpy(dtype=float),
                    observed["ci_high"].to_numpy(dtype=float), color="0.6", alpha=0.35,
                    linewidth=0)
    ax.plot(k_obs, observed["estimate"].to_numpy(dtype=float), color="black", marker="o",
            markersize=3, label="observed (unbiased)")
    dashed = False
    for model in result.methods:
        c = curve[curve["law"] == model].sort_values("k")
        k = c["k"].to_numpy(dtype=float)
        (line,) = ax.plot(k, c["estimate"].to_numpy(dtype=float), label=_plain(model))
        color = line.get_color()
        ax.fill_between(k, c["ci_low"].to_numpy(dtype=float),
                        c["ci_high"].to_numpy(dtype=float), color=color, alpha=0.15,
                        linewidth=0)
        pt = points[points["law"] == model]
        est = pt["estimate"].to_numpy(dtype=float)
        ax.errorbar(pt["k"].to_numpy(dtype=float), est,
                    yerr=[est - pt["ci_low"].to_numpy(dtype=float),
                          pt["ci_high"].to_numpy(dtype=float) - est],
                    fmt="o", color=color, capsize=3, markersize=4)
        a = asym[asym["law"] == model] if len(asym) else asym
        if len(a) and float(a["estimate"].iloc[0]) < 1 - 1e-6:
            ax.axhline(float(a["estimate"].iloc[0]), color=color, linestyle="--",
                       linewidth=1)
            dashed = True
    n_min = k_obs.max()
    ax.axvline(n_min, color="0.4", linestyle=":", linewidth=1)
    ax.annotate(f"n = {n_min:g}", (n_min, 0.02), textcoords="offset points", xytext=(3, 0),
                fontsize="small", color="0.3")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("k (samples per prompt)")
    ax.set_ylabel("leak@k")
    # the note on its own line: a right-hand title collides with the left-hand one
    note = "; ".join(t for t in (_note(points), "dashed: asymptote" if dashed else "") if t)
    title = "leak@k: observed and extrapolated"
    ax.set_title(f"{title}\n{note}" if note else title, loc="left")
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_backtest(result: Any, ax: Axes | None = None) -> Axes:
    """Backtest: each model's prediction (with its interval) against the reference estimate
    on all samples, one point per arm x k x repeat; the diagonal is a perfect prediction.

    Parameters
    ----------
    result : leakstats.BacktestResult
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    expect(result, "leakstats.extrapolate.api.BacktestResult", argument="result",
           public="a leakstats.BacktestResult", fix="result = leakstats.backtest(data, fit_n=...)")
    table = result.to_frame()
    summary = result.summary().groupby("law", sort=False)[["mae", "coverage"]].mean()
    _import_matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5.2, 5.0))
    models = list(result.methods)
    offsets = np.linspace(-0.006, 0.006, len(models)) if len(models) > 1 else [0.0]
    for model, off in zip(models, offsets, strict=True):
        t = table[table["law"] == model]
        ref = t["reference"].to_numpy(dtype=float)
        est = t["estimate"].to_numpy(dtype=float)
        s = summary.loc[model]
        ax.errorbar(ref + off, est, yerr=[est - t["ci_low"].to_numpy(dtype=float),
                                          t["ci_high"].to_numpy(dtype=float) - est],
                    fmt="o", capsize=2, markersize=4,
                    label=f"{_plain(model)} (MAE {s['mae']:.3f}, coverage {s['coverage']:.0%})")
    ax.plot([0, 1], [0, 1], color="0.5", linewidth=1, linestyle="--")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("reference: unbiased leak@k on all samples")
    ax.set_ylabel(f"predicted from {result.fit_n} samples per prompt")
    ax.set_title("Backtest of extrapolation", loc="left")
    ax.legend(fontsize="small", loc="upper left")
    return ax
