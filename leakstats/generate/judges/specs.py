"""Judge specs: :func:`make_judge` builds a judge from a short text (the CLI's ``--judge``), a
Judge or a callable."""

from __future__ import annotations

from collections.abc import Callable

from leakstats.core.errors import LeakstatsError
from leakstats.generate.judges.base import Judge
from leakstats.generate.judges.choice import MultipleChoice
from leakstats.generate.judges.function import CallableJudge
from leakstats.generate.judges.nli import NLIJudge
from leakstats.generate.judges.patterns import KeywordJudge, RegexJudge
from leakstats.generate.judges.reference import ContainmentJudge, RougeJudge

__all__ = ["make_judge"]

_SPECS = "rouge[:T], rouge-f1[:T], rouge-precision[:T], contains, exact, mc, " \
         "keyword:A|B[|...], keyword-any:A|B, keywords[-all], keywords-any, regex:PATTERN, " \
         "nli:MODEL[@T]"


def make_judge(spec: str | Judge | Callable) -> Judge:
    """A judge from a short spec (as the CLI's ``--judge``), a Judge, or a callable.

    Specs: ``rouge:0.4`` (ROUGE-L recall >= 0.4; ``rouge`` alone is 0.4), ``rouge-f1:0.5``,
    ``contains``, ``exact``, ``mc`` (multiple choice), ``keyword:Paris|1850`` (all),
    ``keyword-any:Paris|1850``, ``keywords`` (or ``keywords-all``) / ``keywords-any`` alone
    (each prompt's own ``keywords`` field: all of them / any), ``regex:PATTERN``,
    ``nli:MODEL`` or ``nli:MODEL@0.7``.

    Examples
    --------
    >>> [make_judge(s).name for s in ("rouge", "exact", "mc", "nli:some/model@0.7")]
    ['rougeL_recall>=0.4', 'exact_match>=1', 'choice_correct>=1', 'nli_entailment>=0.7']
    >>> make_judge("keywords-any").score(["born in Oslo"], [{"keywords": ["Oslo", "1901"]}])
    array([1.])
    """
    if isinstance(spec, Judge):
        return spec
    if callable(spec):
        return CallableJudge(fn=spec, label=getattr(spec, "__name__", "callable"))
    if not isinstance(spec, str) or not spec.strip():
        raise LeakstatsError(
            f"argument 'judge': expected a judge spec, a Judge or a callable, got {spec!r}. "
            f"Fix: use one of {_SPECS}."
        )
    head, colon, arg = spec.strip().partition(":")
    head = head.lower()

    def number(text: str, default: float) -> float:
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            raise LeakstatsError(
                f"argument 'judge': {spec!r}: {text!r} is not a threshold number. Fix: write "
                f"e.g. rouge:0.4."
            ) from None

    if head in ("rouge", "rouge-recall", "rouge-l", "rougel"):
        return RougeJudge(threshold=number(arg, 0.4))
    if head in ("rouge-f1", "rouge-precision"):
        return RougeJudge(threshold=number(arg, 0.4), measure=head.split("-")[1])
    if head in ("contains", "exact"):
        return ContainmentJudge(mode=head)
    if head in ("mc", "choice", "multiple-choice"):
        return MultipleChoice()
    if head in ("keyword", "keywords", "keyword-any", "keywords-any", "keyword-all",
                "keywords-all"):
        words = tuple(w.strip() for w in arg.split("|") if w.strip())
        if colon and not words:
            raise LeakstatsError(
                f"argument 'judge': {spec!r} names no keyword. Fix: write keyword:Paris|1850, "
                f"or keywords-any (each prompt's own keywords)."
            )
        return KeywordJudge(keywords=words or None,
                            require="any" if head.endswith("any") else "all")
    if head == "regex":
        return RegexJudge(pattern=arg)
    if head == "nli":
        model, _, threshold = arg.rpartition("@") if "@" in arg else (arg, "", "")
        return NLIJudge(model=model, threshold=number(threshold, 0.5))
    raise LeakstatsError(f"argument 'judge': unknown judge {spec!r}. Fix: use one of {_SPECS}.")
