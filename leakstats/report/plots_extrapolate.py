"""Figures of extrapolation and backtest results. matplotlib is imported inside the
functions, never at import time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.report._expect import expect
from leakstats.report._plot_common import _import_matplotlib, _note, _plain, set_wrapped_title

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_backtest", "plot_extrapolation"]


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
    >>> res = leakstats.extrapolate(counts, k=[1000], family=["zi-beta", "power-law"],
    ...                             n_resamples=50, rng=0)
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
    picked = result.selection()
    if len(picked):
        picked = _select_arm(picked, arms, arm, "result")
        picked = picked[picked["selected"]]
    for model in result.families:
        c = curve[curve["law"] == model].sort_values("k")
        k = c["k"].to_numpy(dtype=float)
        label = _plain(model)
        if model == "auto" and len(picked):
            label = f"auto ({', '.join(map(str, picked['family']))})"
        (line,) = ax.plot(k, c["estimate"].to_numpy(dtype=float), label=label)
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
    if arms and arm is not None:
        values = observed[arms].iloc[0]
        title = ", ".join(f"{a}={_plain(values[a])}" for a in arms) + ": " + title
    set_wrapped_title(ax, title, note)
    ax.legend(fontsize="small", loc="best")
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
    models = list(result.families)
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
