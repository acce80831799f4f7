"""The judge protocol: :class:`Judge` (score, threshold, label, name) and the checks of the
inputs every judge shares (the threshold, the item fields a judge reads)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leakstats.core.checks import check_number
from leakstats.core.errors import DataValidationError, LeakstatsError

__all__ = ["Items", "Judge", "check_threshold", "item_field"]

#: Per text, a mapping with the prompt set's fields (``reference``, ``choices`` ...).
Items = Sequence[Mapping]


def check_threshold(threshold) -> float:
    """``threshold`` as a float; a bool, a non-number or a non-finite number raises."""
    return check_number("threshold", threshold, fix="pass e.g. threshold=0.4 (a sample is "
                                                     "leaked when its score >= threshold)")


def item_field(items: Items, key: str, judge: str) -> list:
    """The ``key`` field of every item; a missing, None or NaN one raises (naming ``judge``)."""
    out = []
    for i, item in enumerate(items):
        if key not in item or item[key] is None or (
            isinstance(item[key], float) and math.isnan(item[key])
        ):
            raise DataValidationError(
                f"judge {judge!r}: item {i} has no {key!r} (keys present: {sorted(item)}). Fix: "
                f"give every prompt a {key!r} column in the prompt set, or use another judge.",
                column=key,
            )
        out.append(item[key])
    return out


@dataclass(frozen=True)
class Judge:
    """Base class: subclasses define :meth:`score` and :attr:`kind`.

    Attributes
    ----------
    threshold : float
        ``leaked = score >= threshold``.
    """

    threshold: float = 0.5

    #: What the score measures (the part of ``name`` before ``>=``).
    kind = "score"
    #: Whether the judge needs torch (only NLI).
    needs_torch = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", check_threshold(self.threshold))

    @property
    def name(self) -> str:
        """The value of the ``judge`` column: ``"<kind>>=<threshold>"``."""
        return f"{self.kind}>={self.threshold:g}"

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        """Raw scores of ``texts`` (one item mapping per text)."""
        raise NotImplementedError

    def labels(self, scores) -> np.ndarray:
        """``scores >= threshold`` (NaN scores are not leaked)."""
        return np.asarray(scores, dtype=float) >= self.threshold

    def judge(self, texts: Sequence[str], items: Items) -> tuple[np.ndarray, np.ndarray]:
        """(scores, labels) of ``texts``."""
        texts = list(texts)
        if len(items) != len(texts):
            raise LeakstatsError(
                f"judge {self.name!r}: {len(texts)} texts but {len(items)} items. Fix: pass one "
                f"item (the prompt's fields) per text."
            )
        scores = np.asarray(self.score(texts, items), dtype=float)
        return scores, self.labels(scores)

    def with_threshold(self, threshold: float) -> Judge:
        """The same judge at another threshold."""
        return dataclasses.replace(self, threshold=threshold)

    def spec(self) -> dict:
        """A JSON-able description (written to the run manifest)."""
        out = {"judge": type(self).__name__, "name": self.name}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            out[f.name] = value if isinstance(value, str | int | float | bool | None) else repr(
                value
            )
        return out
