"""Reading a store: its shards, checked against the manifest, as one records table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.generate.store import RECORD_COLUMNS, _arm_text, store_manifest
from leakstats.records.store_files import PROMPTS, verified_shards

__all__ = ["read_store"]


def read_store(
    path: str | os.PathLike,
    *,
    table: str = "records",
    columns: Sequence[str] | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """Read a store written by :func:`leakstats.generate_samples` (or ``leakstats generate``).

    Parameters
    ----------
    path : str or os.PathLike
        The store folder (the run's ``--out``).
    table : {"records", "prompts", "reference"}, default "records"
        ``records``: one row per sample and judge, the records table of the analysis layer
        (arm columns ``method``, ``model``, ``temperature``, ``top_p``, ``top_k``, ``min_p``,
        ``judge`` with their dtypes; ``prompt_id``, ``sample_id``, ``leaked``, ``score``,
        ``seed``, ``text``, token ids and per-token log-probs ...). ``prompts``: the prompt
        table of the run. ``reference``: one row per prompt and arm with the teacher-forced
        log-probability of the reference answer (processed and raw) and its token count.
    columns : sequence of str, optional
        Read only these record columns (e.g. leave out the per-token arrays); the arm columns,
        ``prompt_id``, ``sample_id`` and ``leaked`` are always read.
    validate : bool, default True
        Validate the records with :func:`leakstats.validate_records`.

    Returns
    -------
    pandas.DataFrame
        Rows sorted by arm (manifest order), prompt (prompt-set order), judge and sample_id:
        the same table whatever the sharding, interruptions and resumes.

    Examples
    --------
    >>> import tempfile
    >>> read_store(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leakstats.core.errors.InputNotFoundError: argument 'path': '...' is not a leakstats store...
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(path).expanduser()
    manifest = store_manifest(root)
    if table not in ("records", "prompts", "reference"):
        raise LeakstatsError(
            f"argument 'table': expected 'records', 'prompts' or 'reference', got {table!r}. "
            f"Fix: pass table='records'."
        )
    prompts = pd.read_parquet(root / PROMPTS)
    if table == "prompts":
        return prompts
    shards = verified_shards(root, manifest)
    keep = None
    if table == "reference":
        keep = [c for c in RECORD_COLUMNS[:7] if c != "judge"] + [
            "prompt_id", "sample_id", "judge", "reference_logprob", "reference_logprob_raw",
            "reference_n_tokens"]
    elif columns is not None:
        unknown = [c for c in columns if c not in RECORD_COLUMNS]
        if unknown:
            raise LeakstatsError(
                f"argument 'columns': unknown column(s) {unknown}. Fix: choose from "
                f"{list(RECORD_COLUMNS)}."
            )
        keep = [c for c in RECORD_COLUMNS if c in (*RECORD_COLUMNS[:10], *columns)]
    if shards:
        frame = pa.concat_tables(
            [pq.read_table(s, columns=keep) for s in shards], promote_options="default"
        ).to_pandas()
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in (keep or RECORD_COLUMNS)})
    arm_order = {a: i for i, a in enumerate(manifest["config"].get("arm_ids", []))}
    prompt_order = {str(p): i for i, p in enumerate(prompts["prompt_id"])}
    judge_order = {j: i for i, j in enumerate(manifest["config"].get("judge_names", []))}
    if len(frame):
        arm_keys = frame[["temperature", "top_p", "top_k", "min_p"]].astype(float)
        arm_index = pd.Series(
            [manifest["config"]["arm_index"].get(_arm_text(r), len(arm_order))
             for r in arm_keys.itertuples(index=False)], index=frame.index)
        order = np.lexsort((
            frame["sample_id"].to_numpy(),
            frame["judge"].map(judge_order).fillna(len(judge_order)).to_numpy(),
            frame["prompt_id"].astype(str).map(prompt_order).fillna(len(prompt_order)).to_numpy(),
            arm_index.to_numpy(),
        ))
        frame = frame.iloc[order].reset_index(drop=True)
    if table == "reference":
        frame = frame[frame["sample_id"] == 0]
        first_judge = frame.groupby(["temperature", "top_p", "top_k", "min_p", "prompt_id"],
                                    sort=False)["judge"].transform("first")
        frame = frame[frame["judge"] == first_judge]
        return frame.drop(columns=["sample_id", "judge"]).reset_index(drop=True)
    if validate and len(frame):
        from leakstats.records.api import validate_records

        frame = validate_records(frame)
    return frame


