"""Prompt sets: TOFU, MUSE, WMDP (through ``datasets``), local copies, and fictitious facts.

Every loader returns a *prompt table*: a DataFrame with one row per prompt and the columns

``prompt_id`` (unique), ``prompt`` (the text sent to the model), ``reference`` (the answer whose
reproduction counts as a leak), plus what the set has: ``choices`` and ``answer`` (index of the
right choice) for multiple choice, ``keywords``, ``question``, ``split``, ``source``.

:func:`load_prompts` takes a short spec (the CLI's ``--prompts``); :data:`PROMPT_SETS` lists
every spec's options, and an option outside it is an error naming the valid ones. The hub
loaders (:mod:`leakstats.generate.prompt_sets`) need the ``datasets`` package
(``leakstats[datasets]``); their failures are told apart in :mod:`leakstats.generate._hub`
(package missing, hub unreachable: :class:`PromptSetUnavailableError`; anything else:
:class:`PromptSetLoadError` carrying the original error). :func:`from_files` loads a local copy
with the same prompts; the shipped :func:`fictitious_facts` set needs neither.

Examples
--------
>>> facts = fictitious_facts(split="forget")
>>> len(facts), list(facts.columns[:3])
(20, ['prompt_id', 'prompt', 'reference'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leakstats.core.errors import InputNotFoundError, LeakstatsError
from leakstats.generate._hub import (
    DatasetsNotInstalledError,
    PromptSetLoadError,
    PromptSetUnavailableError,
)
from leakstats.generate._prompt_table import (
    FORMATS,
    MC_TEMPLATE,
    MUSE_QA_TEMPLATE,
    from_files,
    muse_few_shot_prefix,
    validate_prompts,
)
from leakstats.generate.prompt_sets import (
    MUSE_CORPORA,
    MUSE_SPLITS,
    MUSE_TASKS,
    TOFU_PARAPHRASED,
    TOFU_SPLITS,
    WMDP_MODES,
    WMDP_SUBJECTS,
    check_options,
    fictitious_facts,
    fictitious_facts_path,
    load_muse,
    load_tofu,
    load_wmdp,
)

__all__ = [
    "FORMATS",
    "MC_TEMPLATE",
    "MUSE_CORPORA",
    "MUSE_QA_TEMPLATE",
    "MUSE_SPLITS",
    "MUSE_TASKS",
    "PROMPT_SETS",
    "TOFU_PARAPHRASED",
    "TOFU_SPLITS",
    "WMDP_MODES",
    "WMDP_SUBJECTS",
    "DatasetsNotInstalledError",
    "PromptSetLoadError",
    "PromptSetSpec",
    "PromptSetUnavailableError",
    "fictitious_facts",
    "fictitious_facts_path",
    "from_files",
    "load_muse",
    "load_prompts",
    "load_tofu",
    "load_wmdp",
    "muse_few_shot_prefix",
    "validate_prompts",
]


@dataclass(frozen=True)
class PromptSetSpec:
    """The options of one prompt-set spec ``name[:option]...``.

    ``loader`` names the function called; ``groups`` maps a loader argument to its choices (a
    spec names at most one; without one the loader's default applies); ``flags`` maps a flag to
    the loader argument and the value it sets.
    """

    loader: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    flags: tuple[tuple[str, str, bool], ...] = ()

    @property
    def options(self) -> list[str]:
        """Every valid option, groups first."""
        return [o for _, choices in self.groups for o in choices] + [f for f, _, _ in self.flags]

    def usage(self, name: str) -> str:
        """e.g. ``tofu[:forget01|...][:paraphrased]``."""
        parts = [f"[:{'|'.join(choices)}]" for _, choices in self.groups]
        return name + "".join(parts) + "".join(f"[:{f}]" for f, _, _ in self.flags)


#: Every prompt-set spec: ``fictitious``, ``tofu``, ``muse``, ``wmdp`` and their options.
PROMPT_SETS: dict[str, PromptSetSpec] = {
    "fictitious": PromptSetSpec(
        "fictitious_facts", (("split", ("forget", "retain", "all")),),
        (("paraphrased", "paraphrased", True),)),
    "tofu": PromptSetSpec(
        "load_tofu", (("split", TOFU_SPLITS),),
        (("paraphrased", "paraphrased", True),)),
    "muse": PromptSetSpec(
        "load_muse", (("task", MUSE_TASKS), ("corpus", tuple(MUSE_CORPORA)),
                      ("split", ("forget", "retain"))),
        (("zero-shot", "few_shot", False),)),
    "wmdp": PromptSetSpec("load_wmdp", (("subject", WMDP_SUBJECTS), ("mode", WMDP_MODES))),
}


def _spec_arguments(text: str, head: str, options: list[str]) -> dict:
    """The loader arguments a spec names, after refusing an option the prompt set does not
    have or two options of one group."""
    spec = PROMPT_SETS[head]
    valid = spec.options
    unknown = [o for o in options if o not in valid]
    if unknown:
        raise LeakstatsError(
            f"argument 'prompts': {text!r}: the prompt set {head!r} has no option "
            f"{unknown[0]!r}; its options are {valid} ({spec.usage(head)}). Fix: use one of "
            f"those (e.g. '{head}:{valid[0]}')."
        )
    kwargs: dict = {}
    for argument, choices in spec.groups:
        chosen = [o for o in options if o in choices]
        if len(chosen) > 1:
            raise LeakstatsError(
                f"argument 'prompts': {text!r} names {chosen}, of which only one can apply "
                f"(the {argument}). Fix: keep one of them."
            )
        if chosen:
            kwargs[argument] = chosen[0]
    for flag, argument, value in spec.flags:
        if options.count(flag) > 1:
            raise LeakstatsError(
                f"argument 'prompts': {text!r} repeats {flag!r}. Fix: name it once."
            )
        if flag in options:
            kwargs[argument] = value
    return kwargs


def _loaders() -> dict:
    return {"fictitious_facts": fictitious_facts, "load_tofu": load_tofu,
            "load_muse": load_muse, "load_wmdp": load_wmdp}


def load_prompts(spec: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A prompt table from a short spec (as the CLI's ``--prompts``), a file, or a DataFrame.

    Specs (:data:`PROMPT_SETS`; options in any order, at most one per bracket):

    - ``fictitious[:forget|retain|all][:paraphrased]`` (default forget);
    - ``tofu[:forget01|forget05|forget10|retain90|retain95|retain99|retain_perturbed|
      holdout01|holdout05|holdout10][:paraphrased]`` (default forget10; paraphrased for
      forget01/05/10 and retain_perturbed);
    - ``muse[:knowmem|verbmem][:news|books][:forget|retain][:zero-shot]`` (default knowmem,
      news, forget; verbmem has forget only; knowmem is few-shot unless zero-shot);
    - ``wmdp[:bio|cyber|chem][:mc|generate]`` (default bio, mc).

    Anything else is a path for :func:`from_files`.

    Examples
    --------
    >>> len(load_prompts("fictitious:all")), len(load_prompts("fictitious:retain:paraphrased"))
    (50, 30)
    """
    if isinstance(spec, pd.DataFrame):
        return validate_prompts(spec)
    if isinstance(spec, Mapping) or not isinstance(spec, str | os.PathLike):
        raise LeakstatsError(
            f"argument 'prompts': expected a prompt set name, a file or a DataFrame, got "
            f"{type(spec).__name__}. Fix: pass e.g. 'fictitious', 'tofu:forget10' or a path."
        )
    text = os.fspath(spec)
    if not text.strip():
        raise LeakstatsError(
            "argument 'prompts': empty. Fix: pass a prompt set (e.g. 'tofu:forget10') or a path."
        )
    if Path(text).expanduser().exists():
        return from_files(text)
    head, *rest = text.split(":")
    if head not in PROMPT_SETS:
        raise InputNotFoundError(
            f"argument 'prompts': {text!r} is neither a file nor a known prompt set. Fix: pass "
            f"a path, or one of "
            f"{', '.join(s.usage(name) for name, s in PROMPT_SETS.items())}."
        )
    kwargs = _spec_arguments(text, head, rest)
    try:
        check_options(PROMPT_SETS[head].loader, **kwargs)
    except LeakstatsError as exc:
        raise LeakstatsError(f"argument 'prompts': {text!r}: {exc}") from None
    return _loaders()[PROMPT_SETS[head].loader](**kwargs)
