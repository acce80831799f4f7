"""The prompt table: its validation, the column layouts of the benchmarks, and local files.

A *prompt table* is a DataFrame with one row per prompt and the columns ``prompt_id``
(unique), ``prompt`` (the text sent to the model), ``reference`` (the answer whose reproduction
counts as a leak), plus what the set has: ``question``, ``choices`` and ``answer`` (index of the
right choice), ``keywords``, ``split``, ``source``.

:func:`to_prompt_table` maps a raw table in one of :data:`FORMATS` (the column layout of TOFU,
MUSE knowmem/verbmem, WMDP, or plain prompts) to a prompt table; the hub loaders
(:mod:`leakstats.generate.prompt_sets`) and :func:`from_files` both go through it, so a local
copy of a benchmark gives the same prompts as the hub.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import DataValidationError, InputNotFoundError, LeakstatsError

__all__ = [
    "FORMATS",
    "MC_TEMPLATE",
    "MUSE_QA_TEMPLATE",
    "from_files",
    "muse_few_shot_prefix",
    "to_prompt_table",
    "validate_prompts",
]

#: Column layouts :func:`from_files` understands.
FORMATS = ("qa", "tofu", "muse-knowmem", "muse-verbmem", "wmdp", "wmdp-generate", "prompts")
#: The multiple-choice prompt (WMDP): options lettered A, B, ...
MC_TEMPLATE = (
    "The following is a multiple choice question. Answer with the letter of the correct "
    "option.\n\n{question}\n{options}\nAnswer:"
)
#: One MUSE knowmem question, as MUSE's ``metrics/knowmem.py`` writes it (swj0419/muse_bench);
#: each in-context example is this template followed by its answer and a blank line.
MUSE_QA_TEMPLATE = "Question: {question}\nAnswer: "
_TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


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


def muse_few_shot_prefix(questions: Sequence[str], answers: Sequence[str]) -> str:
    """MUSE's knowmem in-context prefix: ``"Question: {q}\\nAnswer: {a}\\n\\n"`` per example.

    The knowmem prompt is this prefix followed by ``"Question: {question}\\nAnswer: "``, as
    in MUSE's ``metrics/knowmem.py`` (swj0419/muse_bench), which uses every row of the
    ``forget_qa_icl`` / ``retain_qa_icl`` split, in order.

    Examples
    --------
    >>> muse_few_shot_prefix(["Who?"], ["Ann"])
    'Question: Who?\\nAnswer: Ann\\n\\n'
    """
    if len(questions) != len(answers):
        raise LeakstatsError(
            f"MUSE few-shot examples: {len(questions)} questions but {len(answers)} answers. "
            f"Fix: pass one answer per question."
        )
    return "".join(
        MUSE_QA_TEMPLATE.format(question=q) + f"{a}\n\n"
        for q, a in zip(questions, answers, strict=True)
    )


def _column(frame: pd.DataFrame, name: str, fmt: str, option: str):
    if name not in frame.columns:
        raise DataValidationError(
            f"prompt set ({fmt} layout): no column {name!r} (columns present: "
            f"{list(map(str, frame.columns))}). Fix: pass {option}= the column that holds it, "
            f"or format= the layout of the file.",
            column=name,
        )
    return frame[name]


def _choices(frame: pd.DataFrame, fmt: str, question: str | None, answer: str | None):
    choices = [_as_list(c) for c in _column(frame, "choices", fmt, "choices")]
    questions = _column(frame, question or "question", fmt, "question").astype(str)
    answers = _column(frame, answer or "answer", fmt, "answer").astype(int)
    bad = [i for i, (c, a) in enumerate(zip(choices, answers, strict=True))
           if not 0 <= a < len(c)]
    if bad:
        i = bad[0]
        raise DataValidationError(
            f"prompt set ({fmt} layout): {len(bad)} row(s) have an answer index outside their "
            f"choices (first: row {i}, answer {int(answers.iloc[i])}, {len(choices[i])} "
            f"choices). Fix: 'answer' must be the 0-based index of the right choice.",
            column=answer or "answer", rows=bad[:5],
        )
    references = [c[a] for c, a in zip(choices, answers, strict=True)]
    return questions, choices, answers, references


def to_prompt_table(
    frame: pd.DataFrame,
    fmt: str,
    prefix: str,
    *,
    paraphrased: bool = False,
    few_shot: str | None = None,
    question: str | None = None,
    answer: str | None = None,
    id: str | None = None,
) -> pd.DataFrame:
    """Map a raw table in one of :data:`FORMATS` to a prompt table.

    ``prefix`` names the generated prompt ids (``<prefix>-0000``, ...) and the ``source``
    column. The muse-knowmem layout asks MUSE's ``"Question: {question}\\nAnswer: "``,
    after ``few_shot``, the in-context prefix of :func:`muse_few_shot_prefix` (none by
    default); the other QA layouts ask the bare question.
    """
    out = pd.DataFrame(index=frame.index)
    if fmt in ("wmdp", "wmdp-generate"):
        questions, choices, answers, references = _choices(frame, fmt, question, answer)
        out["prompt"] = (questions.to_numpy() if fmt == "wmdp-generate" else
                         [_mc_prompt(q, c) for q, c in zip(questions, choices, strict=True)])
        out["reference"] = references
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
        asked = _column(frame, qcol, fmt, "question").astype(str)
        out["reference"] = _column(frame, answer or "answer", fmt, "answer").astype(str)
        if fmt == "muse-knowmem":
            shots = few_shot or ""
            out["prompt"] = [shots + MUSE_QA_TEMPLATE.format(question=q) for q in asked]
            out["question"] = asked.to_numpy()
        else:
            out["prompt"] = asked.to_numpy()
        if paraphrased and "question" in frame.columns and qcol != "question":
            out["question"] = frame["question"].astype(str).to_numpy()
        out = out[["prompt", "reference", *out.columns.drop(["prompt", "reference"])]]
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


def _table_files(path) -> list[Path]:
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    files: list[Path] = []
    for item in paths:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in _TABLE_SUFFIXES and f.is_file())
            if not found:
                raise InputNotFoundError(
                    f"argument 'path': the folder '{p}' holds no .jsonl, .json, .csv or .parquet "
                    f"file. Fix: point at the files of the prompt set."
                )
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputNotFoundError(f"argument 'path': no such file or folder '{p}'. Fix: "
                                     f"check the path.")
    return files


def _read_tables(files: Sequence[Path]) -> pd.DataFrame:
    from leakstats.records.files import read_any_table

    return pd.concat([read_any_table(f) for f in files], ignore_index=True)


def from_files(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    paraphrased: bool = False,
    icl: str | os.PathLike | None = None,
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
    format : {"qa", "tofu", "muse-knowmem", "muse-verbmem", "wmdp", "wmdp-generate", \
"prompts"}, optional
        The column layout (default: guessed from the columns). ``qa``/``tofu``/``muse-knowmem``:
        ``question``, ``answer`` (muse-knowmem asks MUSE's ``Question: ...\\nAnswer: ``, after
        the ``icl`` examples if given); ``muse-verbmem``: ``prompt``, ``gt``; ``wmdp``:
        ``question``, ``choices``, ``answer`` (index), asked as multiple choice;
        ``wmdp-generate``: the same columns, the bare question asked, the right choice's text
        as reference; ``prompts``: ``prompt``, ``reference``.
    paraphrased : bool, default False
        Ask the ``paraphrased_question`` (TOFU ``*_perturbed``) instead of ``question``.
    icl : path, optional
        muse-knowmem only: a copy of the ``forget_qa_icl``/``retain_qa_icl`` split
        (``question``, ``answer``): its rows become MUSE's few-shot prefix, so that the prompts
        are exactly those of :func:`leakstats.generate.prompts.load_muse`.
    question, answer, id : str, optional
        Column names overriding the layout's.
    name : str, optional
        Prefix of the generated prompt ids and value of ``source`` (default: file stem); pass
        the hub loader's (e.g. ``"tofu-forget10"``) to get its prompt ids.

    Returns
    -------
    pandas.DataFrame
        A prompt table (see :mod:`leakstats.generate.prompts`).

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
    if format is not None and format not in FORMATS:
        raise LeakstatsError(
            f"argument 'format': unknown layout {format!r}. Fix: pass one of {list(FORMATS)}."
        )
    files = _table_files(path)
    frame = _read_tables(files)
    fmt = format or (
        "qa" if question is not None and answer is not None else _guess_format(frame)
    )
    prefix_text = None
    if icl is not None:
        if fmt != "muse-knowmem":
            raise LeakstatsError(
                f"argument 'icl': only the muse-knowmem layout has a few-shot prefix, the files "
                f"are read as {fmt!r}. Fix: pass format='muse-knowmem', or drop icl."
            )
        shots = _read_tables(_table_files(icl))
        prefix_text = muse_few_shot_prefix(
            _column(shots, "question", "muse-knowmem icl", "icl").astype(str).tolist(),
            _column(shots, "answer", "muse-knowmem icl", "icl").astype(str).tolist(),
        )
    return to_prompt_table(frame, fmt, name or files[0].stem, paraphrased=paraphrased,
                           few_shot=prefix_text, question=question, answer=answer, id=id)
