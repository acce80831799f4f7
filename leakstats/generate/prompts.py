"""Prompt sets: TOFU, MUSE, WMDP (through ``datasets``), local copies, and fictitious facts.

Every loader returns a *prompt table*: a DataFrame with one row per prompt and the columns

``prompt_id`` (unique), ``prompt`` (the text sent to the model), ``reference`` (the answer whose
reproduction counts as a leak), plus what the set has: ``choices`` and ``answer`` (index of the
right choice) for multiple choice, ``keywords``, ``question``, ``split``, ``source``.

The hub loaders need the ``datasets`` package and a reachable Hugging Face Hub; when the hub
cannot be reached they raise :class:`PromptSetUnavailableError` saying how to load a local copy
with :func:`from_files`. The shipped :func:`fictitious_facts` set needs neither.

Examples
--------
>>> facts = fictitious_facts(split="forget")
>>> len(facts), list(facts.columns[:3])
(20, ['prompt_id', 'prompt', 'reference'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import (
    DataValidationError,
    InputNotFoundError,
    LeakstatsError,
    MissingDependencyError,
)

__all__ = [
    "FORMATS",
    "PromptSetUnavailableError",
    "fictitious_facts",
    "fictitious_facts_path",
    "from_files",
    "load_muse",
    "load_prompts",
    "load_tofu",
    "load_wmdp",
    "validate_prompts",
]

#: Column layouts :func:`from_files` understands.
FORMATS = ("qa", "tofu", "muse-knowmem", "muse-verbmem", "wmdp", "prompts")
TOFU_SPLITS = ("forget01", "forget05", "forget10")
MUSE_CORPORA = {"news": "muse-bench/MUSE-News", "books": "muse-bench/MUSE-Books"}
WMDP_SUBJECTS = ("bio", "cyber", "chem")
MC_TEMPLATE = (
    "The following is a multiple choice question. Answer with the letter of the correct "
    "option.\n\n{question}\n{options}\nAnswer:"
)


class PromptSetUnavailableError(LeakstatsError):
    """A prompt set could not be loaded from the Hugging Face Hub (no network, no access)."""


# --------------------------------------------------------------------------- validation


def validate_prompts(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a prompt table and return a clean copy (fresh index, text columns as str).

    Raises
    ------
    DataValidationError
        If it is empty, lacks ``prompt_id``/``prompt``/``reference``, has missing or
        repeated prompt ids (compared as strings), or missing prompts.

    Examples
    --------
    >>> validate_prompts(pd.DataFrame({"prompt_id": [1], "prompt": ["Q?"], "reference": ["A"]}))
       prompt_id prompt reference
    0          1     Q?         A
    """
    if not isinstance(frame, pd.DataFrame):
        raise LeakstatsError(
            f"argument 'prompts': expected a prompt table (DataFrame with prompt_id, prompt, "
            f"reference), got {type(frame).__name__}. Fix: load one with "
            f"leakstats.generate.prompts.load_prompts or from_files."
        )
    missing = [c for c in ("prompt_id", "prompt", "reference") if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"prompt table: missing column(s) {missing} (columns present: "
            f"{list(map(str, frame.columns))}). Fix: name the columns prompt_id, prompt and "
            f"reference (from_files(..., question=..., answer=..., id=...) maps them).",
            column=missing[0],
        )
    if frame.empty:
        raise DataValidationError("prompt table: no rows. Fix: pass at least one prompt.")
    out = frame.reset_index(drop=True).copy()
    for column in ("prompt_id", "prompt"):
        bad = out[column].isna().to_numpy()
        if bad.any():
            raise DataValidationError(
                f"prompt table: column {column!r} is missing in {int(bad.sum())} row(s) (first: "
                f"row {int(np.flatnonzero(bad)[0])}). Fix: drop or fill these rows.",
                column=column, rows=list(np.flatnonzero(bad)[:5]),
            )
    keys = out["prompt_id"].astype(str)
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataValidationError(
            f"prompt table: column 'prompt_id' repeats {sorted(set(keys[dup]))[:5]} (ids are "
            f"compared as strings). Fix: give every prompt a unique id.",
            column="prompt_id", rows=list(np.flatnonzero(dup)[:5]),
        )
    out["prompt"] = out["prompt"].astype(str)
    out["reference"] = out["reference"].where(out["reference"].notna(), "").astype(str)
    return out


# --------------------------------------------------------------------------- column layouts


def _as_list(value) -> list:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value)


def _mc_prompt(question: str, choices: Sequence[str]) -> str:
    options = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(choices))
    return MC_TEMPLATE.format(question=question, options=options)


