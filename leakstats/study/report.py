""":func:`write_report`: leak@k, certified bounds, comparisons between methods and (when
asked) extrapolation for any input :func:`leakstats.read` takes, written as ``report.md``
with its tables (CSV) and figures (PNG) and a manifest."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from leakstats.core.checks import check_bool, check_choice, check_int, check_level, parse_k
from leakstats.core.errors import LeakstatsError, LeakstatsWarning, warn
from leakstats.core.files import write_json
from leakstats.core.vocabulary import INPUT_FORMATS
from leakstats.study._folder import KIND, MANIFEST, check_target, new_temporary, publish

__all__ = ["write_report"]


def _arms_table(data: pd.DataFrame, by) -> tuple[pd.DataFrame, list[str]]:
    from leakstats.records.api import as_counts

    counts, arms = as_counts(data, by=by)
    grouped = counts.groupby(arms, sort=False) if arms else [((), counts)]
    rows = []
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(arms, key, strict=True)), "prompts": len(part),
                     "samples": int(part["n_samples"].sum()),
                     "samples per prompt": _span(part["n_samples"]),
                     "prompts that leaked": int((part["n_leaked"] > 0).sum()),
                     "leaked samples": int(part["n_leaked"].sum())})
    return pd.DataFrame(rows), arms


def _span(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}-{high}"


class _Writer:
    """Collects the sections, tables and figures of one report in a temporary folder."""

    def __init__(self, folder: Path, digits: int) -> None:
        self.folder, self.digits = folder, digits
        self.lines: list[str] = []
        self.files: list[str] = []
        (folder / "tables").mkdir()
        (folder / "figures").mkdir()

    def text(self, *lines: str) -> None:
        self.lines.extend([*lines, ""])

    def table(self, name: str, frame: pd.DataFrame, shown: str) -> None:
        path = f"tables/{name}.csv"
        frame.to_csv(self.folder / path, index=False)
        self.files.append(path)
        self.text(shown, "", f"Table: [`{path}`]({path}).")

    def figure(self, name: str, draw, size: tuple[float, float], alt: str) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        path = f"figures/{name}.png"
        fig.savefig(self.folder / path, dpi=130)
        self.files.append(path)
        self.text(f"![{alt}]({path})")


def _sections(w: _Writer, data: pd.DataFrame, arms: list[str], *, k, baseline,
              confidence_level: float, extrapolate_k, rng, plots: bool) -> None:
    from leakstats.certify import certify
    from leakstats.estimate.api import leak_at_k
    from leakstats.report.tables import format_plain, format_table

    by = arms
    result = leak_at_k(data, k=k, by=by, confidence_level=confidence_level)
    w.text("## leak@k", "The chance that at least one of k samples of a prompt leaks, averaged "
           "over the prompts (unbiased estimator, intervals for the benchmark's prompts).")
    w.table("leak_at_k", result.to_frame(), format_table(result.to_frame(), "markdown",
                                                          digits=w.digits))
    if plots:
        from leakstats.records.api import as_counts
        from leakstats.report.plots import plot_leak_curve

        n_min = int(as_counts(data, by=by)[0]["n_samples"].min())
        grid = sorted({*(2 ** i for i in range(n_min.bit_length()) if 2 ** i <= n_min),
                       *(v for v in k if v <= n_min)} or {1})
        curve = leak_at_k(data, k=grid, by=by, confidence_level=confidence_level)
        w.figure("leak_curve", lambda f: plot_leak_curve(curve, ax=f.subplots()), (9.0, 5.0),
                 "leak@k against k per arm")
    bounds = certify(data, k=k, by=by, confidence_level=confidence_level).to_frame()
    shown = bounds[[*arms, "k", "estimate", "upper_bound", "route"]].astype(
        {a: str for a in arms})
    w.text("## Certified upper bounds",
           f"One-sided {100 * confidence_level:g}% upper confidence bounds on leak@k, valid "
           "whatever the prompts' leak probabilities, also when nothing leaked.")
    w.table("certified", bounds, format_plain(shown, "markdown", digits=w.digits))
    methods = data["method"].nunique() if "method" in arms else 0
    if methods >= 2:
        _comparison(w, data, arms, k=k, baseline=baseline, confidence_level=confidence_level,
                    rng=rng, plots=plots)
    if extrapolate_k:
        _extrapolation(w, data, arms, k=extrapolate_k, confidence_level=confidence_level,
                       rng=rng)


def _comparison(w: _Writer, data, arms, *, k, baseline, confidence_level, rng,
                plots: bool) -> None:
    from leakstats.compare.api import compare

    w.text("## Methods compared", "Paired differences on shared prompts, with "
           "multiplicity-adjusted p-values (Holm), within each setting of the other arm "
           "columns.")
    try:
        result = compare(data, k=k, baseline=baseline, by=arms,
                         confidence_level=confidence_level, rng=rng)
    except LeakstatsError as exc:
        warn(f"report: the methods were not compared: {exc}", LeakstatsWarning)
        w.text(f"Not compared: {exc}")
        return
    w.table("differences", result.to_frame("differences"),
            result.to_markdown(table="differences", digits=w.digits))
    if plots:
        from leakstats.report.plots import plot_compare

        w.figure("compare", lambda f: plot_compare(result, axes=f.subplots(1, 2)), (12.0, 5.0),
                 "leak@k per method and the paired differences")


def _extrapolation(w: _Writer, data, arms, *, k, confidence_level, rng) -> None:
    from leakstats.extrapolate.api import extrapolate
    from leakstats.records.api import as_counts
    from leakstats.report.tables import format_table

    w.text("## Extrapolation to large k",
           "leak@k beyond the samples per prompt from a fitted law of per-prompt leak "
           "rates (family auto: beta unless another law wins by its AIC margin); "
           "prompt-bootstrap intervals with the law reselected in every resample.")
    counts, _ = as_counts(data, by=arms)
    frames, skipped = [], []
    groups = counts.groupby(arms, sort=False) if arms else [((), counts)]
    for key, part in groups:
        try:
            frames.append(extrapolate(part, k=k, by=arms, confidence_level=confidence_level,
                                      rng=rng).to_frame())
        except LeakstatsError as exc:
            key = key if isinstance(key, tuple) else (key,)
            skipped.append(f"- {', '.join(f'{a}={v}' for a, v in zip(arms, key, strict=True))}"
                           f": {str(exc).split('. Fix')[0]}.")
    if frames:
        table = pd.concat(frames, ignore_index=True)
        w.table("extrapolation", table, format_table(table, "markdown", digits=w.digits))
    if skipped:
        w.text("Not extrapolated:", *skipped)


def write_report(
    source,
    out: str | os.PathLike,
    *,
    k=(1, 8),
    baseline: str | None = None,
    by=None,
    leaked: str | None = None,
    where: str | None = None,
    format: str = "auto",
    confidence_level: float = 0.95,
    extrapolate_k=None,
    digits: int = 4,
    plots: bool = True,
    overwrite: bool = False,
    rng=0,
) -> Path:
    """Write a report of leak@k for ``source`` into the folder ``out``.

    The folder holds ``report.md`` (input summary, leak@k with intervals, certified upper
    bounds, paired comparisons of methods when a ``method`` arm has two or more values,
    extrapolation when ``extrapolate_k`` is given, and every warning the analyses raised),
    ``tables/*.csv`` (full precision), ``figures/*.png`` (with ``plots``, needs matplotlib) and
    ``manifest.json`` (what was read with which options, the files written).

    Parameters
    ----------
    source : DataFrame or path
        Anything :func:`leakstats.read` takes.
    out : path
        The report folder: new, empty, or (with ``overwrite``) a report folder written
        before; it is filled in a temporary folder and moved into place when complete.
    k : int or sequence of int, default (1, 8)
        The k of every table.
    baseline : str, optional
        Compare every method with this one (default: all pairs).
    by : str or list of str, optional
        Arm columns (default as in :func:`leakstats.leak_at_k`).
    leaked, where, format
        As in :func:`leakstats.read`.
    confidence_level : float, default 0.95
    extrapolate_k : int or sequence of int, optional
        Also extrapolate leak@k to these k (arms without a leak are listed as not
        extrapolated, with the reason).
    digits : int, default 4
        Decimals in the Markdown tables.
    plots : bool, default True
        Draw the figures.
    overwrite : bool, default False
        Replace ``out`` when it is a report folder (its manifest says so and it holds only the
        files it lists); any other existing, non-empty folder is refused.
    rng : None, int or numpy.random.Generator, default 0
        Seed of the resampling (the report is reproducible by default).

    Returns
    -------
    pathlib.Path
        The path of ``report.md``.

    Raises
    ------
    OutputExistsError
        If ``out`` is an input, exists without ``overwrite``, or is not a report folder.
    LeakstatsError
        On bad input or arguments (before anything is written).
    """
    from leakstats.records.read import read

    check_choice("format", format, INPUT_FORMATS)
    k = [int(v) for v in parse_k(k)]
    if extrapolate_k is not None:
        try:
            extrapolate_k = [int(v) for v in parse_k(extrapolate_k)]
        except LeakstatsError as exc:
            raise LeakstatsError(f"extrapolate_k: {exc}") from None
    check_level(confidence_level)
    check_int("digits", digits, 0, 4)
    check_bool("plots", plots)
    check_bool("overwrite", overwrite)
    out = Path(out).expanduser()
    inputs = [Path(source)] if isinstance(source, str | os.PathLike) else []
    check_target(out, overwrite, inputs)
    data = read(source, leaked=leaked, where=where, format=format)
    arms_table, arms = _arms_table(data, by)
    tmp = new_temporary(out)
    try:
        w = _Writer(tmp, digits)
        w.text("# leakstats report", f"Input: `{source if inputs else 'a DataFrame'}`"
               + (f"; leak rule `{leaked}`" if leaked else "")
               + (f"; rows where `{where}`" if where else "") + ".")
        w.text("## Input", f"Arm columns: {', '.join(arms) if arms else '(one arm)'}.")
        w.table("arms", arms_table, _markdown(arms_table))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _sections(w, data, arms, k=k, baseline=baseline,
                      confidence_level=confidence_level, extrapolate_k=extrapolate_k,
                      rng=rng, plots=plots)
        said = list(dict.fromkeys(str(c.message) for c in caught))
        w.text("## Warnings", *([f"- {m}" for m in said] or ["None."]))
        (tmp / "report.md").write_text("\n".join(w.lines).rstrip() + "\n", encoding="utf-8")
        w.files.insert(0, "report.md")
        write_json(tmp / MANIFEST, _manifest(source, inputs, w.files, k=k, baseline=baseline,
                                              by=arms, leaked=leaked, where=where,
                                              confidence_level=confidence_level,
                                              extrapolate_k=extrapolate_k))
        publish(tmp, out)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for message in said:  # to the caller too, once each
        category = next(c.category for c in caught if str(c.message) == message)
        warn(message, category)
    return out / "report.md"


def _markdown(frame: pd.DataFrame) -> str:
    from leakstats.report.tables import format_plain

    return format_plain(frame, "markdown", digits=0)


def _manifest(source, inputs, files, **options: Any) -> dict:
    from leakstats import __version__

    return {"kind": KIND, "leakstats": __version__, "created": time.time(),
            "source": str(inputs[0]) if inputs else "DataFrame",
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
            "files": files}
