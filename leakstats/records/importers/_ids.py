"""Prompt identity for imported files: a stable hash of the prompt text, never a line or
row number, so that a dropped line cannot shift later prompts onto their neighbours' ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["prompt_id_of", "prompt_ids_of"]


def prompt_id_of(text: str) -> str:
    """``"p-"`` and the first 12 hex digits of the SHA-256 of ``text`` (UTF-8).

    >>> prompt_id_of("Who wrote it?")
    'p-41d66a14965d'
    """
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def prompt_ids_of(texts: Iterable[str]) -> list[str]:
    """:func:`prompt_id_of` of each text; the second and later copies of a text in one file
    get ``#2``, ``#3`` ... (the same question asked twice is two prompts)."""
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        base = prompt_id_of(text)
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids
