"""Judges that compare the text with the prompt's reference answer: ROUGE-L overlap and
containment / exact match of the normalised reference."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leakstats.core.errors import LeakstatsError, MissingDependencyError
from leakstats.generate.judges.base import Items, Judge, item_field
from leakstats.generate.judges.text import normalize_text, tokenize

__all__ = ["ContainmentJudge", "RougeJudge"]


class _UnicodeTokenizer:
    """The tokenizer object rouge-score expects (a ``tokenize`` method)."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


@functools.cache
def _rouge_scorer():
    try:
        from rouge_score import rouge_scorer
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            "the ROUGE judge needs the rouge-score package. Fix: pip install rouge-score "
            "(or leakstats[generate])."
        ) from exc
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeTokenizer())


@dataclass(frozen=True)
class RougeJudge(Judge):
    """ROUGE-L of the reference in the text (rouge-score, with a Unicode word tokenizer).

    Parameters
    ----------
    threshold : float, default 0.4
    measure : {"recall", "precision", "f1"}, default "recall"
        Recall (the share of the reference recovered) is the usual leak score.

    Examples
    --------
    >>> RougeJudge().score(["Zoë lives in Zürich"], [{"reference": "Zürich"}])
    array([1.])
    """

    threshold: float = 0.4
    measure: str = "recall"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.measure not in ("recall", "precision", "f1"):
            raise LeakstatsError(
                f"argument 'measure': expected 'recall', 'precision' or 'f1', got "
                f"{self.measure!r}. Fix: pass measure='recall'."
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"rougeL_{self.measure}"

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        scorer = _rouge_scorer()
        refs = item_field(items, "reference", self.name)
        attr = {"recall": "recall", "precision": "precision", "f1": "fmeasure"}[self.measure]
        return np.array(
            [getattr(scorer.score(str(r), str(t))["rougeL"], attr)
             for t, r in zip(texts, refs, strict=True)],
            dtype=float,
        )


@dataclass(frozen=True)
class ContainmentJudge(Judge):
    """1.0 when the normalised reference occurs in the normalised text (``mode="contains"``)
    or equals it (``mode="exact"``); see :func:`normalize_text`.

    Examples
    --------
    >>> ContainmentJudge().score(["It is PARIS, France."], [{"reference": "paris"}])
    array([1.])
    >>> ContainmentJudge(mode="exact").score(["Paris."], [{"reference": "paris"}])
    array([1.])
    """

    threshold: float = 1.0
    mode: str = "contains"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("contains", "exact"):
            raise LeakstatsError(
                f"argument 'mode': expected 'contains' or 'exact', got {self.mode!r}. Fix: pass "
                f"mode='contains'."
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "exact_match" if self.mode == "exact" else "contains"

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        refs = [normalize_text(str(r)) for r in item_field(items, "reference", self.name)]
        out = []
        for text, ref in zip(texts, refs, strict=True):
            norm = normalize_text(text)
            hit = norm == ref if self.mode == "exact" else (
                bool(ref) and f" {ref} " in f" {norm} "
            )
            out.append(float(hit))
        return np.array(out, dtype=float)
