"""One entry for every input: :func:`read` takes a file of any supported kind, a generation
store, or a results folder, labels samples with a leak rule where asked, and filters rows."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from leakstats.core.checks import check_choice
from leakstats.core.errors import DataValidationError, InputNotFoundError, LeakstatsError
from leakstats.core.vocabulary import IMPORTED_FORMATS, INPUT_FORMATS
from leakstats.records.files import read_any_table, read_table
from leakstats.records.rules import evaluate_on
from leakstats.records.store_files import store_root

__all__ = ["read"]

#: The table a results folder (e.g. ``data/demo``, an export of ``leakstats demo``) holds.
RESULTS_TABLE = "records.parquet"


#: Importers tried on a file (all) or folder (after the Leak@k tree) whose kind is told from
#: the content, in this order.
_SNIFFED = ("open-unlearning", "lm-eval", "inspect")
#: Suffixes of files that may be another tool's output.
_TOOL_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".eval")


def _importer(name: str):
    return importlib.import_module(f"leakstats.records.importers.{IMPORTED_FORMATS[name]}")


def _sniff_file(path: Path) -> str | None:
    """The imported format a file holds, told from its content, or None."""
    if path.suffix.lower() not in _TOOL_SUFFIXES:
        return None
    for name in ("leakk", *_SNIFFED):
        if _importer(name).looks_like(path):
            return name
    return None


def _from_folder(path: Path, leaked) -> tuple[pd.DataFrame, bool]:
    """The table of a folder, and whether ``leaked`` was applied to make it."""
    from leakstats.records.importers.leakk_tree import find_files, load_tree

    if store_root(path) is not None:
        return read_table(path), False
    if (path / RESULTS_TABLE).is_file():
        return read_table(path / RESULTS_TABLE), False
    if find_files(path):
        if leaked is None:
            raise LeakstatsError(
                f"'{path}' holds the Leak@k pipeline's generation files "
                f"(generations_n*.json); which responses leaked is a rule over their scores. "
                f"Fix: read it with leakstats.read(path, leaked=\"ES == 1\") (CLI: --leaked "
                f"\"ES == 1\")."
            )
        return load_tree(path, leaked=leaked), True
    for name in _SNIFFED:
        if _importer(name).find_files(path):
            return _importer(name).load(path, leaked=leaked), True
    if any(path.rglob("*.parquet")):  # a partitioned Parquet dataset
        return read_table(path), False
    shown = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())[:8]
    raise DataValidationError(
        f"argument 'source': the folder '{path}' is neither a leakstats store (no "
        f"manifest.json of one), a results folder (no {RESULTS_TABLE}), a Leak@k output "
        f"tree (no generations_n*.json below it) nor a folder of open-unlearning, "
        f"lm-evaluation-harness or inspect_ai outputs; it holds "
        f"{shown}. Fix: pass the file to read, e.g. '{path / (shown[0] if shown else 'x')}'."
    )


def read(
    source,
    *,
    leaked: str | Callable[[dict], bool] | None = None,
    where: str | None = None,
    format: str = "auto",
) -> pd.DataFrame:
    """Read records or counts from any input leakstats knows, as a DataFrame.

    Parameters
    ----------
    source : DataFrame, str or os.PathLike
        A DataFrame; a Parquet, CSV or JSON Lines file (``.json`` too: a JSON array of objects
        or JSON Lines); the Leak@k authors' per-prompt JSON Lines (each line with
        ``responses``, detected from the content) or their whole output tree
        (``saves/eval/<Method>/forget/temperature=1.0top_p=1.0/generations_n200*.json``: judge
        files merged per response, method and decoding config from the folder names, see
        :mod:`leakstats.records.importers.leakk_tree`); a generation store or its ``records``
        folder (every shard checked against the manifest); or a results folder holding
        ``records.parquet`` (such as ``data/demo``); or a folder of Parquet files (a
        partitioned dataset). Other tools' outputs, as files or folders of them:
        open-unlearning's ``TOFU_EVAL.json`` / ``MUSE_EVAL.json`` runs (seeded runs of one
        config become the samples, :mod:`leakstats.records.importers.open_unlearning`),
        lm-evaluation-harness ``--log_samples`` files
        (:mod:`leakstats.records.importers.lm_eval`) and inspect_ai ``.eval`` / ``.json`` logs
        with epochs (:mod:`leakstats.records.importers.inspect_log`); see docs/importing.md.
    leaked : str or callable, optional
        A leak rule (``"rougeL_recall >= 0.4"``, ``"ES == 1 or exact_match == 1"``; see
        :mod:`leakstats.records.rules`) that makes the ``leaked`` column from the other
        columns; required for the other tools' files, whose samples carry scores, not labels
        (a callable works on Leak@k files too, on each response).
    where : str, optional
        Keep only the rows where this rule holds, e.g.
        ``"judge == 'keywords_any>=1' and temperature == 1"`` (text in quotes).
    format : {"auto", "parquet", "csv", "jsonl", "leakk", "open-unlearning", "lm-eval", \
"inspect"}, default "auto"
        ``"auto"`` tells the kind from the suffix and the content.

    Returns
    -------
    pandas.DataFrame
        The table, ready for :func:`leakstats.leak_at_k` and the other analyses (validated
        there).

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"prompt_id": [1, 1, 2], "rougeL_recall": [0.9, 0.1, 0.5]})
    >>> read(scores, leaked="rougeL_recall >= 0.4")["leaked"].tolist()
    [True, False, True]
    """
    check_choice("format", format, INPUT_FORMATS)
    labelled = False
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        if not path.exists():
            raise InputNotFoundError(
                f"no such file or directory: '{path}'. Fix: check the path (relative paths "
                f"are taken from the working directory {os.getcwd()!r})."
            )
        kind = format
        if format == "auto" and path.is_file():
            kind = _sniff_file(path) or "auto"
        if path.is_dir() and format == "auto":
            frame, labelled = _from_folder(path, leaked)
        elif kind == "leakk":
            if leaked is None:
                raise LeakstatsError(
                    f"'{path}' is a Leak@k per-prompt file (each line has 'responses'); which "
                    f"responses leaked is a rule over their scores. Fix: read it with "
                    f"leakstats.read(path, leaked=\"ES == 1\") (CLI: --leaked \"ES == 1\")."
                )
            if path.is_dir():
                from leakstats.records.importers.leakk_tree import load_tree

                frame, labelled = load_tree(path, leaked=leaked), True
            else:
                from leakstats.records.importers import leakk

                frame, labelled = leakk.load(path, leaked=leaked), True
        elif kind in IMPORTED_FORMATS:
            frame, labelled = _importer(kind).load(path, leaked=leaked), True
        elif kind == "auto":
            frame = read_any_table(path)
        else:
            frame = read_table(path, format=format)
    else:
        raise LeakstatsError(
            f"argument 'source': expected a DataFrame or a path, got {type(source).__name__}. "
            f"Fix: pass a pandas.DataFrame or a file or folder path."
        )
    if leaked is not None and not labelled:
        if not isinstance(leaked, str):
            raise LeakstatsError(
                "argument 'leaked': on a table, leaked= is a rule over its columns (a string "
                "such as \"score >= 0.4\"); callables work on Leak@k files only. Fix: write "
                "the rule as a string."
            )
        if "leaked" in frame.columns:
            raise DataValidationError(
                "argument 'leaked': the table already has a 'leaked' column, and leaked= "
                "would replace it. Fix: drop the column first, or leave leaked= out.",
                column="leaked",
            )
        frame["leaked"] = evaluate_on(leaked, frame, argument="leaked")
    if where is not None:
        keep = evaluate_on(where, frame, argument="where")
        if not keep.any():
            raise DataValidationError(
                f"argument 'where': no row of the {len(frame)} matches {where!r}. Fix: check "
                f"the values (text is compared exactly, in quotes)."
            )
        frame = frame[keep].reset_index(drop=True)
    return frame
