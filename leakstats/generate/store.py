"""The records store: partitioned Parquet written in atomic shards, a manifest, resume.

Layout of a store folder::

    manifest.json                run config (what defines the samples) and provenance
    prompts.parquet              the prompt table the run used (for re-judging)
    records/arm-<id>/part-<seq>-<token>.parquet
                                 one partition per arm (method x model x decoding config);
                                 each shard holds *complete* (prompt, arm) groups

Shards are written to a hidden temporary file in the partition folder, flushed to disk, and
renamed into place (``os.replace``), so a shard is either all there or not there. A group
(one prompt in one arm: its n samples, judged) is in exactly one shard. Resuming reads which
groups the shards hold and generates only the others; since every group's samples depend only
on the run seed, the prompt and the arm (not on what ran before), a run killed at any moment
and resumed ends with exactly the samples of an uninterrupted run.

Partition folders are named ``arm-<id>``, not ``key=value``: pyarrow's partition discovery
would read ``temperature=0.7`` back as a string or category. The arm columns live inside the
shards, with their dtypes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leakstats.core.errors import InputNotFoundError, LeakstatsError, OutputExistsError
from leakstats.core.files import atomic_file, write_json

__all__ = [
    "FORMAT_VERSION",
    "RECORD_COLUMNS",
    "ConfigMismatchError",
    "Store",
    "read_store",
    "store_manifest",
]

FORMAT = "leakstats-store"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PROMPTS = "prompts.parquet"
RECORDS = "records"
LOCK = ".lock"

#: Columns of a records shard, in order (arm columns first, as leakstats.records.api.ARM_COLUMNS).
RECORD_COLUMNS = (
    "method", "model", "temperature", "top_p", "top_k", "min_p", "judge",
    "prompt_id", "sample_id", "leaked", "score", "seed", "text", "finish_reason", "n_tokens",
    "logprob", "logprob_raw", "token_ids", "token_logprobs", "token_logprobs_raw",
    "reference_logprob", "reference_logprob_raw", "reference_n_tokens",
)
_GROUP_COLUMNS = ("prompt_id", "sample_id", "judge")


class ConfigMismatchError(LeakstatsError):
    """A resumed run's configuration differs from the one the store was made with."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _diff(old, new, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two JSON-like values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(name)
            else:
                out.extend(_diff(old[key], new[key], name))
        return out
    return [] if old == new else [prefix or "<config>"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def store_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a store (config, provenance, runs) as a dict.

    Raises
    ------
    leakstats.core.errors.InputNotFoundError (a FileNotFoundError)
        If ``path`` is not a store (no ``manifest.json``).
    """
    manifest = Path(path).expanduser() / MANIFEST
    if not manifest.is_file():
        raise InputNotFoundError(
            f"argument 'path': '{manifest.parent}' is not a leakstats store (no {MANIFEST}). "
            f"Fix: pass the --out folder of a `leakstats generate` run."
        )
    with open(manifest, encoding="utf-8") as handle:
        return json.load(handle)


class Store:
    """A store folder opened for writing (one writer at a time, enforced by a lock file).

    Use :meth:`open` to create or resume; write groups with :meth:`write_shard`; call
    :meth:`close` at the end (also on error: it releases the lock and records the run's end).
    """

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest
        self._lock: Path | None = None
        self._seq = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        config: dict,
        provenance: dict,
        prompts: pd.DataFrame,
        resume: bool = False,
        overwrite: bool = False,
    ) -> Store:
        """Create a store, or reopen one to resume it.

        Raises
        ------
        leakstats.core.errors.OutputExistsError (a FileExistsError)
            If ``path`` is a store and neither ``resume`` nor ``overwrite`` is set, or is a
            non-empty folder that is not a store.
        ConfigMismatchError
            If resuming with a config that differs from the store's (names the fields).
        """
        path = cls.check_target(path, resume=resume, overwrite=overwrite)
        is_store = (path / MANIFEST).is_file()
        if is_store and overwrite and not resume:
            cls._check_unlocked(path)
            shutil.rmtree(path)
            is_store = False
        if is_store:
            manifest = store_manifest(path)
            if manifest.get("format") != FORMAT:
                raise LeakstatsError(
                    f"--out: '{path}/{MANIFEST}' is not a leakstats store manifest. Fix: "
                    f"choose another folder."
                )
            differ = _diff(manifest["config"], config)
            if differ:
                details = "; ".join(
                    f"{name}: store has {_get(manifest['config'], name)!r}, this run has "
                    f"{_get(config, name)!r}" for name in differ[:8]
                )
                raise ConfigMismatchError(
                    f"--resume: the run's configuration differs from the store's in "
                    f"{len(differ)} field(s): {details}. Resuming would mix samples of "
                    f"different runs. Fix: rerun with the store's settings, or write to a new "
                    f"--out folder."
                )
            store = cls(path, manifest)
            store._acquire()
        else:
            path.mkdir(parents=True, exist_ok=True)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created": _now(),
                "status": "running",
                "config": config,
                "runs": [],
            }
            store = cls(path, manifest)
            store._save()  # first, so that a crash from here on leaves a resumable store
            store._acquire()
        if not (path / PROMPTS).is_file():
            with atomic_file(path / PROMPTS) as tmp:
                prompts.to_parquet(tmp, index=False)
        for stale in [*path.glob(f"{RECORDS}/arm-*/.part-*.tmp"), *path.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)  # left by a run killed while writing (we hold the lock)
        store.manifest["status"] = "running"
        store.manifest["runs"].append(
            {"started": _now(), "ended": None, "status": "running", "resumed": is_store,
             "samples_written": 0, "provenance": provenance}
        )
        store._save()
        store._seq = store._next_seq()
        return store

    @staticmethod
    def check_target(path: str | os.PathLike, *, resume: bool, overwrite: bool) -> Path:
        """Refuse, before any work, a target that is a file, a foreign non-empty folder, or a
        store without ``resume`` / ``overwrite``. Returns the expanded path."""
        path = Path(path).expanduser()
        is_store = (path / MANIFEST).is_file()
        if path.exists() and not path.is_dir():
            raise OutputExistsError(
                f"--out: '{path}' is a file. Fix: choose a folder for the store."
            )
        if path.exists() and not is_store and any(path.iterdir()):
            raise OutputExistsError(
                f"--out: '{path}' is a non-empty folder that is not a leakstats store; "
                f"leakstats never writes into or deletes such a folder. Fix: choose a new or "
                f"empty folder."
            )
        if is_store and not resume and not overwrite:
            raise OutputExistsError(
                f"--out: '{path}' already holds a leakstats store. Fix: pass resume=True "
                f"(--resume) to continue it, overwrite=True (--overwrite) to delete it and "
                f"start again, or choose another folder."
            )
        return path

    @staticmethod
    def _check_unlocked(path: Path) -> None:
        lock = path / LOCK
        if lock.exists():
            info = json.loads(lock.read_text() or "{}")
            pid, host = int(info.get("pid", -1)), info.get("host")
            if host != socket.gethostname() or _pid_alive(pid):
                raise OutputExistsError(
                    f"--out: '{path}' is being written by another run (pid {pid} on "
                    f"{host}). Fix: wait for it to end, or remove '{lock}' if that run is dead."
                )
            lock.unlink(missing_ok=True)

    def _acquire(self) -> None:
        self._check_unlocked(self.path)
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise OutputExistsError(
                f"--out: '{self.path}' is being written by another run. Fix: wait for it to end."
            ) from None
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()},
                      handle)
        self._lock = lock

    def _save(self) -> None:
        write_json(self.path / MANIFEST, self.manifest)

    def _next_seq(self) -> int:
        seqs = [int(p.name.split("-")[1]) for p in self._shards() if p.name.count("-") >= 2]
        return max(seqs, default=-1) + 1

    def _shards(self) -> list[Path]:
        root = self.path / RECORDS
        return sorted(root.glob("arm-*/part-*.parquet")) if root.is_dir() else []

    # ------------------------------------------------------------------ state

    def completed(self) -> dict[tuple[str, str], int]:
        """{(arm id, prompt id as str): number of samples} of the groups already stored."""
        import pyarrow.parquet as pq

        done: dict[tuple[str, str], int] = {}
        for shard in self._shards():
            arm = shard.parent.name.removeprefix("arm-")
            table = pq.read_table(shard, columns=list(_GROUP_COLUMNS)).to_pandas()
            first_judge = table["judge"] == table["judge"].iloc[0]
            for pid, size in table[first_judge].groupby("prompt_id", sort=False).size().items():
                key = (arm, str(pid))
                if key in done:
                    raise LeakstatsError(
                        f"store '{self.path}': group (arm {arm}, prompt {pid!r}) appears in "
                        f"two shards; the store is corrupt (was it written by two runs at "
                        f"once?). Fix: regenerate into a new folder."
                    )
                done[key] = int(size)
        return done

    # ------------------------------------------------------------------ writing

    def write_shard(self, arm: str, frame: pd.DataFrame) -> Path:
        """Write complete groups of one arm as one shard, atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = self.path / RECORDS / f"arm-{arm}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"part-{self._seq:06d}-{secrets.token_hex(4)}.parquet"
        self._seq += 1
        table = pa.Table.from_pandas(frame, schema=_schema(frame), preserve_index=False)
        with atomic_file(target) as tmp:
            pq.write_table(table, tmp)
        return target

    def close(self, *, status: str, samples_written: int) -> None:
        """Record the run's end (``complete`` / ``interrupted`` / ``failed``), drop the lock."""
        run = self.manifest["runs"][-1]
        run.update(ended=_now(), status=status, samples_written=int(samples_written))
        self.manifest["status"] = "complete" if status == "complete" else "incomplete"
        if status == "complete":
            self.manifest["completed"] = run["ended"]
        try:
            self._save()
        finally:
            if self._lock is not None:
                self._lock.unlink(missing_ok=True)
                self._lock = None


def _get(config: dict, dotted: str):
    value = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return "<absent>"
        value = value[part]
    return value


def _schema(frame: pd.DataFrame):
    import pyarrow as pa

    types = {
        "method": pa.string(), "model": pa.string(), "temperature": pa.float64(),
        "top_p": pa.float64(), "top_k": pa.int64(), "min_p": pa.float64(), "judge": pa.string(),
        "sample_id": pa.int64(), "leaked": pa.bool_(), "score": pa.float64(),
        "seed": pa.int64(), "text": pa.string(), "finish_reason": pa.string(),
        "n_tokens": pa.int32(), "logprob": pa.float64(), "logprob_raw": pa.float64(),
        "token_ids": pa.list_(pa.int32()), "token_logprobs": pa.list_(pa.float32()),
        "token_logprobs_raw": pa.list_(pa.float32()), "reference_logprob": pa.float64(),
        "reference_logprob_raw": pa.float64(), "reference_n_tokens": pa.int32(),
    }
    pid = frame["prompt_id"]
    types["prompt_id"] = pa.int64() if pd.api.types.is_integer_dtype(pid) else pa.string()
    return pa.schema([(c, types[c]) for c in frame.columns])


# --------------------------------------------------------------------------- reading


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
    shards = sorted((root / RECORDS).glob("arm-*/part-*.parquet"))
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


def _arm_text(values) -> str:
    """Key of an arm's decoding values in the manifest's ``arm_index``."""
    return ",".join(f"{float(v):.12g}" for v in values)
