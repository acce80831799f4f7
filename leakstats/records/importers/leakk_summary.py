"""The Leak@k authors' published aggregates: ``rougeL_summary.json`` files (despite the name,
leak@k with ``ES == 1`` for k = 1, 2, 4, ..., 128) below
``<root>/<Method>/forget/temperature=<T>top_p=<P>/``, as in their co-author repository
jiajunruan/pass-k (``LLMjudgeresult/eval``, written by its ``pass@k.py``).

Each file is one JSON object ``{"<k>": value, ...}``. Their script sums
``1 - C(n - c, k) / C(n, k)`` over the first 400 lines of ``generations_n200.json`` (skipping
lines without ``responses``, and scoring k > n as 0) and divides by 400 whatever the number of
lines read: when a file holds fewer prompts, or a line was skipped, the published value is the
mean over the prompts present times ``n_prompts / 400``. :func:`read_leakk_summary` returns the
numbers as published; compare them with ``leakstats.leak_at_k`` on the generation files, which
averages over the prompts present.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from leakstats.core.errors import DataValidationError, InputNotFoundError
from leakstats.records.importers.leakk_tree import _arm_of

__all__ = ["SUMMARY_FILE", "read_leakk_summary"]

#: The name of a published aggregate file.
SUMMARY_FILE = "rougeL_summary.json"


def _values(path: Path) -> dict[int, float]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataValidationError(
            f"{path}: not readable as JSON ({exc}). Fix: restore the file, or leave it out of "
            f"the tree.") from None
    if not isinstance(payload, dict) or not payload:
        raise DataValidationError(
            f"{path}: expected an object of k -> leak@k such as {{\"1\": 0.35, \"2\": 0.46}}, "
            f"found {type(payload).__name__} {str(payload)[:60]!r}. Fix: check that this is a "
            f"published summary file.")
    out = {}
    for key, value in payload.items():
        k = int(key) if isinstance(key, str) and key.isdigit() and int(key) > 0 else None
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if k is None or not number or not (math.isfinite(value) and 0 <= value <= 1):
            raise DataValidationError(
                f"{path}: entry {key!r}: {value!r}; every key must be a positive integer k and "
                f"every value a leak@k in [0, 1]. Fix: correct or remove that entry.")
        out[k] = float(value)
    return out


def read_leakk_summary(path: str | os.PathLike) -> pd.DataFrame:
    """Read the Leak@k authors' published leak@k aggregates.

    Parameters
    ----------
    path : str or os.PathLike
        One ``rougeL_summary.json`` file, or a folder below which they lie
        (``<Method>/forget/temperature=1.0top_p=1.0/rougeL_summary.json``); other files,
        such as ``rougeL_summary copy.json``, are not read.

    Returns
    -------
    pandas.DataFrame
        One row per file and k: ``method``, ``split``, ``temperature``, ``top_p`` (from the
        folder names, as :func:`leakstats.read` names them for the generation tree), ``k``,
        ``published`` (the value as written) and ``source`` (the file, relative to ``path``).

    Raises
    ------
    InputNotFoundError
        If ``path`` does not exist or a folder holds no summary file.
    DataValidationError
        On a file that is not an object of positive-integer k to values in [0, 1].

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> folder = root / "NPO" / "forget" / "temperature=1.0top_p=1.0"
    >>> folder.mkdir(parents=True)
    >>> _ = (folder / "rougeL_summary.json").write_text(json.dumps({"1": 0.35, "2": 0.46}))
    >>> read_leakk_summary(root)[["method", "temperature", "k", "published"]].values.tolist()
    [['NPO', 1.0, 1, 0.35], ['NPO', 1.0, 2, 0.46]]
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise InputNotFoundError(f"no such file or folder: '{root}'. Fix: check the path.")
    files = [root] if root.is_file() else sorted(root.rglob(SUMMARY_FILE))
    if not files:
        raise InputNotFoundError(
            f"'{root}' holds no {SUMMARY_FILE} below it. Fix: pass the folder of the "
            f"published results (e.g. LLMjudgeresult/eval) or one summary file.")
    rows = []
    for file in files:
        base = root.parent if root.is_file() else root
        arm = _arm_of(base, file.parent) if file.parent != base else {"method": base.name}
        for k, value in sorted(_values(file).items()):
            rows.append({**arm, "k": k, "published": value,
                         "source": str(file.relative_to(base))})
    return pd.DataFrame(rows)
