"""lm-evaluation-harness ``--log_samples`` output, read as leakstats records: one row per
generation.

The format is defined by EleutherAI/lm-evaluation-harness: ``lm_eval/loggers/
evaluation_tracker.py`` (layout ``<output_path>/<model_name_sanitized>/results_<date_time>.json``
and ``samples_<task>_<date_time>.jsonl``, ``<date_time>`` the ISO time with ``-`` for ``:``;
``arguments`` as ``{"gen_args_0": {"arg_0": prompt, "arg_1": generation_kwargs}}``),
``lm_eval/evaluator.py`` (one line per document and filter: ``doc_id``, ``doc``, ``target``,
``resps`` = ``[[g_1, ..., g_n]]`` for ``repeats: n``, ``filtered_resps``, ``filter``,
``metrics`` and their per-document values, ``doc_hash`` = SHA-256 of ``json.dumps(doc,
indent=2, ensure_ascii=False)``), ``lm_eval/api/task.py`` and ``lm_eval/filters/selection.py``
(``take_first`` by default, ``majority_vote``), ``lm_eval/models/utils.py``
(``normalize_gen_kwargs``: no temperature or ``do_sample: false`` is greedy).

- A **sample** is one entry of ``resps[0]``; ``sample_id`` is its position.
- ``prompt_id`` is ``"doc-"`` + 12 hex digits of ``doc_hash`` (the harness's own hash of the
  document, the same under every model and chat template, so arms pair up; the prompt text
  holds the template and few-shot examples). A repeated document gets ``#2`` (by ``doc_id``).
- **Per-sample scores** from the generation and ``target`` (case-folded, whitespace runs one
  space, stripped): ``exact_target`` (equal), ``contains_target`` (target inside); a target the
  harness stringified from a list counts when any item matches. ``filtered_text`` and
  ``filtered_exact_target`` / ``filtered_contains_target`` are the same on the filter's output
  where the filter keeps one output per generation. None is the harness's ``exact_match``.
- **Per-document metrics** (``exact_match``, ...) are the harness's values after the filter;
  they label samples only where a document has one generation, and are refused otherwise.
- **Filters**: a rule over the generations' scores reads each document's generations once; a
  rule over filter-dependent columns keeps a copy per filter (``filter``), warned about.
- **Arms**: ``model`` (``model_name`` of ``results_<date_time>.json``, else the folder name),
  ``task``, ``run`` (``<date_time>``), ``temperature``, ``top_p``, ``top_k``, ``min_p`` (the
  generation kwargs). Of runs of one model and task with the same decoding, the latest is read.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import (
    DataValidationError,
    InputNotFoundError,
    LeakstatsError,
    LeakstatsWarning,
    warn,
)
from leakstats.records._util import json_lines, open_text
from leakstats.records.importers._ids import number_repeats
from leakstats.records.rules import evaluate_on, parse_rule

__all__ = ["FILE_PATTERN", "find_files", "load", "looks_like"]

#: ``samples_<task>_<date_time>.jsonl``, the name ``save_results_samples`` gives a samples file.
FILE_PATTERN = re.compile(
    r"samples_(?P<task>.+)_(?P<run>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.jsonl")
#: Decoding settings besides temperature, and the value that means "off".
_OFF = {"top_p": 1.0, "top_k": 0.0, "min_p": 0.0}
_SCORES = ("contains_target", "exact_target")
_FILTERED = ("filtered_text", "filtered_contains_target", "filtered_exact_target")
_OWN = frozenset({"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter",
                  "metrics", "doc_hash", "prompt_hash", "target_hash", "task_name"})
_RESERVED = frozenset({"model", "task", "run", "temperature", *_OFF, "filter", "prompt_id",
                       "sample_id", "leaked", "text", "prompt", "target", *_SCORES,
                       *_FILTERED})
_EXAMPLE = "contains_target == 1"


def looks_like(path: Path) -> bool:
    """Whether the first line of the file at ``path`` is an lm-evaluation-harness sample
    (an object with ``doc_id``, ``resps`` and ``filtered_resps``); never raises."""
    try:
        with open_text(path, "r") as handle:
            first = json.loads(next(line for line in handle if line.strip()))
    except (ValueError, OSError, StopIteration):
        return False
    return isinstance(first, dict) and {"doc_id", "resps", "filtered_resps"} <= first.keys()


def find_files(root: Path) -> list[Path]:
    """The harness's ``samples_*.jsonl`` files below the folder ``root``."""
    return sorted(p for p in Path(root).rglob("samples_*.jsonl") if p.is_file() and looks_like(p))


