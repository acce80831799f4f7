"""``export_results``: the records, counts and greedy answers of a run as small Parquet files
(what ``data/demo/`` ships, so that notebooks run in seconds without a model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from leakstats.core.errors import LeakstatsError, OutputExistsError

__all__ = ["EXPORTED", "export_results"]

#: The files written by :func:`export_results`.
EXPORTED = ("records.parquet", "counts.parquet", "greedy.parquet", "manifest.json")


def export_results(run_dir: str | os.PathLike, dest: str | os.PathLike, *,
                   overwrite: bool = False) -> dict[str, Path]:
    """Export a finished demo run as small Parquet files.

    Parameters
    ----------
    run_dir : path
        A demo run folder whose analysis stage has finished (``leakstats demo --out``).
    dest : path
        Folder to write (created): ``records.parquet`` (one row per sampled answer: method,
        temperature, top_p, judge, prompt_id, sample_id, leaked, score, text, n_tokens,
        finish_reason), ``counts.parquet`` (one row per prompt and arm), ``greedy.parquet``
        (one greedy answer per model, split and question, with its ROUGE-L recall) and
        ``manifest.json`` (settings, models, judge).
    overwrite : bool, default False
        Replace these files when ``dest`` holds them already.

    Returns
    -------
    dict
        File name -> path written.

    Raises
    ------
    ValueError
        (:class:`leakstats.LeakstatsError`) if ``run_dir`` holds no finished analysis.
    OutputExistsError (a FileExistsError)
        If a file to write exists and ``overwrite`` is False.

    Examples
    --------
    >>> import leakstats.demo, tempfile
    >>> leakstats.demo.export_results(tempfile.mkdtemp(), tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leakstats.core.errors.LeakstatsError: run_dir: '...' holds no finished demo analysis (analysis/analysis.json is missing). Fix: run `leakstats demo --out ...` to the end first, then export.
    """  # noqa: E501
    from leakstats.demo.analysis import Analysis

    run = Path(run_dir).expanduser()
    if not (run / "analysis" / "analysis.json").is_file():
        raise LeakstatsError(
            f"run_dir: '{run}' holds no finished demo analysis (analysis/analysis.json is "
            f"missing). Fix: run `leakstats demo --out {run}` to the end first, then export."
        )
    target = Path(dest).expanduser()
    existing = [name for name in EXPORTED if (target / name).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"dest: '{target}' already holds {existing}; leakstats does not overwrite files "
            f"unless asked. Fix: pass overwrite=True (--overwrite), or choose another folder."
        )
    analysis = Analysis.load(run / "analysis")
    target.mkdir(parents=True, exist_ok=True)
    tables = {
        "records.parquet": analysis.tables["records"],
        "counts.parquet": analysis.tables["counts"],
        "greedy.parquet": analysis.tables["greedy"],
    }
    written = {}
    for name, frame in tables.items():
        frame = pd.DataFrame(frame).reset_index(drop=True)
        frame.to_parquet(target / name, index=False, compression="zstd")
        written[name] = target / name
    manifest = {key: analysis.meta[key] for key in ("models", "unlearned", "rule", "rule_base",
                                                   "judge", "judge_spec", "settings")}
    manifest["files"] = {name: "see leakstats.demo.export_results" for name in tables}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                          encoding="utf-8")
    written["manifest.json"] = target / "manifest.json"
    return written
