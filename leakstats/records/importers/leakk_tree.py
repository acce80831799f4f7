"""The Leak@k authors' output tree: one folder per method and decoding config, several judge
files per folder, read as one records table.

Their pipeline writes, under ``saves/eval/``::

    <Method>/forget/temperature=1.0top_p=1.0/generations_n200.json            (phase 1)
                                             generations_n200_evaluated.json  (+ CS, ES)
                                             generations_n200_llm_judge.json  (+ LLM_judge)

all JSON Lines, one prompt per line with its ``responses``. :func:`load_tree` merges the files
of a folder response by response on (prompt text, response index), so a rule may use the
fields of several judges (``"ES == 1 or LLM_judge == 1"``), and records the folder names as
columns: ``key=value`` segments (``temperature=1.0top_p=1.0`` is two) become numeric columns,
``forget``/``retain``/``holdout`` the ``split`` column, and the first other segment the
``method`` (the tree's own folder name when there is none).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsWarning, warn
from leakstats.records.importers.leakk import _read_lines, from_objects
from leakstats.records.rules import parse_rule

__all__ = ["find_files", "load_tree"]

#: Generation files of the pipeline: the samples and their judged copies.
FILE_PATTERN = re.compile(r"generations_n(\d+)(?:_(evaluated|llm_judge))?\.jsonl?")
SPLITS = ("forget", "retain", "holdout", "real_authors", "world_facts")
_PAIR = re.compile(r"([A-Za-z_]+)=([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def find_files(root: Path) -> list[Path]:
    """The pipeline's generation files below ``root``."""
    return sorted(p for p in root.rglob("generations_n*.json*") if FILE_PATTERN.fullmatch(p.name))


def _arm_of(root: Path, folder: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    plain = []
    for part in folder.relative_to(root).parts:
        pairs = _PAIR.findall(part)
        if pairs and "".join(f"{k}={v}" for k, v in pairs) == part:
            values.update({k: float(v) for k, v in pairs})
        elif part in SPLITS:
            values["split"] = part
        else:
            plain.append(part)
    values = {"method": plain[0] if plain else root.name, **values}
    if len(plain) > 1:
        values["variant"] = "/".join(plain[1:])
    return values


def _merge(folder: Path, files: list[Path]) -> tuple[Path, list[int], list[dict]]:
    """One object per prompt whose responses carry the fields of every file of the folder."""
    merged: dict[tuple[str, int], dict] = {}
    order: list[tuple[str, int]] = []
    lines: dict[tuple[str, int], int] = {}
    for file in files:
        linenos, objects = _read_lines(file)
        seen: dict[str, int] = {}
        for lineno, obj in zip(linenos, objects, strict=True):
            text = obj.get("prompt")
            if not isinstance(text, str):
                raise DataValidationError(
                    f"{file}, line {lineno}: no 'prompt' text, so its responses cannot be "
                    f"matched with the other judge files of the folder. Fix: restore the "
                    f"line's 'prompt'.", column="prompt")
            seen[text] = seen.get(text, 0) + 1
            key = (text, seen[text])
            if key not in merged:
                merged[key] = {**obj, "responses": [dict(r) for r in obj["responses"]]}
                order.append(key)
                lines[key] = lineno
                continue
            into = merged[key]["responses"]
            if len(into) != len(obj["responses"]):
                raise DataValidationError(
                    f"{file}, line {lineno}: {len(obj['responses'])} responses where another "
                    f"file of '{folder}' has {len(into)} for the same prompt; the judge files "
                    f"do not describe the same samples. Fix: regenerate the judged file from "
                    f"its generations file.", column="responses")
            for j, (old, new) in enumerate(zip(into, obj["responses"], strict=True)):
                if old.get("response") != new.get("response"):
                    raise DataValidationError(
                        f"{file}, line {lineno}, response {j}: its text differs from the same "
                        f"response in another file of '{folder}'. Fix: keep judge files of "
                        f"one generation run together.", column="responses")
                old.update(new)
    return files[0], [lines[k] for k in order], [merged[k] for k in order]


def load_tree(root: Path, *, leaked: str | Callable[[dict], bool]) -> pd.DataFrame:
    """Records of every folder of the tree, with the folders' arm columns."""
    files = find_files(root)
    by_folder: dict[tuple[Path, str], list[Path]] = {}
    for file in files:
        n = FILE_PATTERN.fullmatch(file.name).group(1)
        by_folder.setdefault((file.parent, n), []).append(file)
    fields = parse_rule(leaked).fields() if isinstance(leaked, str) else []
    frames = []
    for (folder, _), group in sorted(by_folder.items()):
        label, linenos, objects = _merge(folder, sorted(group, key=lambda p: len(p.name)))
        keep = [all(f in r for r in obj["responses"] for f in fields) for obj in objects]
        where = folder.relative_to(root)
        if not any(keep):
            warn(f"{where}: no judge file there has {fields}; the folder is left out.",
                 LeakstatsWarning)
            continue
        if not all(keep):
            lost = [n for n, k in zip(linenos, keep, strict=True) if not k]
            warn(f"{where}: {len(lost)} prompt(s) lack {fields} in their judge files (lines "
                 f"{lost[:5]}{' ...' if len(lost) > 5 else ''} of {label.name}: a judge run "
                 f"skipped them); they are left out of this arm.", LeakstatsWarning)
            linenos = [n for n, k in zip(linenos, keep, strict=True) if k]
            objects = [o for o, k in zip(objects, keep, strict=True) if k]
        frame = from_objects(label, linenos, objects, leaked=leaked)
        for name, value in reversed(_arm_of(root, folder).items()):
            frame.insert(0, name, value)
        frames.append(frame)
    if not frames:
        raise DataValidationError(
            f"'{root}': no folder of the tree has judge files with {fields}. Fix: a rule over "
            f"fields the files have (ES, CS, rougeL_recall, LLM_judge ...)."
        )
    return pd.concat(frames, ignore_index=True)