# --------------------------------------------------------------------------- one line


def _fail(path: Path, lineno: int, what: str, fix: str, column: str | None = None) -> None:
    raise DataValidationError(f"{path}, line {lineno}: {what}. Fix: {fix}", column=column)


def _requests(path: Path, lineno: int, obj: dict) -> list:
    """The line's request arguments, one list per request (dict or list layout)."""
    args = obj.get("arguments")
    if isinstance(args, dict):
        keys = sorted(args, key=lambda k: int(re.sub(r"\D", "", k) or 0))
        return [[v for _, v in sorted(args[k].items())] if isinstance(args[k], dict)
                else args[k] for k in keys]
    if isinstance(args, list):
        return [a if isinstance(a, list) else [a] for a in args]
    _fail(path, lineno, f"'arguments' is {args!r}, not the harness's request arguments",
          "check that this is a samples_*.jsonl file written by lm_eval --log_samples.",
          column="arguments")


def _generations(path: Path, lineno: int, obj: dict) -> list[str]:
    resps, requests = obj.get("resps"), _requests(path, lineno, obj)
    texts = resps[0] if isinstance(resps, list) and len(resps) == 1 else None
    generating = len(requests) == 1 and len(requests[0]) > 1 and isinstance(
        requests[0][1], dict)  # generate_until: (prompt, generation_kwargs)
    if (not generating or not isinstance(texts, list) or not texts
            or not all(isinstance(t, str) for t in texts)):
        shown = json.dumps(resps)[:120]
        _fail(path, lineno, f"'resps' is {shown} for {len(requests)} request(s): not the "
              f"sampled generations of one generate_until request (prompt, generation "
              f"kwargs); a multiple-choice or loglikelihood task scores given text and "
              f"samples nothing",
              "read the samples of generation tasks (output_type: generate_until, with "
              "repeats: n and do_sample: true for several samples per document).",
              column="resps")
    return texts


def _decoding(path: Path, lineno: int, obj: dict) -> dict[str, float]:
    request = _requests(path, lineno, obj)[0]
    kwargs = request[1] if len(request) > 1 and isinstance(request[1], dict) else {}
    settings: dict[str, float] = {}
    for name in (n for n in ("temperature", *_OFF) if kwargs.get(n) is not None):
        value = kwargs[name]
        try:
            settings[name] = float(value)
        except (TypeError, ValueError):
            _fail(path, lineno, f"generation kwarg {name}={value!r} is not a number",
                  f"record {name} as a number in the task's generation_kwargs.", column=name)
    greedy = kwargs.get("do_sample") is False or settings.get("temperature", 0.0) == 0.0
    settings["temperature"] = 0.0 if greedy else settings["temperature"]
    if "top_k" in settings and settings["top_k"] < 0:
        settings["top_k"] = 0.0  # -1 (vLLM) and 0 (transformers) both mean no top-k
    return settings


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _targets(target: Any) -> list[str]:
    text = "" if target is None else str(target)
    if text.startswith("[") and text.endswith("]"):
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            items = None
        if isinstance(items, list) and items and all(isinstance(i, str) for i in items):
            return [_norm(i) for i in items]
    return [_norm(text)]


