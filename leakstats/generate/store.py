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
import socket
from pathlib import Path

import pandas as pd

from leakstats.core.errors import (
    InputNotFoundError,
    LeakstatsError,
    LeakstatsWarning,
    OutputExistsError,
    warn,
)
from leakstats.core.files import atomic_file, write_json
from leakstats.records.store_files import (
    FORMAT,
    LOCK,
    MANIFEST,
    PROMPTS,
    RECORDS,
    foreign_entries,
    is_shard_path,
    own_files,
    read_manifest,
    shard_entry,
    shard_problems,
    unlisted_shards,
)

__all__ = [
    "FORMAT_VERSION",
    "RECORD_COLUMNS",
    "ConfigMismatchError",
    "Store",
    "store_manifest",
]

FORMAT_VERSION = 2  # 2: the manifest lists every shard (rows, bytes, SHA-256)

#: Columns of a records shard, in order (the arm columns a store has first, in the order of
#: leakstats.records.api.ARM_COLUMNS).
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
    root = Path(path).expanduser()
    manifest = read_manifest(root)
    if manifest is None:
        what = "its manifest.json is not a leakstats store's" if (
            root / MANIFEST).is_file() else f"no {MANIFEST}"
        raise InputNotFoundError(
            f"argument 'path': '{root}' is not a leakstats store ({what}). "
            f"Fix: pass the --out folder of a `leakstats generate` run."
        )
    return manifest


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
        manifest = read_manifest(path)
        is_store = manifest is not None
        if is_store and overwrite and not resume:
            cls._check_unlocked(path)
            _remove_store(path, manifest)
            is_store = False
        if is_store:
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
            try:  # a resume that fails leaves the store as it was: manifest unsaved, unlocked
                store._reconcile()
                store.completed()
            except BaseException:
                store._release()
                raise
        else:
            path.mkdir(parents=True, exist_ok=True)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created": _now(),
                "status": "running",
                "config": config,
                "runs": [],
                "shards": {},
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
        if path.exists() and not path.is_dir():
            raise OutputExistsError(
                f"--out: '{path}' is a file. Fix: choose a folder for the store."
            )
        is_store = read_manifest(path) is not None if path.is_dir() else False
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
            try:
                info = json.loads(lock.read_text(encoding="utf-8") or "{}")
                pid, host = int(info.get("pid", -1)), info.get("host")
            except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
                raise OutputExistsError(
                    f"--out: the lock file '{lock}' is damaged, so leakstats cannot tell "
                    f"whether another run is writing this store. Fix: make sure no run is, "
                    f"then remove '{lock}'."
                ) from None
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
        rel = target.relative_to(self.path).as_posix()
        self.manifest.setdefault("shards", {})[rel] = shard_entry(target, len(frame))
        self._save()
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
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.unlink(missing_ok=True)
            self._lock = None

    def _reconcile(self) -> None:
        """Before a resume: drop from the registry the shards that are missing or damaged
        (deleting the damaged ones, which the manifest says this store wrote), so that their
        groups are generated again; register the shards a run killed between writing a shard
        and saving the manifest left unlisted; refuse other unknown shard files."""
        import pyarrow.parquet as pq

        registry = self.manifest.setdefault("shards", None)
        if registry is None:  # a store from before the registry: take its shards as they are
            registry = self.manifest["shards"] = {}
            self.manifest["format_version"] = FORMAT_VERSION
            for shard in sorted(self.path.glob(f"{RECORDS}/arm-*/part-*.parquet")):
                rows = pq.read_metadata(shard).num_rows
                registry[shard.relative_to(self.path).as_posix()] = shard_entry(shard, rows)
        for rel, problem in shard_problems(self.path, registry).items():
            warn(f"store '{self.path}': shard {rel} is {problem}; its groups are "
                          f"generated again.", LeakstatsWarning)
            if is_shard_path(rel):  # never a path outside the store's shards
                (self.path / rel).unlink(missing_ok=True)
            del registry[rel]
        for shard in unlisted_shards(self.path, registry):
            try:
                rows = pq.read_metadata(shard).num_rows
            except Exception as exc:  # noqa: BLE001 - any unreadable file is refused below
                raise LeakstatsError(
                    f"store '{self.path}': '{shard.relative_to(self.path)}' is not listed in "
                    f"the manifest and cannot be read ({type(exc).__name__}: {exc}); "
                    f"leakstats does not delete files its manifest does not list. Fix: move "
                    f"it out of the store, then resume."
                ) from None
            registry[shard.relative_to(self.path).as_posix()] = shard_entry(shard, rows)


def _remove_store(path: Path, manifest: dict) -> None:
    """Delete the files the manifest says this store wrote, and nothing else: a store with
    files leakstats did not write is refused (they are listed), before anything is deleted."""
    foreign = foreign_entries(path, manifest)
    if foreign:
        shown = ", ".join(foreign[:8]) + (f" ... ({len(foreign)} in all)" if len(foreign) > 8
                                          else "")
        raise OutputExistsError(
            f"--overwrite: '{path}' holds files leakstats did not write ({shown}); leakstats "
            f"deletes only what its manifest lists. Fix: move them out of the folder, or "
            f"write the new store to another folder."
        )
    for file in sorted(own_files(path, manifest), reverse=True):
        file.unlink(missing_ok=True)
    for tmp in [*path.glob(f"{RECORDS}/arm-*/.*.tmp"), *path.glob(".*.tmp")]:
        tmp.unlink(missing_ok=True)
    for folder in sorted(path.glob(f"{RECORDS}/arm-*")):
        folder.rmdir()
    if (path / RECORDS).is_dir():
        (path / RECORDS).rmdir()


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


def _arm_text(values) -> str:
    """Key of an arm's decoding values in the manifest's ``arm_index``."""
    return ",".join(f"{float(v):.12g}" for v in values)
