"""Validators of the arguments every public function shares (``k``, ``confidence_level``,
choices among named options, integer counts). Each returns the cleaned value or raises
:class:`leakstats.LeakstatsError` naming the argument and saying the fix."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from leakstats.core.errors import LeakstatsError

#: The largest k accepted anywhere (extrapolation is checked finite and monotone up to it).
MAX_K = 10**18


def parse_k(k) -> np.ndarray:
    """Validate ``k``: a positive integer or a non-empty collection of them; returns the sorted
    distinct values as int64."""
    values = [k] if isinstance(k, numbers.Number) or isinstance(k, str) else k
    if not isinstance(values, Iterable):
        raise LeakstatsError(f"k: expected a positive integer or a list of them, got {k!r}.")
    out = []
    for v in values:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            raise LeakstatsError(
                f"k: {v!r} is not an integer. Fix: pass k as positive integers, e.g. k=[1, 8, 32]."
            )
        if not np.isfinite(v) or v != np.floor(v) or v < 1:
            raise LeakstatsError(
                f"k: {v!r} is not a positive integer. Fix: pass k as integers >= 1, "
                "e.g. k=[1, 8, 32]."
            )
        if v > MAX_K:
            raise LeakstatsError(
                f"k: {v!r} is above {MAX_K:.0e}, the largest k leakstats computes. Fix: pass "
                f"a smaller k (leak@k is within 1e-3 of its limit long before that)."
            )
        if v != int(v) or v < 1:
            raise LeakstatsError(
                f"k: {v!r} is not a positive integer. Fix: pass k as integers >= 1, "
                "e.g. k=[1, 8, 32]."
            )
        out.append(int(v))
    if not out:
        raise LeakstatsError("k: empty. Fix: pass at least one k, e.g. k=[1, 8, 32].")
    return np.unique(np.array(out, dtype=np.int64))


def check_level(confidence_level) -> float:
    """Validate a confidence level: a real number strictly between 0 and 1."""
    if (
        isinstance(confidence_level, bool)
        or not isinstance(confidence_level, numbers.Real)
        or not 0 < confidence_level < 1
    ):
        raise LeakstatsError(
            f"confidence_level: {confidence_level!r} is not a number strictly between 0 and 1. "
            "Fix: pass e.g. confidence_level=0.95."
        )
    return float(confidence_level)


def check_choice(name: str, value, choices):
    """Validate that ``value`` is one of ``choices`` (the first is the suggested fix)."""
    if value not in choices:
        raise LeakstatsError(
            f"{name}: {value!r} is not one of {', '.join(map(repr, choices))}. "
            f"Fix: pass {name}={choices[0]!r} or another listed value."
        )
    return value


def check_int(name: str, value, minimum: int = 1, example: int = 1000, *,
              fix: str | None = None) -> int:
    """Validate an integer argument >= ``minimum`` (bools refused); ``example`` goes in the fix
    (``fix`` replaces it)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or (
            value < minimum):
        raise LeakstatsError(
            f"{name}: {value!r} is not an integer >= {minimum}. "
            f"Fix: {fix or f'pass e.g. {name}={example}'}."
        )
    return int(value)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (numpy scalars included), not a bool."""
    return not isinstance(value, bool | np.bool_) and isinstance(value, numbers.Real)


def check_number(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    example: float | str = 1.0,
    fix: str | None = None,
) -> float:
    """Validate a finite real number in an interval (bools and NaN refused); return a float.

    The interval is ``[low, high]``, open at an end with ``low_open`` / ``high_open``; None is
    unbounded. ``fix`` replaces the default fix (``pass e.g. name=example``).

    >>> check_number("top_p", 0.9, low=0, high=1, low_open=True)
    0.9
    >>> check_number("top_p", 0, low=0, high=1, low_open=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leakstats.core.errors.LeakstatsError: top_p: 0 is not a number in (0, 1]. Fix: ...
    """
    ok = is_number(value) and np.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) < high if high_open else float(value) <= high
    if not ok:
        if low is not None and high is not None:
            where = (f"in {'(' if low_open else '['}{low:g}, {high:g}"
                     f"{')' if high_open else ']'}")
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = ""
        raise LeakstatsError(
            f"{name}: {value!r} is not a {'number ' + where if where else 'finite number'}. "
            f"Fix: {fix or f'pass e.g. {name}={example}'}."
        )
    return float(value)


def check_bool(name: str, value) -> bool:
    """Validate a True/False flag (numpy bools accepted; 0/1 and strings refused)."""
    if not isinstance(value, bool | np.bool_):
        raise LeakstatsError(f"{name}: {value!r} is not True or False. Fix: pass {name}=True "
                             f"or {name}=False.")
    return bool(value)


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from ``rng``: None (fresh entropy), a non-negative integer seed, a
    sequence of them, a SeedSequence or a Generator (returned as is, not copied)."""
    if isinstance(rng, np.random.Generator):
        return rng
    ok = rng is None or isinstance(rng, np.random.SeedSequence) or (
        isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_) and rng >= 0
    ) or (isinstance(rng, list | tuple) and rng and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_) and v >= 0
        for v in rng))
    if not ok:
        raise LeakstatsError(
            f"{name}: {rng!r} is not a seed. Fix: pass {name}=0 (any integer >= 0), a "
            f"numpy.random.Generator, or None for fresh randomness."
        )
    return np.random.default_rng(rng)
