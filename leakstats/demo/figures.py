"""The report's figures, drawn from the analysis tables (so that they can be redrawn from shipped
results without re-running anything). matplotlib is imported inside the functions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leakstats.report.plots import error_bars

__all__ = ["draw_all"]


def _bars(frame) -> list:
    """Error bars of a table with ``estimate``, ``ci_low`` and ``ci_high``."""
    return error_bars(frame["estimate"], frame["ci_low"], frame["ci_high"])


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def leak_curves(leak: pd.DataFrame, models: list[str]):
    """leak@k with bands, one panel per decoding configuration."""
    from leakstats.report.plots import plot_leak_curve

    plt = _plt()
    configs = leak[["temperature", "top_p"]].drop_duplicates().sort_values(
        "temperature", ascending=False).itertuples(index=False)
    configs = list(configs)
    fig, axes = plt.subplots(1, len(configs), figsize=(6.0 * len(configs), 4.2), squeeze=False)
    for ax, (t, p) in zip(axes[0], configs, strict=True):
        sub = leak[(leak["temperature"] == t) & (leak["top_p"] == p)].copy()
        sub["method"] = pd.Categorical(sub["method"], categories=models)
        sub = sub.sort_values(["method", "k"])
        sub["method"] = sub["method"].astype(str)
        cols = ["method", "k", "estimate", "ci_low", "ci_high", "confidence_level",
                "population"]
        plot_leak_curve(sub[cols], ax=ax)
        ax.set_title(f"T = {t:g}, top-p = {p:g}", loc="left")
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, title="model", fontsize="small", loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def greedy_vs_sampled(summary: pd.DataFrame, vs: pd.DataFrame, models: list[str], n: int,
                      level: float):
    """Per model: greedy forget ROUGE-L (left); greedy leak rate vs sampled leak@1 and leak@n
    at T = 1 (right), with intervals."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.2))
    x = np.arange(len(models))
    fg = summary[summary["split"] == "forget"].set_index("model").reindex(models)
    ax1.errorbar(x, fg["rouge_l"], yerr=error_bars(fg["rouge_l"], fg["ci_low"], fg["ci_high"]),
                 fmt="o", capsize=3)
    ax1.set_xticks(x, models, rotation=30, ha="right")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("greedy ROUGE-L recall (forget set)")
    ax1.set_title(f"Greedy decoding ({100 * level:g}% t interval over prompts)", loc="left",
                  fontsize="medium")
    width = 0.25
    for offset, (label, frame) in zip(
            (-width, 0.0, width),
            (("greedy leak rate", None), ("leak@1, T = 1", vs[vs["k"] == 1]),
             (f"leak@{n}, T = 1", vs[vs["k"] == n])), strict=True):
        if frame is None:
            rates = vs[vs["k"] == 1].set_index("model").reindex(models)["greedy_rate"]
            ax2.plot(x + offset, rates, "s", color="black", label=label)
            continue
        f = frame.set_index("model").reindex(models)
        ax2.errorbar(x + offset, f["estimate"], yerr=_bars(f),
                     fmt="o", capsize=3, label=label)
    ax2.set_xticks(x, models, rotation=30, ha="right")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share of forget prompts leaking")
    ax2.set_title("Greedy vs sampled (leak@k with intervals)", loc="left", fontsize="medium")
    ax2.legend(fontsize="small")
    fig.tight_layout()
    return fig


def difference_forest(compare: pd.DataFrame, n: int):
    """Paired differences of leak@n at T = 1 against retrain and original, with intervals;
    filled markers: significant after Holm correction."""
    plt = _plt()
    rows = compare[(compare["temperature"] == 1.0) & (compare["top_p"] == 1.0)
                   & (compare["k"] == n)].iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.0, 0.42 * len(rows) + 1.4))
    y = np.arange(len(rows))
    for yi, r in zip(y, rows.itertuples(index=False), strict=True):
        ax.errorbar(r.estimate, yi, xerr=error_bars([r.estimate], [r.ci_low], [r.ci_high]),
                    fmt="o", capsize=3, color="C0" if r.baseline == "retrain" else "C1",
                    mfc=None if r.significant else "white")
    labels = [f"{r.method_a} - {r.baseline} (p_adj {r.p_adjusted:.3g})"
              for r in rows.itertuples(index=False)]
    ax.set_yticks(y, labels, fontsize="small")
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_xlabel(f"difference of leak@{n} at T = 1 (filled: significant, Holm)")
    ax.set_title("Paired differences against the references", loc="left", fontsize="medium")
    fig.tight_layout()
    return fig


