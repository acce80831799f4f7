"""Text normalisation shared by the judges: Unicode word tokens and a normalised form."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "tokenize"]

# CJK, kana and hangul characters are words of their own (no spaces between words there).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of any script (rouge-score's own tokenizer drops non-ASCII).

    Examples
    --------
    >>> tokenize("Zoë Müller, née 李小龍!")
    ['zoë', 'müller', 'née', '李', '小', '龍']
    """
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def normalize_text(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed: for containment tests.

    Examples
    --------
    >>> normalize_text("  The  ANSWER: Paris. ")
    'the answer paris'
    """
    return " ".join(tokenize(text))
