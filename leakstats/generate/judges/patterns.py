"""Judges that look for given strings in the text: keywords (whole words, normalised) and
regular expressions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leakstats.core.errors import LeakstatsError
from leakstats.generate.judges.base import Items, Judge, item_field
from leakstats.generate.judges.text import normalize_text

__all__ = ["KeywordJudge", "RegexJudge"]


@dataclass(frozen=True)
class KeywordJudge(Judge):
    """Keywords in the text (normalised, whole words): the share found (``require="all"``)
    or 1.0 if any is found (``require="any"``).

    Parameters
    ----------
    keywords : sequence of str, optional
        The same keywords for every prompt; default: each item's ``keywords`` field.
    require : {"all", "any"}, default "all"

    Examples
    --------
    >>> judge = KeywordJudge(keywords=("Paris", "1850"))
    >>> judge.score(["Born in Paris"], [{}]), judge.with_threshold(0.5).labels([0.5])
    (array([0.5]), array([ True]))
    """

    threshold: float = 1.0
    keywords: tuple[str, ...] | None = None
    require: str = "all"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.require not in ("all", "any"):
            raise LeakstatsError(
                f"argument 'require': expected 'all' or 'any', got {self.require!r}. Fix: pass "
                f"require='all' or require='any'."
            )
        if self.keywords is not None:
            if isinstance(self.keywords, str) or not all(
                isinstance(k, str) and k.strip() for k in self.keywords
            ) or not len(self.keywords):
                raise LeakstatsError(
                    f"argument 'keywords': expected a non-empty list of non-empty strings, got "
                    f"{self.keywords!r}. Fix: pass e.g. keywords=('Paris', '1850')."
                )
            object.__setattr__(self, "keywords", tuple(self.keywords))

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"keywords_{self.require}"

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        per_item = [self.keywords] * len(texts) if self.keywords is not None else item_field(
            items, "keywords", self.name
        )
        out = []
        for text, keys in zip(texts, per_item, strict=True):
            norm = f" {normalize_text(text)} "
            found = [f" {normalize_text(str(k))} " in norm for k in keys]
            share = float(np.mean(found)) if found else 0.0
            out.append(float(any(found)) if self.require == "any" else share)
        return np.array(out, dtype=float)


@dataclass(frozen=True)
class RegexJudge(Judge):
    """1.0 when ``re.search(pattern, text)`` matches. ``{reference}`` in the pattern stands for
    the item's reference, escaped.

    Examples
    --------
    >>> judge = RegexJudge(pattern=r"\\b{reference}\\b")
    >>> judge.score(["born in 1850.", "born in 18501"], [{"reference": "1850"}] * 2)
    array([1., 0.])
    """

    threshold: float = 1.0
    pattern: str = ""
    ignore_case: bool = True
    kind = "regex"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.pattern, str) or not self.pattern:
            raise LeakstatsError(
                f"argument 'pattern': expected a non-empty regular expression, got "
                f"{self.pattern!r}. Fix: pass e.g. pattern=r'\\b1850\\b'."
            )
        try:
            re.compile(self.pattern.replace("{reference}", "x"))
        except re.error as exc:
            raise LeakstatsError(
                f"argument 'pattern': {self.pattern!r} is not a valid regular expression "
                f"({exc}). Fix: check the pattern (escape literal brackets and dots)."
            ) from None

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        flags = re.IGNORECASE if self.ignore_case else 0
        templated = "{reference}" in self.pattern
        refs = item_field(items, "reference", self.name) if templated else [None] * len(texts)
        out = []
        for text, ref in zip(texts, refs, strict=True):
            pattern = self.pattern.replace("{reference}", re.escape(str(ref))) if templated else (
                self.pattern
            )
            out.append(float(re.search(pattern, text, flags) is not None))
        return np.array(out, dtype=float)
