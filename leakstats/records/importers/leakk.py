"""The loader behind :func:`leakstats.records.api.read_leakk_jsonl`: the Leak@k authors'
JSON Lines (one prompt per line, its sampled ``responses`` with score fields), labelled by a
leak rule (:mod:`leakstats.records.rules`)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import (
    DataValidationError,
    DegenerateDataWarning,
    InputNotFoundError,
    LeakstatsError,
    warn,
)
from leakstats.records._util import json_lines
from leakstats.records.importers._ids import prompt_ids_of
from leakstats.records.rules import (  # noqa: F401 (re-exported)
    RULE_FIX,
    BoolOp,
    Compare,
    RuleSyntaxError,
    parse_rule,
)

_RESERVED = ("method", "prompt_id", "sample_id", "leaked", "text", "prompt", "ground_truth")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number | np.bool_)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fail(path: Path, lineno: int, what: str, fix: str, column: str | None = None) -> None:
    raise DataValidationError(f"{path}, line {lineno}: {what}. Fix: {fix}", column=column)


def looks_like(path: Path) -> bool:
    """Whether the first object of a JSON Lines file has a ``responses`` list (the Leak@k
    authors' per-prompt layout); never raises."""
    try:
        for _, first in json_lines(path):
            return isinstance(first, dict) and isinstance(first.get("responses"), list)
    except (LeakstatsError, ValueError, OSError):
        return False
    return False


def _read_lines(path: Path) -> tuple[list[int], list[dict]]:
    linenos, objects = [], []
    for lineno, obj in json_lines(path):
        if not isinstance(obj, dict):
            _fail(path, lineno, f"expected a JSON object, found {type(obj).__name__}",
                  "each line must be one object with 'prompt', 'ground_truth' and "
                  "'responses'.")
        responses = obj.get("responses")
        if not isinstance(responses, list):
            found = "has no 'responses' field" if responses is None else (
                f"'responses' is a {type(responses).__name__}, not a list")
            _fail(path, lineno, f"the object {found} (fields present: {sorted(obj)})",
                  "each line needs 'responses': a list of objects with 'response' and "
                  "score fields; check that this is a Leak@k output file.",
                  column="responses")
        for j, resp in enumerate(responses):
            if not isinstance(resp, dict):
                _fail(path, lineno, f"response {j} is a {type(resp).__name__}, not an "
                      "object", "each response must be an object such as "
                      "{'response': '...', 'rougeL_recall': 0.5}.", column="responses")
        linenos.append(lineno)
        objects.append(obj)
    return linenos, objects


def _prompt_ids(path: Path, linenos: list[int], objects: list[dict]) -> list[Any]:
    for key in ("prompt_id", "id"):
        have = [key in obj and obj[key] is not None for obj in objects]
        if any(have):
            lacking = [n for n, h in zip(linenos, have, strict=True) if not h]
            if lacking:
                _fail(path, lacking[0], f"no {key!r}, while other lines have one (lines "
                      f"without it: {lacking[:5]}{' ...' if len(lacking) > 5 else ''})",
                      f"give every line a {key!r}, or remove it from all lines to number "
                      "identify prompts by their text.", column="prompt_id")
            return [obj[key] for obj in objects]
    # no id field: the identity of a prompt is its text (a stable hash), never its line, so
    # that a dropped line cannot shift every later prompt onto its neighbour's id
    lacking = [n for n, obj in zip(linenos, objects, strict=True)
               if not isinstance(obj.get("prompt"), str)]
    if lacking:
        _fail(path, lacking[0], "no 'prompt' text and no 'prompt_id' or 'id' to identify the "
              f"prompt (lines: {lacking[:5]}{' ...' if len(lacking) > 5 else ''})",
              "give every line its 'prompt' (or a 'prompt_id').", column="prompt_id")
    return prompt_ids_of(obj["prompt"] for obj in objects)


def _leak_labels(
    path: Path, rule: Any, responses: list[dict], where: list[tuple[int, int]],
    columns: dict[str, np.ndarray | list],
) -> np.ndarray:
    if callable(rule):
        labels = np.empty(len(responses), dtype=bool)
        for i, resp in enumerate(responses):
            try:
                value = rule(resp)
            except Exception as exc:
                exc.add_note(f"leakstats: in the leaked= callable on {path}, line {where[i][0]}, "
                             f"response {where[i][1]}")
                raise
            if not isinstance(value, bool | np.bool_):
                _fail(path, where[i][0], f"response {where[i][1]}: the leaked= callable "
                      f"returned {value!r} of type {type(value).__name__}, not a bool",
                      "make it return True/False, e.g. lambda r: bool(r['ES'] >= 0.5).",
                      column="leaked")
            labels[i] = bool(value)
        return labels
    tree = parse_rule(rule)
    for field in tree.fields():
        values = columns.get(field)
        numeric = isinstance(values, np.ndarray)
        if values is None:
            bad = np.ones(len(responses), bool)
        elif numeric:
            bad = np.isnan(values)
        else:
            bad = np.array([not (_is_number(v) or _is_missing(v)) for v in values])
        if bad.any():
            first = np.flatnonzero(bad)
            spots = ", ".join(f"line {where[i][0]} response {where[i][1]}" for i in first[:5])
            present = sorted(responses[first[0]])
            what = "is missing" if values is None or numeric else "is not a number"
            _fail(path, where[first[0]][0],
                  f"field {field!r} used by the rule {rule!r} {what} in {len(first)} "
                  f"response(s) ({spots}); fields present there: {present}",
                  "choose a rule over fields that every response has, from those listed.",
                  column=field)
    return np.asarray(tree.evaluate(columns), dtype=bool)


def load(path: str | os.PathLike, *, leaked: Any) -> pd.DataFrame:
    """Read a Leak@k JSON Lines file into an (unvalidated) records DataFrame."""
    if not (callable(leaked) or isinstance(leaked, str)):
        raise LeakstatsError(
            f"argument 'leaked': expected a rule string or a callable, got "
            f"{type(leaked).__name__}. Fix: {RULE_FIX}"
        )
    if isinstance(leaked, str):
        parse_rule(leaked)  # report syntax errors before reading the file
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputNotFoundError(f"no such file: '{path}'. Fix: check the path.")
    linenos, objects = _read_lines(path)
    return from_objects(path, linenos, objects, leaked=leaked)


def from_objects(path: Path, linenos: list[int], objects: list[dict], *,
                 leaked: Any) -> pd.DataFrame:
    """Records from the parsed lines of a Leak@k file (``path`` and ``linenos`` name them in
    errors)."""
    pids = _prompt_ids(path, linenos, objects)
    responses = [r for obj in objects for r in obj["responses"]]
    if not responses:
        raise DataValidationError(f"{path}: no responses in the file. Fix: check that the "
                                  "file is a complete Leak@k output.", column="responses")
    empty = [n for n, obj in zip(linenos, objects, strict=True) if not obj["responses"]]
    if empty:
        warn(f"{path}: {len(empty)} line(s) have no responses and contribute no "
                      f"samples (lines {empty[:5]}{' ...' if len(empty) > 5 else ''}).",
                      DegenerateDataWarning)
    where = [(n, j) for n, obj in zip(linenos, objects, strict=True)
             for j in range(len(obj["responses"]))]
    columns: dict[str, np.ndarray | list] = {}
    for key in dict.fromkeys(k for r in responses for k in r if k != "response"):
        raw = [r.get(key) for r in responses]
        if all(_is_number(v) or _is_missing(v) for v in raw):
            columns[key] = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
        else:
            columns[key] = raw
    labels = _leak_labels(path, leaked, responses, where, columns)
    sizes = [len(obj["responses"]) for obj in objects]

    def per_sample(values: list) -> list:
        return [v for v, size in zip(values, sizes, strict=True) for _ in range(size)]

    frame = pd.DataFrame({
        "prompt_id": per_sample(pids),
        "sample_id": np.concatenate([np.arange(s, dtype=np.int64) for s in sizes]),
        "leaked": labels,
        "text": [r.get("response") for r in responses],
        "prompt": per_sample([o.get("prompt") for o in objects]),
        "ground_truth": per_sample([o.get("ground_truth") for o in objects]),
    })
    for key, values in columns.items():
        frame[f"response_{key}" if key in _RESERVED else key] = values
    return frame