def _column(frame: pd.DataFrame, name: str, fmt: str, option: str):
    if name not in frame.columns:
        raise DataValidationError(
            f"prompt set ({fmt} layout): no column {name!r} (columns present: "
            f"{list(map(str, frame.columns))}). Fix: pass {option}= the column that holds it, "
            f"or format= the layout of the file.",
            column=name,
        )
    return frame[name]


def _convert(
    frame: pd.DataFrame,
    fmt: str,
    prefix: str,
    *,
    paraphrased: bool = False,
    question: str | None = None,
    answer: str | None = None,
    id: str | None = None,
) -> pd.DataFrame:
    """Map a raw table in one of :data:`FORMATS` to a prompt table."""
    out = pd.DataFrame(index=frame.index)
    if fmt == "wmdp":
        choices = [_as_list(c) for c in _column(frame, "choices", fmt, "choices")]
        questions = _column(frame, question or "question", fmt, "question").astype(str)
        answers = _column(frame, answer or "answer", fmt, "answer").astype(int)
        out["prompt"] = [_mc_prompt(q, c) for q, c in zip(questions, choices, strict=True)]
        out["reference"] = [c[a] for c, a in zip(choices, answers, strict=True)]
        out["question"] = questions.to_numpy()
        out["choices"] = choices
        out["answer"] = answers.to_numpy()
    elif fmt == "muse-verbmem":
        out["prompt"] = _column(frame, question or "prompt", fmt, "question").astype(str)
        out["reference"] = _column(frame, answer or "gt", fmt, "answer").astype(str)
    elif fmt == "prompts":
        out["prompt"] = _column(frame, question or "prompt", fmt, "question").astype(str)
        out["reference"] = _column(frame, answer or "reference", fmt, "answer").astype(str)
    else:  # qa, tofu, muse-knowmem
        qcol = question or ("paraphrased_question" if paraphrased else "question")
        out["prompt"] = _column(frame, qcol, fmt, "question").astype(str)
        out["reference"] = _column(frame, answer or "answer", fmt, "answer").astype(str)
        if paraphrased and "question" in frame.columns and qcol != "question":
            out["question"] = frame["question"].astype(str)
    for extra in ("keywords", "split", "person"):
        if extra in frame.columns and extra not in out.columns:
            out[extra] = frame[extra].to_numpy()
    if id is not None:
        ids = _column(frame, id, fmt, "id").to_numpy()
    elif "prompt_id" in frame.columns:
        ids = frame["prompt_id"].to_numpy()
    else:
        ids = [f"{prefix}-{i:04d}" for i in range(len(frame))]
    out.insert(0, "prompt_id", ids)
    out["source"] = prefix
    return validate_prompts(out)


def _guess_format(frame: pd.DataFrame) -> str:
    cols = set(frame.columns)
    if {"choices", "answer", "question"} <= cols:
        return "wmdp"
    if {"prompt", "gt"} <= cols:
        return "muse-verbmem"
    if {"question", "answer"} <= cols:
        return "qa"
    if {"prompt", "reference"} <= cols:
        return "prompts"
    raise DataValidationError(
        f"prompt set: cannot tell the layout from the columns {sorted(map(str, cols))}. Fix: "
        f"pass format= one of {list(FORMATS)}, or question=/answer= naming the columns."
    )


# --------------------------------------------------------------------------- local files


