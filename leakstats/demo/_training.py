"""The training side of the demo: what :mod:`leakstats.unlearn` is asked to do, per preset.

The training settings are read from ``leakstats.unlearn.PRESETS[preset]`` (the presets that
module measured), never copied here. This adapter turns such an entry into one plan: the
configuration of the fine-tune, of the retrain reference, of each unlearning method and of RULE.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leakstats.core.errors import LeakstatsError, MissingDependencyError

__all__ = ["TrainingPlan", "config_dict", "training_plan", "unlearn_api"]

#: The RULE keyword arguments the demo passes through (see leakstats.unlearn.rule).
RULE_ARGS = ("rounds", "n", "temperature", "top_p", "max_new_tokens", "judge", "seed")


def unlearn_api():
    """The :mod:`leakstats.unlearn` module, or a clear error when it cannot be imported."""
    try:
        return importlib.import_module("leakstats.unlearn")
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"the demo trains models with leakstats.unlearn, which could not be imported "
            f"({exc}). Fix: install the generation extra (scripts/setup dev,plot,bayes,generate "
            f"or pip install 'leakstats[generate]')."
        ) from exc


def config_dict(config: Any) -> dict:
    """A JSON-able dict of a TrainConfig (a dataclass)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


@dataclass(frozen=True)
class TrainingPlan:
    """Training configurations of one preset (TrainConfig objects of leakstats.unlearn)."""

    finetune: Any
    retrain: Any
    unlearn: Mapping[str, Any]
    rule_config: Any
    rule_args: Mapping[str, Any]
    facts: Any = None  # None: all facts; else a selection the preset names (see select_facts)

    def as_dict(self) -> dict:
        return {
            "finetune": config_dict(self.finetune),
            "retrain": config_dict(self.retrain),
            "unlearn": {m: config_dict(c) for m, c in self.unlearn.items()},
            "rule_config": config_dict(self.rule_config),
            "rule_args": json.loads(json.dumps(dict(self.rule_args), default=str)),
            "facts": json.loads(json.dumps(self.facts, default=str)),
        }


def training_plan(api, preset: str, methods: tuple[str, ...], rule_base: str) -> TrainingPlan:
    """Read ``api.PRESETS[preset]`` (see :data:`leakstats.unlearn.PRESETS`) into a
    :class:`TrainingPlan`: ``finetune`` (also the retrain reference's), ``unlearn`` (one
    TrainConfig per method), ``rule`` (RULE's arguments and its ``config``), ``facts``."""
    if preset not in api.PRESETS:
        raise LeakstatsError(
            f"leakstats.unlearn.PRESETS has no preset {preset!r} (found "
            f"{sorted(api.PRESETS)!r}). Fix: use one of its presets."
        )
    entry = api.PRESETS[preset]
    rule = dict(entry["rule"])
    return TrainingPlan(
        finetune=entry["finetune"], retrain=entry.get("retrain", entry["finetune"]),
        unlearn={m: entry["unlearn"][m] for m in methods},
        rule_config=rule.pop("config", entry["unlearn"][rule_base]),
        rule_args={k: v for k, v in rule.items() if k in RULE_ARGS}, facts=entry["facts"],
    )
