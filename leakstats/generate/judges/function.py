"""A user function as a judge: :class:`CallableJudge`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leakstats.core.errors import LeakstatsError
from leakstats.generate.judges.base import Items, Judge

__all__ = ["CallableJudge"]


@dataclass(frozen=True)
class CallableJudge(Judge):
    """Any function ``fn(text, item) -> float | bool`` as a judge.

    Examples
    --------
    >>> judge = CallableJudge(fn=lambda text, item: len(text) > 3, label="long", threshold=1)
    >>> judge.name, judge.judge(["ab", "abcd"], [{}, {}])[1]
    ('long>=1', array([False,  True]))
    """

    threshold: float = 0.5
    fn: Callable[[str, Mapping], float] | None = None
    label: str = "callable"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.fn):
            raise LeakstatsError(
                f"argument 'fn': expected a callable fn(text, item) -> float or bool, got "
                f"{self.fn!r}. Fix: pass e.g. fn=lambda text, item: item['reference'] in text."
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.label

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        values = [float(self.fn(t, i)) for t, i in zip(texts, items, strict=True)]
        return np.array(values, dtype=float)