def from_files(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    paraphrased: bool = False,
    question: str | None = None,
    answer: str | None = None,
    id: str | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Load a prompt set from local files (e.g. a copy of TOFU, MUSE or WMDP).

    Parameters
    ----------
    path : path or list of paths
        ``.jsonl``, ``.json`` (a list of objects), ``.csv``, ``.parquet`` files, or a folder of
        them (read in name order and concatenated): e.g. what ``datasets``'
        ``Dataset.to_json`` / ``to_parquet`` wrote, or a hub snapshot.
    format : {"qa", "tofu", "muse-knowmem", "muse-verbmem", "wmdp", "prompts"}, optional
        The column layout (default: guessed from the columns). ``qa``/``tofu``/``muse-knowmem``:
        ``question``, ``answer``; ``muse-verbmem``: ``prompt``, ``gt``; ``wmdp``: ``question``,
        ``choices``, ``answer`` (index); ``prompts``: ``prompt``, ``reference``.
    paraphrased : bool, default False
        Ask the ``paraphrased_question`` (TOFU ``*_perturbed``) instead of ``question``.
    question, answer, id : str, optional
        Column names overriding the layout's.
    name : str, optional
        Prefix of the generated prompt ids and value of ``source`` (default: file stem).

    Returns
    -------
    pandas.DataFrame
        A prompt table (see the module docstring).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wmdp-bio.jsonl"
    >>> row = {"question": "Which?", "choices": ["a", "b", "c", "d"], "answer": 1}
    >>> _ = path.write_text(json.dumps(row) + "\\n")
    >>> table = from_files(path)
    >>> table.loc[0, "reference"], table.loc[0, "prompt_id"]
    ('b', 'wmdp-bio-0000')
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    files: list[Path] = []
    for item in paths:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.suffix in (".jsonl", ".json", ".csv", ".parquet") and f.is_file()
            )
            if not found:
                raise InputNotFoundError(
                    f"argument 'path': the folder '{p}' holds no .jsonl, .json, .csv or .parquet "
                    f"file. Fix: point at the files of the prompt set."
                )
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputNotFoundError(f"argument 'path': no such file or folder '{p}'.")
    from leakstats.records.files import read_any_table

    frame = pd.concat([read_any_table(f) for f in files], ignore_index=True)
    if format is not None and format not in FORMATS:
        raise LeakstatsError(
            f"argument 'format': unknown layout {format!r}. Fix: pass one of {list(FORMATS)}."
        )
    fmt = format or (
        "qa" if question is not None and answer is not None else _guess_format(frame)
    )
    prefix = name or files[0].stem
    return _convert(frame, fmt, prefix, paraphrased=paraphrased, question=question,
                    answer=answer, id=id)


# --------------------------------------------------------------------------- the hub


def _load_dataset(repo: str, config: str, split: str, fix: str) -> pd.DataFrame:
    try:
        import datasets
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"loading {repo} needs the datasets package. Fix: pip install datasets, or load a "
            f"local copy with {fix}."
        ) from exc
    try:
        data = datasets.load_dataset(repo, config, split=split)
    except Exception as exc:  # network errors come in many types (requests, httpx, OSError)
        raise PromptSetUnavailableError(
            f"could not load {repo} (config {config!r}, split {split!r}) from the Hugging Face "
            f"Hub: {type(exc).__name__}: {exc}. The hub may be unreachable from this machine "
            f"(offline, firewall, HF_HUB_OFFLINE=1) or the dataset gated. Fix: download it "
            f"where the hub is reachable (datasets.load_dataset({repo!r}, {config!r}, "
            f"split={split!r}).to_json('{config}.jsonl')) and load the copy with {fix}."
        ) from exc
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):  # a datasets.Dataset
        return data.to_pandas()
    return pd.DataFrame(list(data))


