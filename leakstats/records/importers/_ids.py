"""Prompt identity for imported files: a stable hash of the prompt text, never a line or
row number, so that a dropped line cannot shift later prompts onto their neighbours' ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["number_repeats", "prompt_id_of", "prompt_ids_of"]


def prompt_id_of(text: str) -> str:
    """``"p-"`` and the first 12 hex digits of the SHA-256 of ``text`` (UTF-8).

    >>> prompt_id_of("Who wrote it?")
    'p-41d66a14965d'
    """
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def prompt_ids_of(texts: Iterable[str]) -> list[str]:
    """:func:`prompt_id_of` of each text; the second and later copies of a text in one file
    get ``#2``, ``#3`` ... (the same question asked twice is two prompts)."""
    return number_repeats(prompt_id_of(text) for text in texts)


def number_repeats(ids: Iterable[str]) -> list[str]:
    """The ids with ``#2``, ``#3`` ... on the second and later copies of one id.

    >>> number_repeats(["a", "b", "a"])
    ['a', 'b', 'a#2']
    """
    seen: dict[str, int] = {}
    out = []
    for base in ids:
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out
