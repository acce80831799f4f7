"""The benchmark prompt sets: TOFU, MUSE and WMDP from the Hugging Face Hub, and the shipped
fictitious facts.

Hub configs, splits and fields, as the benchmarks' own loaders read them:

- TOFU (``locuslab/TOFU``, split ``train`` of each config): configs ``forget01``/``05``/``10``,
  ``retain90``/``95``/``99``, ``holdout01``/``05``/``10`` with ``question``, ``answer``; the
  ``*_perturbed`` configs (``forget01_perturbed`` ... and ``retain_perturbed``, 400 questions
  about 20 retain authors) add ``paraphrased_question``, ``paraphrased_answer`` and
  ``perturbed_answer`` (open-unlearning: ``configs/data/datasets/TOFU_QA_*.yaml``,
  ``TOFU_MIA.yaml``, ``configs/eval/tofu.yaml`` ``question_key``, ``scripts/tofu_unlearn.sh``).
- MUSE (``muse-bench/MUSE-News``, ``muse-bench/MUSE-Books``): config ``knowmem`` with splits
  ``forget_qa``, ``retain_qa`` (100 each) and ``forget_qa_icl``, ``retain_qa_icl`` (10 each),
  fields ``question``, ``answer``; config ``verbmem``, split ``forget`` only, fields
  ``prompt``, ``gt`` (swj0419/muse_bench ``load_data.py``; open-unlearning
  ``configs/data/datasets/MUSE_*_knowmem.yaml``, ``MUSE_forget_verbmem.yaml``).
- WMDP (``cais/wmdp``): configs ``wmdp-bio``, ``wmdp-cyber``, ``wmdp-chem``, split ``test``,
  fields ``question``, ``choices`` (list of 4 str), ``answer`` (int index).

Every option is checked before the hub is asked; an option the hub does not have is refused
with the valid ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.generate._hub import load_hub_split
from leakstats.generate._prompt_table import muse_few_shot_prefix, to_prompt_table

__all__ = [
    "MUSE_CORPORA",
    "MUSE_SPLITS",
    "MUSE_TASKS",
    "TOFU_PARAPHRASED",
    "TOFU_SPLITS",
    "WMDP_MODES",
    "WMDP_SUBJECTS",
    "check_options",
    "fictitious_facts",
    "fictitious_facts_path",
    "load_muse",
    "load_tofu",
    "load_wmdp",
]

TOFU_REPO = "locuslab/TOFU"
#: TOFU question sets: the forget, retain and holdout configs and the retain_perturbed subset.
TOFU_SPLITS = ("forget01", "forget05", "forget10", "retain90", "retain95", "retain99",
               "retain_perturbed", "holdout01", "holdout05", "holdout10")
#: The TOFU sets whose hub config has ``paraphrased_question``.
TOFU_PARAPHRASED = ("forget01", "forget05", "forget10", "retain_perturbed")
MUSE_CORPORA = {"news": "muse-bench/MUSE-News", "books": "muse-bench/MUSE-Books"}
MUSE_TASKS = ("knowmem", "verbmem")
#: The splits each MUSE task has on the hub (knowmem: ``<split>_qa`` and ``<split>_qa_icl``).
MUSE_SPLITS = {"knowmem": ("forget", "retain"), "verbmem": ("forget",)}
WMDP_REPO = "cais/wmdp"
WMDP_SUBJECTS = ("bio", "cyber", "chem")
#: ``mc``: lettered options, answer with the letter; ``generate``: the bare question.
WMDP_MODES = ("mc", "generate")


def _choice(value, allowed, name: str) -> str:
    if value not in allowed:
        raise LeakstatsError(
            f"argument {name!r}: expected one of {list(allowed)}, got {value!r}. Fix: pass "
            f"{name}={allowed[0]!r}."
        )
    return value


def _local(fmt: str, name: str, extra: str = "") -> str:
    return f"leakstats.generate.prompts.from_files(path, format={fmt!r}{extra}, name={name!r})"


# --------------------------------------------------------------------------- TOFU


def _check_tofu(split: str = "forget10", paraphrased: bool = False) -> None:
    _choice(split, TOFU_SPLITS, "split")
    if paraphrased and split not in TOFU_PARAPHRASED:
        raise LeakstatsError(
            f"TOFU {split!r} has no paraphrased questions: the hub has paraphrased_question "
            f"only for {list(TOFU_PARAPHRASED)} (configs <split>_perturbed and "
            f"retain_perturbed). Fix: drop paraphrased (':paraphrased' in a spec), or use one "
            f"of those splits."
        )


def load_tofu(split: str = "forget10", *, paraphrased: bool = False) -> pd.DataFrame:
    """TOFU questions (``locuslab/TOFU``): a forget, retain or holdout set.

    Parameters
    ----------
    split : str, default "forget10"
        One of :data:`TOFU_SPLITS`: ``forget01``/``05``/``10`` (40/200/400 questions),
        ``retain90``/``95``/``99``, ``retain_perturbed`` (400 retain questions),
        ``holdout01``/``05``/``10``; the hub config of the same name, split ``train``.
    paraphrased : bool, default False
        Ask TOFU's paraphrased questions (``paraphrased_question`` of config
        ``<split>_perturbed``, or ``retain_perturbed``) with the same answers; available for
        :data:`TOFU_PARAPHRASED` only.

    Returns
    -------
    pandas.DataFrame
        prompt_id (``tofu-<split>-0000``, paraphrased ``tofu-<split>-paraphrased-0000``),
        prompt, reference (``answer``), question (the original, when paraphrased), split,
        source.
    """
    _check_tofu(split, paraphrased)
    config = f"{split}_perturbed" if paraphrased and split.startswith("forget") else split
    name = f"tofu-{split}" + ("-paraphrased" if paraphrased else "")
    columns = ("paraphrased_question" if paraphrased else "question", "answer")
    frame = load_hub_split(TOFU_REPO, config, "train", columns=columns,
                           local=_local("tofu", name, ", paraphrased=True" * paraphrased))
    frame = frame.assign(split=split)
    return to_prompt_table(frame, "tofu", name, paraphrased=paraphrased)


# --------------------------------------------------------------------------- MUSE


def _check_muse(task: str = "knowmem", corpus: str = "news", split: str = "forget",
                few_shot: bool | None = None) -> None:
    _choice(task, MUSE_TASKS, "task")
    _choice(corpus, tuple(MUSE_CORPORA), "corpus")
    if split not in MUSE_SPLITS[task]:
        raise LeakstatsError(
            f"MUSE {task} has no split {split!r} on the hub: its splits are "
            f"{list(MUSE_SPLITS[task])}. Fix: use one of those (verbmem: forget only)."
        )
    if task == "verbmem" and few_shot is not None:
        raise LeakstatsError(
            f"argument 'few_shot': MUSE verbmem prompts are passages to continue, with no "
            f"few-shot prefix (got few_shot={few_shot!r}). Fix: drop few_shot (':zero-shot' in a "
            f"spec), or use task='knowmem'."
        )


def load_muse(
    task: str = "knowmem",
    *,
    corpus: str = "news",
    split: str = "forget",
    few_shot: bool | None = None,
) -> pd.DataFrame:
    """MUSE (``muse-bench/MUSE-News`` or ``MUSE-Books``): knowmem QA or verbmem continuation.

    Parameters
    ----------
    task : {"knowmem", "verbmem"}
        knowmem: ``question`` -> ``answer`` of hub split ``<split>_qa``, asked with MUSE's
        few-shot prefix built from ``<split>_qa_icl`` (all 10 examples, in order):
        ``"Question: {q}\\nAnswer: {a}\\n\\n"`` per example, then ``"Question: {question}\\n
        Answer: "`` (swj0419/muse_bench ``metrics/knowmem.py``). verbmem: ``prompt`` -> ``gt``
        of hub split ``forget`` (the only one).
    corpus : {"news", "books"}
    split : {"forget", "retain"}
        verbmem has ``forget`` only.
    few_shot : bool, optional
        knowmem only; default True. False asks ``"Question: {question}\\nAnswer: "`` alone.

    Returns
    -------
    pandas.DataFrame
        prompt_id (``muse-<corpus>-<task>-<split>-0000``), prompt, reference, question
        (knowmem), split, source.
    """
    _check_muse(task, corpus, split, few_shot)
    repo, name = MUSE_CORPORA[corpus], f"muse-{corpus}-{task}-{split}"
    if task == "verbmem":
        frame = load_hub_split(repo, "verbmem", split, columns=("prompt", "gt"),
                               local=_local("muse-verbmem", name))
        return to_prompt_table(frame.assign(split=split), "muse-verbmem", name)
    use_shots = True if few_shot is None else bool(few_shot)
    local = _local("muse-knowmem", name,
                   f", icl='{split}_qa_icl.jsonl'" if use_shots else "")
    frame = load_hub_split(repo, "knowmem", f"{split}_qa", columns=("question", "answer"),
                           local=local)
    prefix = ""
    if use_shots:
        icl = load_hub_split(repo, "knowmem", f"{split}_qa_icl", columns=("question", "answer"),
                             local=local)
        prefix = muse_few_shot_prefix(icl["question"].astype(str).tolist(),
                                      icl["answer"].astype(str).tolist())
    return to_prompt_table(frame.assign(split=split), "muse-knowmem", name, few_shot=prefix)


# --------------------------------------------------------------------------- WMDP


def _check_wmdp(subject: str = "bio", mode: str = "mc") -> None:
    _choice(subject, WMDP_SUBJECTS, "subject")
    _choice(mode, WMDP_MODES, "mode")


def load_wmdp(subject: str = "bio", *, mode: str = "mc") -> pd.DataFrame:
    """WMDP questions (``cais/wmdp``, config ``wmdp-<subject>``, split ``test``).

    Parameters
    ----------
    subject : {"bio", "cyber", "chem"}
        1273, 1987 and 408 questions.
    mode : {"mc", "generate"}, default "mc"
        ``mc``: the prompt lists the options as A-D and asks for the letter (judge ``mc``:
        :class:`leakstats.generate.judges.MultipleChoice`, which reads ``choices`` and
        ``answer``). ``generate``: the prompt is the bare question, open generation judged
        against ``reference`` (``nli:MODEL``, ``contains``, ``rouge``).

    Returns
    -------
    pandas.DataFrame
        prompt_id (``wmdp-<subject>-0000``; generate: ``wmdp-<subject>-generate-0000``),
        prompt, reference (the right option's text), question, choices, answer, split, source.
    """
    _check_wmdp(subject, mode)
    fmt = "wmdp" if mode == "mc" else "wmdp-generate"
    name = f"wmdp-{subject}" + ("" if mode == "mc" else "-generate")
    frame = load_hub_split(WMDP_REPO, f"wmdp-{subject}", "test",
                           columns=("question", "choices", "answer"), local=_local(fmt, name))
    return to_prompt_table(frame.assign(split="test"), fmt, name)


# --------------------------------------------------------------------------- shipped set


def _check_fictitious(split: str = "forget", paraphrased: bool = False) -> None:
    _choice(split, ("forget", "retain", "all"), "split")


def check_options(loader: str, **kwargs) -> None:
    """Refuse what the hub does not have before asking it: the checks ``loader`` (a name in
    :data:`leakstats.generate.prompts.PROMPT_SETS`) makes on these arguments."""
    checks = {"load_tofu": _check_tofu, "load_muse": _check_muse, "load_wmdp": _check_wmdp,
              "fictitious_facts": _check_fictitious}
    checks[loader](**kwargs)


def fictitious_facts_path() -> Path:
    """Path of ``leakstats/data/fictitious_facts.jsonl`` (package data, written by
    ``data/make_fictitious_facts.py``)."""
    from leakstats.datasets import shipped_path

    return shipped_path("fictitious_facts.jsonl")


def fictitious_facts(*, split: str = "forget", paraphrased: bool = False) -> pd.DataFrame:
    """The shipped TOFU-like set: 50 questions about 25 invented people.

    Parameters
    ----------
    split : {"forget", "retain", "all"}, default "forget"
        forget: the first 10 people (20 prompts); retain: the other 15 (30 prompts).
    paraphrased : bool, default False
        Ask the paraphrased questions.

    Returns
    -------
    pandas.DataFrame
        prompt_id, prompt, reference, question (if paraphrased), keywords, split, person,
        source.
    """
    _check_fictitious(split)
    frame = pd.read_json(fictitious_facts_path(), lines=True, dtype=False)
    if split != "all":
        frame = frame[frame["split"] == split]
    name = "fictitious-facts" + ("-paraphrased" if paraphrased else "")
    return to_prompt_table(frame.reset_index(drop=True), "qa", name, paraphrased=paraphrased)
