"""The multiple-choice judge: which option an answer picks, and whether it is the right one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leakstats.generate.judges.base import Items, Judge, item_field
from leakstats.generate.judges.text import normalize_text

__all__ = ["MultipleChoice"]

_LETTER_PATTERNS = (
    r"answer\s*(?:is|:)?\s*[\(\[]?([A-Z])\b",
    r"^\s*[\(\[]?([A-Z])[\)\]\.:]",
    r"^\s*([A-Z])\s*$",
    r"^\s*([A-Z])\b(?!['’])",
)


@dataclass(frozen=True)
class MultipleChoice(Judge):
    """Multiple-choice answer extraction (WMDP style): 1.0 when the chosen option is right.

    The choice is read as a letter (``"Answer: B"``, ``"(B)"``, ``"B."``, a bare ``"B"``) or,
    failing that, as the text of exactly one option found in the answer. Items need
    ``choices`` (the options) and ``answer`` (the 0-based index of the right one). An answer
    with no readable choice scores 0.

    Examples
    --------
    >>> item = {"choices": ["red", "green", "blue", "black"], "answer": 2}
    >>> MultipleChoice().score(["The answer is C.", "green", "(C) blue"], [item] * 3)
    array([1., 0., 1.])
    """

    threshold: float = 1.0
    kind = "choice_correct"

    def extract(self, text: str, choices: Sequence[str]) -> int | None:
        """0-based index of the option the text picks, or None."""
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        for pattern in _LETTER_PATTERNS:
            match = re.search(pattern, text, flags=re.IGNORECASE | re.MULTILINE)
            if match and match.group(1).upper() in letters:
                return letters.index(match.group(1).upper())
        norm = f" {normalize_text(text)} "
        found = [i for i, c in enumerate(choices) if normalize_text(str(c))
                 and f" {normalize_text(str(c))} " in norm]
        return found[0] if len(found) == 1 else None

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        choices = item_field(items, "choices", self.name)
        answers = item_field(items, "answer", self.name)
        return np.array(
            [float(self.extract(t, list(c)) == int(a))
             for t, c, a in zip(texts, choices, answers, strict=True)],
            dtype=float,
        )
