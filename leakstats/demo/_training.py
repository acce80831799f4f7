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
    """A JSON-able dict of a TrainConfig (dataclass, mapping or object with attributes)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        value = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        value = dict(config)
    elif hasattr(config, "__dict__"):
        value = {k: v for k, v in vars(config).items() if not k.startswith("_")}
    else:
        value = {"value": repr(config)}
    return json.loads(json.dumps(value, default=str))


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


def _pick(entry: Mapping, names: tuple[str, ...], what: str, preset: str):
    for name in names:
        if name in entry:
            return entry[name]
    raise LeakstatsError(
        f"leakstats.unlearn.PRESETS[{preset!r}] has no {what} (looked for {list(names)}; it has "
        f"{sorted(map(str, entry))}). Fix: add it to the preset in leakstats/unlearn."
    )


def _as_config(api, value):
    if isinstance(value, Mapping):
        return api.TrainConfig(**value)
    return value


def training_plan(api, preset: str, methods: tuple[str, ...], rule_base: str) -> TrainingPlan:
    """Read ``api.PRESETS[preset]`` into a :class:`TrainingPlan`.

    Accepted layouts of a preset entry: ``finetune`` (or ``train``), optional ``retrain``
    (default: the fine-tune's), ``unlearn`` as one TrainConfig or a mapping per method (or
    per-method keys at the top level), ``rule`` as a mapping of RULE arguments with a
    ``config`` (default: the base method's unlearning config), optional ``facts``.
    """
    presets = getattr(api, "PRESETS", None)
    if not isinstance(presets, Mapping) or preset not in presets:
        shown = sorted(presets) if isinstance(presets, Mapping) else presets
        raise LeakstatsError(
            f"leakstats.unlearn.PRESETS has no preset {preset!r} (found {shown!r}). Fix: use "
            f"one of its presets."
        )
    entry = presets[preset]
    if not isinstance(entry, Mapping):
        raise LeakstatsError(f"leakstats.unlearn.PRESETS[{preset!r}] is a "
                             f"{type(entry).__name__}, not a mapping of stage settings.")
    finetune = _as_config(api, _pick(entry, ("finetune", "fine_tune", "train"), "fine-tune "
                                     "config ('finetune')", preset))
    retrain = _as_config(api, entry.get("retrain", finetune))
    raw = entry.get("unlearn")
    unlearn: dict[str, Any] = {}
    for method in methods:
        if isinstance(raw, Mapping) and method in raw:
            unlearn[method] = _as_config(api, raw[method])
        elif method in entry:
            unlearn[method] = _as_config(api, entry[method])
        elif raw is not None and not (isinstance(raw, Mapping) and
                                      set(raw) & set(getattr(api, "METHODS", ()))):
            unlearn[method] = _as_config(api, raw)
        else:
            raise LeakstatsError(
                f"leakstats.unlearn.PRESETS[{preset!r}] has no unlearning config for "
                f"{method!r}. Fix: add 'unlearn' (one TrainConfig, or one per method)."
            )
    rule = dict(entry.get("rule") or {})
    rule_config = _as_config(api, rule.pop("config", unlearn[rule_base]))
    rule_args = {k: v for k, v in rule.items() if k in RULE_ARGS}
    return TrainingPlan(finetune=finetune, retrain=retrain, unlearn=unlearn,
                        rule_config=rule_config, rule_args=rule_args, facts=entry.get("facts"))