def extrapolation(curve: pd.DataFrame, observed: pd.DataFrame, pred: pd.DataFrame):
    """Observed leak@k with its interval and the extrapolated band up to the largest k, per
    model (models without leaks are absent: they have no extrapolation)."""
    plt = _plt()
    models = list(dict.fromkeys(pred["method"]))
    if not models:
        fig, ax = plt.subplots(figsize=(6.0, 2.0))
        ax.text(0.5, 0.5, "No model leaked at T = 1: nothing to extrapolate.", ha="center")
        ax.set_axis_off()
        return fig
    cols = min(3, len(models))
    rows = int(np.ceil(len(models) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, model in zip(axes.flat, models, strict=False):
        cu = curve[curve["method"] == model].sort_values("k")
        ob = observed[observed["method"] == model].sort_values("k")
        pr = pred[pred["method"] == model]
        ax.fill_between(cu["k"], cu["ci_low"], cu["ci_high"], alpha=0.2, color="C0")
        ax.plot(cu["k"], cu["estimate"], color="C0", label="model")
        ax.errorbar(ob["k"], ob["estimate"], yerr=_bars(ob),
                    fmt="o", color="black", markersize=3, capsize=2, label="observed")
        ax.errorbar(pr["k"], pr["estimate"], yerr=_bars(pr),
                    fmt="D", color="C3", capsize=3, label="predicted")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_title(model, loc="left", fontsize="medium")
        ax.set_xlabel("k")
        ax.set_ylabel("leak@k")
    for ax in list(axes.flat)[len(models):]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def prompt_forest(posts: pd.DataFrame, n: int, top: int = 20):
    """The riskiest prompts under the Bayesian model: posterior leak@n with intervals."""
    plt = _plt()
    table = posts.sort_values("leak_mean", ascending=False).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(table) + 1.3))
    y = np.arange(len(table))
    ax.errorbar(table["leak_mean"], y,
                xerr=error_bars(table["leak_mean"], table["leak_low"], table["leak_high"]),
                fmt="o", capsize=2)
    ax.set_yticks(y, [f"{r.method}: {r.prompt_id} ({r.n_leaked}/{r.n_samples}, "
                      f"P(p=0)={r.p_zero:.2f})" for r in table.itertuples(index=False)],
                  fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"posterior leak@{n} of the prompt (credible interval)")
    ax.set_title(f"Riskiest prompts at T = 1, k = {n}", loc="left", fontsize="medium")
    fig.tight_layout()
    return fig


def draw_all(analysis, folder) -> list[str]:
    """Draw every figure into ``folder`` as PNG and PDF; return their stems."""
    plt = _plt()
    t, meta = analysis.tables, analysis.meta
    n, models = meta["n_plain"], meta["models"]
    figures = {
        "leak_curves": lambda: leak_curves(t["leak"], models),
        "greedy_vs_sampled": lambda: greedy_vs_sampled(t["greedy_summary"], t["vs_greedy"],
                                                       models, n, meta["confidence_level"]),
        "differences": lambda: difference_forest(t["compare"], n),
        "extrapolation": lambda: extrapolation(t["extrapolation_curve"],
                                               t["extrapolation_observed"], t["extrapolation"]),
    }
    if "bayes_prompts" in t:
        figures["bayes_prompts"] = lambda: prompt_forest(t["bayes_prompts"], n)
    done = []
    for stem, make in figures.items():
        fig = make()
        try:
            for suffix in ("png", "pdf"):
                fig.savefig(folder / f"{stem}.{suffix}", dpi=130, bbox_inches="tight")
        finally:
            plt.close(fig)
        done.append(stem)
    return done
