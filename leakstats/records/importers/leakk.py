"""Helpers of :func:`leakstats.records.api.read_leakk_jsonl`: the leak-rule parser and the loader.

A leak rule is a small boolean expression over a response's numeric score fields::

    rule    := or_expr
    or_expr := and_expr ("or" and_expr)*
    and_expr:= unary ("and" unary)*
    unary   := "not" unary | "(" or_expr ")" | compare
    compare := FIELD OP NUMBER | NUMBER OP FIELD        OP: == != >= <= > <

It is parsed into a tree and evaluated on numpy columns; nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import (
    DataValidationError,
    DegenerateDataWarning,
    InputNotFoundError,
    LeakstatsError,
)
from leakstats.records._util import open_text

RULE_FIX = (
    "write comparisons '<field> <op> <number>' (ops ==, !=, >=, <=, >, <) joined by 'and' / "
    "'or', optionally with 'not' and parentheses, e.g. 'rougeL_recall >= 0.4 and ES >= 0.5'; "
    "or pass a callable taking the response dict and returning a bool."
)
_OPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge,
    "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_FLIP = {"==": "==", "!=": "!=", ">=": "<=", "<=": ">=", ">": "<", "<": ">"}
_TOKEN = re.compile(
    r"(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<op>==|!=|>=|<=|>|<)|(?P<paren>[()])|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)"
)
_KEYWORDS = {"and", "or", "not"}
_CONSTANTS = {"true": 1.0, "false": 0.0}
_RESERVED = ("method", "prompt_id", "sample_id", "leaked", "text", "prompt", "ground_truth")


class RuleSyntaxError(LeakstatsError):
    """The ``leaked=`` rule string does not parse."""


@dataclass(frozen=True)
class Compare:
    """``field op value``."""

    field: str
    op: str
    value: float

    def fields(self) -> list[str]:
        return [self.field]

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return _OPS[self.op](columns[self.field], self.value)


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two or more terms, or ``not`` of one."""

    op: str
    terms: tuple[Compare | BoolOp, ...]

    def fields(self) -> list[str]:
        return list(dict.fromkeys(f for t in self.terms for f in t.fields()))

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        values = [t.evaluate(columns) for t in self.terms]
        if self.op == "not":
            return ~values[0]
        combine = np.logical_and if self.op == "and" else np.logical_or
        return combine.reduce(values)


def _tokens(rule: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while True:
        while pos < len(rule) and rule[pos].isspace():
            pos += 1
        if pos == len(rule):
            return [*out, ("end", "", pos)]
        match = _TOKEN.match(rule, pos)
        if match is None:
            _syntax_error(rule, pos, f"unexpected character {rule[pos]!r}")
        kind, text = match.lastgroup or "", match.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        elif kind == "name" and text.lower() in _CONSTANTS:
            kind, text = "num", str(_CONSTANTS[text.lower()])
        out.append((kind, text, pos))
        pos = match.end()


#: Deepest nesting of parentheses (and of 'not') a rule may have.
MAX_NESTING = 50


def _syntax_error(rule: str, pos: int, what: str) -> None:
    raise RuleSyntaxError(
        f"argument 'leaked': cannot parse the rule at position {pos}: {what}.\n"
        f"  {rule}\n  {' ' * pos}^\nFix: {RULE_FIX}"
    )


def parse_rule(rule: str) -> Compare | BoolOp:
    """Parse a leak rule such as ``"rougeL_recall >= 0.4 and ES >= 0.5"`` into a tree.

    Examples
    --------
    >>> parse_rule("ES == 1 or rougeL_recall > 0.9").fields()
    ['ES', 'rougeL_recall']
    """
    if not isinstance(rule, str) or not rule.strip():
        raise RuleSyntaxError(f"argument 'leaked': the rule {rule!r} is empty. Fix: {RULE_FIX}")
    depth, deepest = 0, 0
    for char in rule:  # the parser recurses once per '(' or 'not': bound the nesting first
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING or rule.lower().count("not") > MAX_NESTING:
        raise RuleSyntaxError(
            f"argument 'leaked': the rule nests parentheses or 'not' deeper than "
            f"{MAX_NESTING} levels. Fix: write it flatter, e.g. 'a >= 1 or b >= 1'."
        )
    tokens = _tokens(rule)
    pos = 0

    def peek() -> tuple[str, str, int]:
        return tokens[pos]

    def take(kind: str, text: str | None = None, what: str = "") -> tuple[str, str, int]:
        nonlocal pos
        tok = tokens[pos]
        if tok[0] != kind or (text is not None and tok[1] != text):
            found = "the end of the rule" if tok[0] == "end" else repr(tok[1])
            _syntax_error(rule, tok[2], f"expected {what}, found {found}")
        pos += 1
        return tok

    def boolop(op: str, sub: Callable[[], Compare | BoolOp]) -> Compare | BoolOp:
        terms = [sub()]
        while peek()[:2] == ("kw", op):
            take("kw", op)
            terms.append(sub())
        return terms[0] if len(terms) == 1 else BoolOp(op, tuple(terms))

    def or_expr() -> Compare | BoolOp:
        return boolop("or", and_expr)

    def and_expr() -> Compare | BoolOp:
        return boolop("and", unary)

    def unary() -> Compare | BoolOp:
        kind, text, _ = peek()
        if (kind, text) == ("kw", "not"):
            take("kw", "not")
            return BoolOp("not", (unary(),))
        if (kind, text) == ("paren", "("):
            take("paren", "(")
            inner = or_expr()
            take("paren", ")", "')'")
            return inner
        if kind == "num":
            value = float(take("num")[1])
            op = take("op", what="a comparison operator (==, !=, >=, <=, >, <)")[1]
            return Compare(take("name", what="a field name")[1], _FLIP[op], value)
        name = take("name", what="a field name, 'not' or '('")[1]
        op = take("op", what="a comparison operator (==, !=, >=, <=, >, <)")[1]
        return Compare(name, op, float(take("num", what="a number")[1]))

    tree = or_expr()
    take("end", what="'and', 'or' or the end of the rule")
    return tree


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number | np.bool_)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fail(path: Path, lineno: int, what: str, fix: str, column: str | None = None) -> None:
    raise DataValidationError(f"{path}, line {lineno}: {what}. Fix: {fix}", column=column)


def _read_lines(path: Path) -> tuple[list[int], list[dict]]:
    linenos, objects = [], []
    with open_text(path, "r") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(path, lineno, f"malformed JSON ({exc.msg} at column {exc.colno})",
                      "repair or remove this line; each line must be one JSON object.")
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
                      "prompts by line.", column="prompt_id")
            return [obj[key] for obj in objects]
    return list(range(len(objects)))


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
    pids = _prompt_ids(path, linenos, objects)
    responses = [r for obj in objects for r in obj["responses"]]
    if not responses:
        raise DataValidationError(f"{path}: no responses in the file. Fix: check that the "
                                  "file is a complete Leak@k output.", column="responses")
    empty = [n for n, obj in zip(linenos, objects, strict=True) if not obj["responses"]]
    if empty:
        warnings.warn(f"{path}: {len(empty)} line(s) have no responses and contribute no "
                      f"samples (lines {empty[:5]}{' ...' if len(empty) > 5 else ''}).",
                      DegenerateDataWarning, stacklevel=3)
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