def _scores(texts: list[str], targets: list[str]) -> tuple[list[float], list[float]]:
    normed = [_norm(t) for t in texts]
    contains = [float(any(g and g in t for g in targets)) for t in normed]
    exact = [float(any(t == g for g in targets)) for t in normed]
    return contains, exact


def _doc_hash(path: Path, lineno: int, obj: dict) -> str:
    value = obj.get("doc_hash")
    if isinstance(value, str) and value:
        return value
    if "doc" not in obj:
        _fail(path, lineno, "neither 'doc_hash' nor 'doc' to identify the document",
              "keep the harness's lines whole (doc and doc_hash).", column="doc_hash")
    text = json.dumps(obj["doc"], indent=2, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _metrics(obj: dict) -> dict[str, float]:
    """The line's numeric per-document metrics (names under ``metrics``, else the numeric
    top-level fields that are not the harness's own)."""
    names = obj.get("metrics")
    if not isinstance(names, list):
        names = [k for k in obj if k not in _OWN]
    return {f"metric_{k}" if k in _RESERVED else str(k):
            float(obj[k]) if isinstance(obj.get(k), int | float) else np.nan for k in names}


def _line_rows(path: Path, lineno: int, obj: dict) -> dict[str, Any]:
    texts = _generations(path, lineno, obj)
    n = len(texts)
    filtered = obj.get("filtered_resps")
    inner = filtered[0] if isinstance(filtered, list) and len(filtered) == 1 else None
    if isinstance(inner, list) and len(inner) == n and all(isinstance(t, str) for t in inner):
        kept = list(inner)
    elif n == 1 and isinstance(inner, str):
        kept = [inner]
    else:
        kept = None  # one filtered output per document (take_first, majority_vote) or other
    targets = _targets(obj.get("target"))
    contains, exact = _scores(texts, targets)
    request = _requests(path, lineno, obj)[0]
    rows: dict[str, Any] = {
        "doc_id": obj.get("doc_id"), "doc_hash": _doc_hash(path, lineno, obj),
        "filter": str(obj.get("filter", "none")), "n": n, "texts": texts,
        "prompt": request[0] if request and isinstance(request[0], str) else None,
        "target": None if obj.get("target") is None else str(obj["target"]),
        "contains_target": contains, "exact_target": exact, "kept": kept,
        "decoding": _decoding(path, lineno, obj), "metrics": _metrics(obj), "lineno": lineno,
    }
    if kept is not None:
        rows["filtered_contains_target"], rows["filtered_exact_target"] = _scores(kept, targets)
    return rows


# --------------------------------------------------------------------------- one file


def _read_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for lineno, obj in json_lines(path):
        if not isinstance(obj, dict) or not {"doc_id", "resps"} <= obj.keys():
            found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            _fail(path, lineno, f"not a harness sample (found {found}; a sample has "
                  "doc_id, resps, filtered_resps)", "pass a samples_<task>_<date_time>"
                  ".jsonl file written by lm_eval --log_samples.")
        lines.append(_line_rows(path, lineno, obj))
    if not lines:
        raise DataValidationError(f"{path}: no samples in the file. Fix: check that the run "
                                  f"finished and wrote its samples (lm_eval --log_samples).")
    return lines


def _prompt_ids(lines: list[dict]) -> dict[Any, str]:
    """``doc_id`` -> prompt id: ``doc-<12 hex of doc_hash>``, ``#2``... for repeated docs."""
    docs = {}
    for row in lines:
        docs.setdefault(row["doc_id"], row["doc_hash"])
    order = sorted(docs, key=lambda d: (str(type(d)), d))
    ids = number_repeats("doc-" + docs[doc_id][:12] for doc_id in order)
    return dict(zip(order, ids, strict=True))


def _check_filters_agree(path: Path, lines: list[dict]) -> None:
    first: dict[Any, dict] = {}
    for row in lines:
        other = first.setdefault(row["doc_id"], row)
        if other["texts"] != row["texts"]:
            _fail(path, row["lineno"], f"doc_id {row['doc_id']} under filter "
                  f"{row['filter']!r} has other generations than under {other['filter']!r} "
                  f"(line {other['lineno']})", "keep one run per samples file; the harness "
                  "writes the same generations under every filter.", column="resps")


def _results(path: Path, run: str | None) -> dict:
    """The run's results file (``results_<run>.json``, or ``<name>_<run>.json`` when
    ``--output_path`` named a .json file) next to ``path``; empty when there is none."""
    candidates = [] if run is None else [path.parent / f"results_{run}.json",
                                         *sorted(path.parent.glob(f"*_{run}.json"))]
    for candidate in candidates:
        if candidate.is_file() and not candidate.name.startswith("samples_"):
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise DataValidationError(
                    f"{candidate}: the run's results file does not parse ({exc}). Fix: "
                    f"repair or remove it (the model name is then the folder's).") from exc
            return data if isinstance(data, dict) else {}
    return {}


def _file_frame(path: Path) -> tuple[pd.DataFrame, set[str]]:
    """One row per (line, generation) of a samples file, and its per-document metric names."""
    match = FILE_PATTERN.fullmatch(path.name)
    task, run = (match["task"], match["run"]) if match else (path.stem, "none")
    results = _results(path, match["run"] if match else None)
    model = results.get("model_name") or path.parent.name
    lines = _read_lines(path)
    _check_filters_agree(path, lines)
    ids = _prompt_ids(lines)
    names = [k for k in _OFF if any(k in r["decoding"] for r in lines)]
    for row in lines:
        row["decoding"] = {k: row["decoding"].get(k, np.nan) for k in ("temperature", *names)}
    metric_names = list(dict.fromkeys(k for r in lines for k in r["metrics"]))
    columns: dict[str, list] = {c: [] for c in (
        "model", "task", "run", "temperature", *names, "filter", "doc_id", "prompt_id",
        "sample_id", "text", "prompt", "target", *_SCORES, *_FILTERED, *metric_names)}
    for row in lines:
        n = row["n"]
        fixed = {"model": str(model), "task": task, "run": run, "filter": row["filter"],
                 "doc_id": row["doc_id"], "prompt_id": ids[row["doc_id"]],
                 "prompt": row["prompt"], "target": row["target"],
                 **{k: row["decoding"][k] for k in ("temperature", *names)},
                 **{k: row["metrics"].get(k, np.nan) for k in metric_names}}
        for key, value in fixed.items():
            columns[key].extend([value] * n)
        columns["sample_id"].extend(range(n))
        columns["text"].extend(row["texts"])
        columns["filtered_text"].extend(row["kept"] or [None] * n)
        for key in (*_SCORES, *_FILTERED[1:]):
            columns[key].extend(row.get(key) or [np.nan] * n)
    frame = pd.DataFrame(columns)
    frame["sample_id"] = frame["sample_id"].astype(np.int64)
    frame["n_generations"] = frame.groupby(["filter", "prompt_id"])["sample_id"].transform("size")
    return frame, set(metric_names)


# --------------------------------------------------------------------------- files -> records


def _latest_runs(frames: list[tuple[Path, pd.DataFrame]]) -> list[tuple[Path, pd.DataFrame]]:
    """Of the runs of one model and task with the same decoding, the latest."""
    by_arm: dict[tuple, list[tuple[Path, pd.DataFrame]]] = {}
    for path, frame in frames:
        arm = frame[["model", "task", "temperature",
                     *[k for k in _OFF if k in frame]]].drop_duplicates()
        key = tuple(sorted(str(v) for v in arm.to_dict("records")))
        by_arm.setdefault(key, []).append((path, frame))
    kept = []
    for group in by_arm.values():
        group.sort(key=lambda pf: (str(pf[1]["run"].iloc[0]), str(pf[0])))
        kept.append(group[-1])
        if len(group) > 1:
            first = group[-1][1].iloc[0]
            warn(f"{len(group)} runs of task {first['task']!r} with model {first['model']!r} "
                 f"and the same decoding; the latest, {group[-1][0]}, is read and "
                 f"{[str(p) for p, _ in group[:-1]]} are left out. Fix: to read an older run, "
                 f"pass its samples file; to pool runs, concatenate their records yourself "
                 f"with distinct sample_id.", LeakstatsWarning)
    return sorted(kept, key=lambda pf: str(pf[0]))


_RUN = ["model", "task", "run"]


def _several(frame: pd.DataFrame) -> dict[tuple, list[str]]:
    filters = frame.groupby(_RUN)["filter"].unique()
    return {key: list(v) for key, v in filters.items() if len(v) > 1}


def _views(source: Path, frame: pd.DataFrame, fields: list[str],
           metric_names: set[str]) -> pd.DataFrame:
    """One copy of the generations when the rule does not depend on the filter; else one
    copy per filter (warned about when a task has several)."""
    dependent = [f for f in fields if f in metric_names or f in _FILTERED or f == "filter"]
    several = _several(frame)
    if not dependent:
        first = frame.groupby(_RUN)["filter"].transform("first")
        frame = frame[frame["filter"] == first]
        if several:
            frame = frame.drop(columns=["filter", *_FILTERED, *metric_names])
        return frame
    needs = [f for f in dependent if f in _FILTERED]
    lacking = frame[needs].isna().all(axis=1) if needs else pd.Series(False, frame.index)
    whole = lacking.groupby([frame[c] for c in [*_RUN, "filter"]]).transform("all")
    if whole.all():
        return frame  # refused with the reason by _check_rule_columns
    if whole.any():
        warn(f"{source}: the filters {sorted(frame.loc[whole, 'filter'].unique())} leave one "
             f"output per document, not one per generation, so the rule's {needs} have no "
             f"value there; their rows are left out.", LeakstatsWarning)
        frame = frame[~whole.to_numpy()]
        several = _several(frame)
    if several:
        (model, task, run), names = next(iter(several.items()))
        warn(f"{source}: task {task!r} (model {model!r}, run {run}) was scored under the "
             f"filters {names}, and the rule uses {dependent}, whose values depend on the "
             f"filter: every filter's rows are a copy of the same generations, told apart "
             f"by the 'filter' column. Fix: read one filter, where=\"filter == "
             f"'{names[0]}'\" (CLI: --where), or keep them apart with by=['model', "
             f"'filter'] (CLI: --by model,filter).", LeakstatsWarning)
    return frame


def _check_rule_columns(source: Path, frame: pd.DataFrame, fields: list[str],
                        metric_names: set[str], rule: str) -> None:
    for field in fields:
        if field not in frame.columns:
            raise LeakstatsError(
                f"{source}: the rule {rule!r} names {field!r}, which is not a column; the "
                f"score columns are {_score_columns(frame)}. Fix: write the rule over those, "
                f"e.g. \"{_EXAMPLE}\".")
        if field in metric_names and (frame["n_generations"] > 1).any():
            n = int(frame["n_generations"].max())
            raise LeakstatsError(
                f"{source}: the rule {rule!r} names {field!r}, a metric lm-eval computes once "
                f"per document (after the filter), but documents have up to {n} generations "
                f"(repeats: {n}); one value per document cannot label each generation. Fix: "
                f"use a per-sample score, {_SCORES} or {list(_FILTERED[1:])} (the filter's "
                f"output per generation), or re-run with repeats: 1.")
        missing = frame[field].isna().to_numpy()
        if missing.any():
            row = frame[missing].iloc[0]
            why = ("the filter leaves one output per document, not one per generation"
                   if field in _FILTERED else "the value is missing or not a number")
            raise LeakstatsError(
                f"{source}: the rule {rule!r} names {field!r}, which has no value for "
                f"{int(missing.sum())} generation(s) ({why}), e.g. task {row['task']!r}, "
                f"doc_id {row['doc_id']}, filter {row.get('filter', 'none')!r}. Fix: use a "
                f"score every generation has: {_SCORES}.")


def _score_columns(frame: pd.DataFrame) -> list[str]:
    skip = {*_RESERVED, "doc_id", "n_generations"} - {*_SCORES, *_FILTERED[1:]}
    return [c for c in frame.columns if c not in skip and frame[c].notna().any()]


def _frames(path: Path) -> tuple[pd.DataFrame, set[str]]:
    if path.is_dir():
        files = find_files(path)
        if not files:
            raise InputNotFoundError(
                f"'{path}': no lm-evaluation-harness samples file (samples_<task>_<date_time>"
                f".jsonl) below it. Fix: run lm_eval with --log_samples --output_path "
                f"{path}, or pass the samples file.")
    elif path.is_file():
        files = [path]
    else:
        raise InputNotFoundError(f"no such file or directory: '{path}'. Fix: check the path.")
    parts, metric_names = [], set()
    for file in files:
        frame, names = _file_frame(file)
        parts.append((file, frame))
        metric_names |= names
    frame = pd.concat([f for _, f in _latest_runs(parts)], ignore_index=True)
    for name, off in _OFF.items():
        if name in frame:  # greedy decoding: truncation does not change the output
            frame.loc[frame["temperature"] == 0.0, name] = off
            unknown = frame[frame[name].isna()]
            if len(unknown):
                row = unknown.iloc[0]
                raise DataValidationError(
                    f"'{path}': {name} is recorded in the generation kwargs of some runs but "
                    f"not of {len(unknown)} sampled generation(s), e.g. model "
                    f"{row['model']!r}, task {row['task']!r}, run {row['run']}, doc_id "
                    f"{row['doc_id']}, so their arm is unknown. Fix: read those runs apart "
                    f"(pass their samples files), or record {name} in generation_kwargs.",
                    column=name)
    return frame, metric_names


def load(path: Path, *, leaked: str | None) -> pd.DataFrame:
    """Records (one row per generation, ``leaked`` made by the rule) from a samples file or a
    folder holding them (the ``--output_path`` of ``lm_eval --log_samples``).

    Parameters
    ----------
    path : Path
        A ``samples_<task>_<date_time>.jsonl`` file or a folder with such files below it.
    leaked : str or None
        A rule over the score columns (``"contains_target == 1"``; see
        :mod:`leakstats.records.rules`); None raises, listing the score columns.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``task``, ``run``, ``temperature`` (``top_p``, ``top_k``, ``min_p`` where
        recorded), ``filter``, ``doc_id``, ``prompt_id``, ``sample_id``, ``leaked``, ``text``,
        ``prompt``, ``target``, the score columns and the per-document metrics.
    """
    if leaked is not None and not isinstance(leaked, str):
        raise LeakstatsError(
            f"argument 'leaked': expected a rule string for lm-evaluation-harness samples, got "
            f"{type(leaked).__name__}. Fix: write it as a string, e.g. \"{_EXAMPLE}\".")
    fields = parse_rule(leaked).fields() if leaked is not None else []
    path = Path(path).expanduser()
    frame, metric_names = _frames(path)
    if leaked is None:
        raise LeakstatsError(
            f"'{path}' holds lm-evaluation-harness samples with scores, not leak labels; "
            f"score columns: {_score_columns(frame)}. Fix: say which generations leaked with "
            f"a rule, e.g. leakstats.read(path, leaked=\"{_EXAMPLE}\") (CLI: --leaked "
            f"\"{_EXAMPLE}\").")
    frame = _views(path, frame, fields, metric_names)
    _check_rule_columns(path, frame, fields, metric_names, leaked)
    frame = frame.drop(columns=["n_generations"]).reset_index(drop=True)
    frame.insert(frame.columns.get_loc("sample_id") + 1, "leaked",
                 evaluate_on(leaked, frame, argument="leaked"))
    return frame