def _choice(value: str, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise LeakstatsError(
            f"argument {name!r}: expected one of {list(allowed)}, got {value!r}. Fix: pass "
            f"{name}={allowed[0]!r}."
        )
    return value


def load_tofu(split: str = "forget10", *, paraphrased: bool = False) -> pd.DataFrame:
    """TOFU forget questions (``locuslab/TOFU``): forget01, forget05 or forget10.

    ``paraphrased=True`` asks TOFU's paraphrased questions (config ``<split>_perturbed``) with
    the same answers. Prompt ids: ``tofu-<split>-0000``, ...
    """
    _choice(split, TOFU_SPLITS, "split")
    config = f"{split}_perturbed" if paraphrased else split
    frame = _load_dataset("locuslab/TOFU", config, "train",
                          f"leakstats.generate.prompts.from_files(path, format='tofu'"
                          f"{', paraphrased=True' if paraphrased else ''})")
    name = f"tofu-{split}" + ("-paraphrased" if paraphrased else "")
    return _convert(frame, "tofu", name, paraphrased=paraphrased)


def load_muse(
    task: str = "knowmem", *, corpus: str = "news", split: str = "forget"
) -> pd.DataFrame:
    """MUSE (``muse-bench/MUSE-News`` or ``MUSE-Books``): knowmem QA or verbmem continuation.

    Parameters
    ----------
    task : {"knowmem", "verbmem"}
        knowmem: ``question`` -> ``answer`` (hub split ``<split>_qa``); verbmem: ``prompt``
        -> ``gt`` (hub split ``<split>``).
    corpus : {"news", "books"}
    split : {"forget", "retain"}
    """
    _choice(task, ("knowmem", "verbmem"), "task")
    _choice(corpus, tuple(MUSE_CORPORA), "corpus")
    _choice(split, ("forget", "retain"), "split")
    hub_split = f"{split}_qa" if task == "knowmem" else split
    fmt = f"muse-{task}"
    frame = _load_dataset(MUSE_CORPORA[corpus], task, hub_split,
                          f"leakstats.generate.prompts.from_files(path, format={fmt!r})")
    return _convert(frame, fmt, f"muse-{corpus}-{task}-{split}")


def load_wmdp(subject: str = "bio") -> pd.DataFrame:
    """WMDP multiple-choice questions (``cais/wmdp``, config ``wmdp-<subject>``, split test).

    The prompt lists the options as A-D and asks for the letter; ``reference`` is the right
    option's text, ``choices`` and ``answer`` feed
    :class:`leakstats.generate.judges.MultipleChoice`.
    """
    _choice(subject, WMDP_SUBJECTS, "subject")
    frame = _load_dataset("cais/wmdp", f"wmdp-{subject}", "test",
                          "leakstats.generate.prompts.from_files(path, format='wmdp')")
    return _convert(frame, "wmdp", f"wmdp-{subject}")


# --------------------------------------------------------------------------- shipped set


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
    _choice(split, ("forget", "retain", "all"), "split")
    frame = pd.read_json(fictitious_facts_path(), lines=True, dtype=False)
    if split != "all":
        frame = frame[frame["split"] == split]
    name = "fictitious-facts" + ("-paraphrased" if paraphrased else "")
    return _convert(frame.reset_index(drop=True), "qa", name, paraphrased=paraphrased)


# --------------------------------------------------------------------------- one entry point


#: The options of each prompt-set spec: groups of which at most one may be given, then flags.
_SPEC_OPTIONS = {
    "fictitious": ((("forget", "retain", "all"),), ("paraphrased",)),
    "tofu": ((TOFU_SPLITS,), ("paraphrased",)),
    "muse": ((("knowmem", "verbmem"), ("news", "books")), ("retain",)),
    "wmdp": ((WMDP_SUBJECTS,), ()),
}


def _check_spec(text: str, head: str, options: list[str]) -> None:
    """Refuse an option the prompt set does not have (it used to be ignored silently, loading
    the default set), or two options of one group."""
    if head not in _SPEC_OPTIONS:
        return  # not a prompt set name: the caller says so
    groups, flags = _SPEC_OPTIONS[head]
    valid = [o for g in groups for o in g] + list(flags)
    unknown = [o for o in options if o not in valid]
    if unknown:
        raise LeakstatsError(
            f"argument 'prompts': {text!r}: the prompt set {head!r} has no option "
            f"{unknown[0]!r}; its options are {valid}. Fix: use one of those (e.g. "
            f"'{head}:{valid[0]}')."
        )
    for group in groups:
        chosen = [o for o in options if o in group]
        if len(chosen) > 1:
            raise LeakstatsError(
                f"argument 'prompts': {text!r} names {chosen}, of which only one can apply. "
                f"Fix: keep one of them."
            )


def load_prompts(spec: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A prompt table from a short spec (as the CLI's ``--prompts``), a file, or a DataFrame.

    Specs: ``fictitious`` (forget split), ``fictitious:retain``, ``fictitious:all``,
    ``fictitious:forget:paraphrased``; ``tofu:forget10`` (``:paraphrased``);
    ``muse:knowmem`` / ``muse:verbmem`` (``:books``, ``:retain``); ``wmdp:bio`` / ``cyber`` /
    ``chem``. Anything else is a path for :func:`from_files`.

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
    if Path(text).expanduser().exists():
        return from_files(text)
    head, *rest = text.split(":")
    _check_spec(text, head, rest)
    opts = set(rest)
    para = "paraphrased" in opts
    if head == "fictitious":
        split = next((o for o in rest if o in ("forget", "retain", "all")), "forget")
        return fictitious_facts(split=split, paraphrased=para)
    if head == "tofu":
        split = next((o for o in rest if o.startswith("forget")), "forget10")
        return load_tofu(split, paraphrased=para)
    if head == "muse":
        task = next((o for o in rest if o in ("knowmem", "verbmem")), "knowmem")
        corpus = "books" if "books" in opts else "news"
        return load_muse(task, corpus=corpus, split="retain" if "retain" in opts else "forget")
    if head == "wmdp":
        return load_wmdp(rest[0] if rest else "bio")
    raise InputNotFoundError(
        f"argument 'prompts': {text!r} is neither a file nor a known prompt set. Fix: pass a "
        f"path, or one of fictitious[:forget|retain|all][:paraphrased], "
        f"tofu:forget01|forget05|forget10[:paraphrased], "
        f"muse:knowmem|verbmem[:news|books][:retain], wmdp:bio|cyber|chem."
    )
