"""Judges: did a generated sample leak the forgotten content?

Every judge turns texts into a raw **score** and a **label** (``leaked = score >= threshold``)
and has a ``name`` that goes into the records' ``judge`` arm column (e.g.
``"rougeL_recall>=0.4"``). Records keep the score, so a new threshold is a relabelling
(:func:`relabel`), not a new generation; a different judge re-scores the stored texts
(:func:`rejudge`).

========================  =========================================================  =========
judge                     score                                                      needs
========================  =========================================================  =========
:class:`RougeJudge`       ROUGE-L recall (or precision / F1) of the reference         rouge-score
:class:`ContainmentJudge` 1 if the normalised reference is in (or equals) the text    -
:class:`MultipleChoice`   1 if the chosen option (letter or option text) is right     -
:class:`KeywordJudge`     share of keywords found (or 1 if any is found)              -
:class:`RegexJudge`       1 if the pattern matches                                    -
:class:`NLIJudge`         P(entailment) that the text entails the reference           transformers
:class:`CallableJudge`    whatever your function returns                             -
========================  =========================================================  =========

Each judge's ``score(texts, items)`` takes the texts and, per text, a mapping with the prompt
set's fields (``reference``, ``prompt``, ``choices``, ``answer``, ``keywords`` ...). Only
:class:`NLIJudge` needs torch; the others work without the generation extra (ROUGE needs
``rouge-score``).

The package's modules: :mod:`~leakstats.generate.judges.base` (the :class:`Judge` protocol and
the shared input checks), :mod:`~leakstats.generate.judges.text` (tokens and normalised text),
:mod:`~leakstats.generate.judges.reference` (ROUGE, containment),
:mod:`~leakstats.generate.judges.choice` (multiple choice),
:mod:`~leakstats.generate.judges.patterns` (keywords, regular expressions),
:mod:`~leakstats.generate.judges.nli` (NLI), :mod:`~leakstats.generate.judges.function` (a
function as a judge), :mod:`~leakstats.generate.judges.specs` (:func:`make_judge`, where a new
judge is registered) and :mod:`~leakstats.generate.judges.rescore` (:func:`relabel`,
:func:`rejudge`). Every public name is importable from ``leakstats.generate.judges``.

Examples
--------
>>> judge = make_judge("rouge:0.5")
>>> judge.name
'rougeL_recall>=0.5'
>>> judge.judge(["Ada was born in Paris", "no idea"], [{"reference": "born in Paris"}] * 2)
(array([1., 0.]), array([ True, False]))
"""

from leakstats.generate.judges.base import Judge
from leakstats.generate.judges.choice import MultipleChoice
from leakstats.generate.judges.function import CallableJudge
from leakstats.generate.judges.nli import NLIJudge
from leakstats.generate.judges.patterns import KeywordJudge, RegexJudge
from leakstats.generate.judges.reference import ContainmentJudge, RougeJudge
from leakstats.generate.judges.rescore import rejudge, relabel
from leakstats.generate.judges.specs import make_judge
from leakstats.generate.judges.text import normalize_text, tokenize

__all__ = [
    "CallableJudge",
    "ContainmentJudge",
    "Judge",
    "KeywordJudge",
    "MultipleChoice",
    "NLIJudge",
    "RegexJudge",
    "RougeJudge",
    "make_judge",
    "normalize_text",
    "relabel",
    "rejudge",
    "tokenize",
]
