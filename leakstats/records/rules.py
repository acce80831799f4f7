"""Rules: small boolean expressions over columns, for ``leaked=`` and ``where=``.

::

    rule    := or_expr
    or_expr := and_expr ("or" and_expr)*
    and_expr:= unary ("and" unary)*
    unary   := "not" unary | "(" or_expr ")" | compare
    compare := FIELD OP VALUE | VALUE OP FIELD        OP: == != >= <= > <
    VALUE   := NUMBER | 'text' | "text" | true | false   (text only with == and !=)

A rule is parsed into a tree and evaluated on columns (numpy arrays or a DataFrame's);
nothing is ever ``eval``-ed. :func:`evaluate_on` evaluates one on a table and says what is
wrong (an unknown column, text compared with numbers) by name.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError

RULE_FIX = (
    "write comparisons '<field> <op> <number>' (ops ==, !=, >=, <=, >, <) or "
    "'<field> == \'text\'' joined by 'and' / "
    "'or', optionally with 'not' and parentheses, e.g. 'rougeL_recall >= 0.4 and ES >= 0.5'; "
    "or pass a callable taking the response dict and returning a bool."
)
_OPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge,
    "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_FLIP = {"==": "==", "!=": "!=", ">=": "<=", "<=": ">=", ">": "<", "<": ">"}
_TOKEN = re.compile(
    r"(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<op>==|!=|>=|<=|>|<)|(?P<paren>[()])|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)"
)
_KEYWORDS = {"and", "or", "not"}
_CONSTANTS = {"true": 1.0, "false": 0.0}


class RuleSyntaxError(LeakstatsError):
    """The ``leaked=`` rule string does not parse."""


@dataclass(frozen=True)
class Compare:
    """``field op value``."""

    field: str
    op: str
    value: float | str

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


def _tokens(rule: str, argument: str = "leaked") -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while True:
        while pos < len(rule) and rule[pos].isspace():
            pos += 1
        if pos == len(rule):
            return [*out, ("end", "", pos)]
        match = _TOKEN.match(rule, pos)
        if match is None:
            _syntax_error(rule, pos, f"unexpected character {rule[pos]!r}", argument)
        kind, text = match.lastgroup or "", match.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        elif kind == "name" and text.lower() in _CONSTANTS:
            kind, text = "num", str(_CONSTANTS[text.lower()])
        out.append((kind, text, pos))
        pos = match.end()


#: Deepest nesting of parentheses (and of 'not') a rule may have.
MAX_NESTING = 50


def _syntax_error(rule: str, pos: int, what: str, argument: str = "leaked") -> None:
    raise RuleSyntaxError(
        f"argument {argument!r}: cannot parse the rule at position {pos}: {what}.\n"
        f"  {rule}\n  {' ' * pos}^\nFix: {RULE_FIX}"
    )


def parse_rule(rule: str, *, argument: str = "leaked") -> Compare | BoolOp:
    """Parse a leak rule such as ``"rougeL_recall >= 0.4 and ES >= 0.5"`` into a tree.

    Examples
    --------
    >>> parse_rule("ES == 1 or rougeL_recall > 0.9").fields()
    ['ES', 'rougeL_recall']
    """
    if not isinstance(rule, str) or not rule.strip():
        raise RuleSyntaxError(f"argument {argument!r}: the rule {rule!r} is empty. Fix: {RULE_FIX}")
    depth, deepest = 0, 0
    for char in rule:  # the parser recurses once per '(' or 'not': bound the nesting first
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING or rule.lower().count("not") > MAX_NESTING:
        raise RuleSyntaxError(
            f"argument {argument!r}: the rule nests parentheses or 'not' deeper than "
            f"{MAX_NESTING} levels. Fix: write it flatter, e.g. 'a >= 1 or b >= 1'."
        )
    tokens = _tokens(rule, argument)
    pos = 0

    def peek() -> tuple[str, str, int]:
        return tokens[pos]

    def take(kind: str, text: str | None = None, what: str = "") -> tuple[str, str, int]:
        nonlocal pos
        tok = tokens[pos]
        if tok[0] != kind or (text is not None and tok[1] != text):
            found = "the end of the rule" if tok[0] == "end" else repr(tok[1])
            _syntax_error(rule, tok[2], f"expected {what}, found {found}", argument)
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
        if kind in ("num", "str"):
            value = _value(take(kind))
            op_tok = take("op", what="a comparison operator (==, !=, >=, <=, >, <)")
            _check_text_op(value, op_tok)
            return Compare(take("name", what="a field name")[1], _FLIP[op_tok[1]], value)
        name = take("name", what="a field name, 'not' or '('")[1]
        op_tok = take("op", what="a comparison operator (==, !=, >=, <=, >, <)")
        kind = peek()[0]
        value = _value(take("str" if kind == "str" else "num", what="a number or 'text'"))
        _check_text_op(value, op_tok)
        return Compare(name, op_tok[1], value)

    def _value(tok: tuple[str, str, int]) -> float | str:
        return tok[1][1:-1] if tok[0] == "str" else float(tok[1])

    def _check_text_op(value: float | str, op_tok: tuple[str, str, int]) -> None:
        if isinstance(value, str) and op_tok[1] not in ("==", "!="):
            _syntax_error(rule, op_tok[2], f"text can only be compared with == or !=, "
                                           f"not {op_tok[1]}", argument)

    tree = or_expr()
    take("end", what="'and', 'or' or the end of the rule")
    return tree


def evaluate_on(rule: str, frame: pd.DataFrame, *, argument: str) -> np.ndarray:
    """Evaluate ``rule`` on the columns of ``frame``; a boolean mask, one entry per row.

    Raises :class:`LeakstatsError` naming ``argument`` for an unknown column, text compared
    with a numeric column or a number with a text column. Missing values compare False
    (``!=`` True).

    >>> t = pd.DataFrame({"judge": ["a", "b"], "temperature": [1.0, 0.2]})
    >>> evaluate_on("judge == 'a' and temperature == 1", t, argument="where").tolist()
    [True, False]
    """
    tree = parse_rule(rule, argument=argument)
    columns = {}
    for field in tree.fields():
        if field not in frame.columns:
            raise LeakstatsError(
                f"argument {argument!r}: the rule {rule!r} names {field!r}, which is not a "
                f"column; columns present are {list(map(str, frame.columns))}. Fix: use "
                f"those names (text in quotes: judge == 'keywords_any>=1')."
            )
        columns[field] = frame[field]
    for node in _compares(tree):
        col = columns[node.field]
        numeric = pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(
            col.dtype)
        if isinstance(node.value, str) and numeric:
            raise LeakstatsError(
                f"argument {argument!r}: {node.field!r} holds numbers but the rule compares it "
                f"with the text {node.value!r}. Fix: write the number without quotes, e.g. "
                f"{node.field} {node.op} 1."
            )
        if not isinstance(node.value, str) and not numeric:
            raise LeakstatsError(
                f"argument {argument!r}: {node.field!r} holds text but the rule compares it "
                f"with the number {node.value:g}. Fix: quote the value, e.g. "
                f"{node.field} {node.op} '{node.value:g}'."
            )
    mask = tree.evaluate({k: v.to_numpy() for k, v in columns.items()})
    return np.asarray(mask, dtype=bool)


def _compares(node) -> list[Compare]:
    if isinstance(node, Compare):
        return [node]
    return [c for t in node.terms for c in _compares(t)]
