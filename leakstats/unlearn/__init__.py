"""Fine-tuning, unlearning (gradient ascent, gradient difference, NPO) and RULE, on a CPU.

The demo's model side (issue 7): a small chat model learns the shipped fictitious facts,
unlearns the forget split, and looks forgotten under greedy decoding; leakstats then measures
how often sampling brings the facts back, and RULE (sample, flag leaks, unlearn them too)
closes part of the leak.

>>> from leakstats.unlearn import load_facts, TrainConfig, METHODS   # no torch imported
>>> METHODS
('grad_ascent', 'grad_diff', 'npo')

Stages (each writes a model folder with ``leakstats_train.json`` and is cached: calling it
again with the same settings returns the folder without training):

- :func:`finetune` - supervised fine-tuning on (question -> answer); ``splits=("retain",)``
  gives the "retrain" reference that never saw the forget facts;
- :func:`unlearn` - ``"grad_ascent"``, ``"grad_diff"`` or ``"npo"`` on the forget split;
- :func:`rule` - rounds of sample -> judge -> unlearn the leaks;
- :func:`greedy_answers`, :func:`answer_nll` - greedy outputs with ROUGE-L recall, and
  teacher-forced answer NLL.

:data:`PRESETS` holds the settings the demo uses ("default" and "quick"), as measured by
``benchmarks/unlearn_check.py`` (see docs/unlearn.md). Nothing here imports torch until a
function that trains, scores or generates is called.
"""

from __future__ import annotations

from leakstats.unlearn._data import METHODS, TrainConfig, load_facts, select_facts
from leakstats.unlearn._eval import greedy_answers
from leakstats.unlearn._rule import rule
from leakstats.unlearn._train import (
    StageMismatchError,
    answer_nll,
    finetune,
    read_stage,
    unlearn,
)

__all__ = [
    "METHODS",
    "PRESETS",
    "StageMismatchError",
    "TrainConfig",
    "answer_nll",
    "finetune",
    "greedy_answers",
    "load_facts",
    "read_stage",
    "rule",
    "select_facts",
    "unlearn",
]

#: Settings of the demo's model stages, per preset. ``facts``: how many forget / retain facts
#: (:func:`select_facts`; the first ones of each split); ``finetune`` (also used for the
#: retrain reference on the retain split); ``unlearn``: one TrainConfig per method; ``rule``:
#: keyword arguments of :func:`rule`; ``greedy``: of :func:`greedy_answers`. Measured times
#: and ROUGE-L are in docs/unlearn.md.
def _preset(forget: int, retain: int, rounds: int, rule_steps: int, rule_tokens: int) -> dict:
    batch = min(10, forget)

    def config(**kw) -> TrainConfig:
        return TrainConfig(lr=1e-3, batch_size=batch, train_layers=2, **kw)

    return {
        "facts": {"forget": forget, "retain": retain},
        "finetune": config(epochs=8),
        "unlearn": {m: config(epochs=2) for m in METHODS},
        "rule": {"method": "npo", "rounds": rounds, "n": 4, "temperature": 1.0, "top_p": 1.0,
                 "max_new_tokens": rule_tokens, "judge": "keywords-any",
                 "config": config(steps=rule_steps)},
        "greedy": {"max_new_tokens": 48},
    }


PRESETS: dict[str, dict] = {
    "default": _preset(forget=20, retain=30, rounds=2, rule_steps=4, rule_tokens=32),
    "quick": _preset(forget=6, retain=6, rounds=1, rule_steps=2, rule_tokens=16),
}
