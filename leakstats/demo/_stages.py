"""Cached stages in a run folder: a stage re-runs when its configuration, or that of a stage it
depends on, changes; otherwise its outputs are reused.

Each stage has a folder (``<run>/<name>``) and a marker ``<run>/stages/<name>.json``. The marker
holds the stage's *key*, a hash of its configuration and of its dependencies' keys, so a change
anywhere upstream changes every key downstream. A marker with ``"status": "running"`` is left by
an interrupted stage: with the same key the stage resumes in its folder (the generation store
and the training functions continue where they stopped); with another key the folder is removed
first, so no output of an old configuration survives.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakstats.core import files
from leakstats.core.errors import LeakstatsError

__all__ = ["MARKER", "RunFolder", "Stage", "StageRecord"]

#: The file that marks a folder as a demo run folder.
MARKER = "demo.json"
#: What a run folder may hold; ``fresh`` removes exactly these.
OWNED = (MARKER, "stages", "models", "greedy", "samples", "analysis", "report")


def _json_default(value: Any):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def stable_key(value: Any) -> str:
    """A 16-hex-digit hash of a JSON-able value, stable across processes.

    Examples
    --------
    >>> stable_key({"a": 1, "b": [1, 2]}) == stable_key({"b": [1, 2], "a": 1})
    True
    """
    text = json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_json(path, value, sort_keys=True, default=_json_default)


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes
    ----------
    name : str
        Unique name; also the output folder, relative to the run folder (``"models/npo"``).
    config : mapping
        JSON-able settings that define the stage's outputs.
    deps : tuple of str
        Names of the stages whose outputs it reads.
    run : callable
        ``run(folder, outputs_of_deps) -> dict``: does the work inside ``folder`` and returns
        JSON-able outputs (e.g. paths relative to the run folder) for the stages after it.
    """

    name: str
    config: Mapping[str, Any]
    run: Callable[[Path, dict[str, dict]], dict]
    deps: tuple[str, ...] = ()


@dataclass
class StageRecord:
    """What happened to a stage in this run."""

    name: str
    key: str
    cached: bool
    seconds: float
    outputs: dict = field(default_factory=dict)


def _files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative paths."""
    return sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file())


class RunFolder:
    """A demo run folder: checks it, runs stages in it, keeps their markers.

    Parameters
    ----------
    path : path
        The folder (created if missing).
    fresh : bool
        Remove the outputs of an earlier run first (only what the demo writes).
    log : callable, optional
        Receives one line per stage event.
    """

    def __init__(self, path: str | os.PathLike, *, fresh: bool = False,
                 log: Callable[[str], None] | None = None, info: Mapping | None = None) -> None:
        self.path = Path(path).expanduser()
        self.log = log or (lambda line: None)
        self.records: dict[str, StageRecord] = {}
        self._check(fresh)
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / MARKER
        if not marker.exists():
            write_json(marker, {"kind": "leakstats-demo", "created": time.time(),
                                **dict(info or {})})

    def _check(self, fresh: bool) -> None:
        path = self.path
        if path.exists() and not path.is_dir():
            raise LeakstatsError(
                f"--out: '{path}' exists and is not a folder. Fix: choose another output folder."
            )
        if not path.exists() or not any(path.iterdir()):
            return
        marker = path / MARKER
        kind = None
        if marker.is_file():
            try:
                kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
            except (OSError, ValueError, AttributeError):
                kind = None
        if kind != "leakstats-demo":
            shown = sorted(p.name for p in path.iterdir())[:5]
            raise LeakstatsError(
                f"--out: '{path}' is not empty ({', '.join(shown)}...) and is not a leakstats "
                f"demo folder (no valid {MARKER}); the demo never writes into, or deletes, "
                f"other folders. Fix: choose a new or empty folder with --out (out=...)."
            )
        if fresh:
            markers = {}
            for file in sorted((path / "stages").glob("*.json")):
                try:
                    marker = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(marker, dict) and isinstance(marker.get("name"), str):
                    markers[marker["name"]] = marker
            doomed = [f for name, m in markers.items() for f in self._own_files(name, m)]
            doomed += [path / "stages" / f"{n.replace('/', '__')}.json" for n in markers]
            self._remove(doomed, [path / n for n in OWNED if n != MARKER])

    # ------------------------------------------------------------------ removal

    def _own_files(self, name: str, marker: dict | None) -> list[Path]:
        """The files of stage ``name`` that the demo wrote: those its marker lists, or, for a
        stage that was interrupted (no list yet), those written after it started."""
        folder = self.path / name
        if not marker or not folder.is_dir():
            return []
        if "files" in marker:  # only files inside the stage folder, whatever the marker says
            inside = folder.resolve()
            return [folder / f for f in marker["files"] if isinstance(f, str)
                    and (folder / f).is_file() and inside in (folder / f).resolve().parents]
        started = float(marker.get("started", float("inf"))) - 2.0
        return [folder / f for f in _files(folder) if (folder / f).stat().st_mtime >= started]

    def _remove(self, files: list[Path], folders: list[Path]) -> None:
        """Delete ``files`` and then the folders among ``folders`` that are left empty; refuse,
        before deleting anything, when ``folders`` hold files not in ``files``."""
        own = set(files)
        unknown = sorted(str(f.relative_to(self.path)) for d in folders if d.is_dir()
                         for f in d.rglob("*") if not f.is_dir() and f not in own)
        if unknown:
            shown = ", ".join(unknown[:6]) + (f" ... ({len(unknown)} in all)"
                                              if len(unknown) > 6 else "")
            raise LeakstatsError(
                f"--out: '{self.path}' holds files the demo did not write ({shown}); the demo "
                f"deletes only its own outputs. Fix: move them out of the run folder, or use "
                f"another --out folder."
            )
        for file in own:
            file.unlink(missing_ok=True)
        for folder in folders:
            if folder.is_dir():
                for sub in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
                    sub.rmdir()
                folder.rmdir()

    # ------------------------------------------------------------------ stages

    def marker_path(self, name: str) -> Path:
        return self.path / "stages" / f"{name.replace('/', '__')}.json"

    def key_of(self, stage: Stage) -> str:
        missing = [d for d in stage.deps if d not in self.records]
        if missing:
            raise LeakstatsError(f"stage {stage.name!r} runs before its dependencies {missing} "
                                 f"(a bug in the pipeline's stage order).")
        deps = {d: self.records[d].key for d in stage.deps}
        return stable_key({"stage": stage.name, "config": stage.config, "deps": deps})

    def read_marker(self, name: str) -> dict | None:
        path = self.marker_path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def run(self, stage: Stage) -> StageRecord:
        """Run ``stage`` unless its outputs for the same key are there; return its record."""
        key = self.key_of(stage)
        folder = self.path / stage.name
        marker = self.read_marker(stage.name)
        if marker and marker.get("key") == key and marker.get("status") == "done" and \
                folder.exists():
            record = StageRecord(stage.name, key, True, float(marker.get("seconds", 0.0)),
                                 dict(marker.get("outputs") or {}))
            self.records[stage.name] = record
            self.log(f"{stage.name}: up to date (cached)")
            return record
        resume = bool(marker and marker.get("key") == key and marker.get("status") == "running")
        if folder.exists() and not resume:
            why = "its configuration changed" if marker else "no marker says what made it"
            self.log(f"{stage.name}: removing old outputs ({why})")
            self._remove(self._own_files(stage.name, marker), [folder])
        folder.mkdir(parents=True, exist_ok=True)
        write_json(self.marker_path(stage.name), {
            "name": stage.name, "key": key, "status": "running", "config": stage.config,
            "deps": {d: self.records[d].key for d in stage.deps}, "started": time.time(),
        })
        self.log(f"{stage.name}: {'resuming' if resume else 'running'}")
        start = time.perf_counter()
        outputs = stage.run(folder, {d: self.records[d].outputs for d in stage.deps}) or {}
        seconds = time.perf_counter() - start
        write_json(self.marker_path(stage.name), {
            "name": stage.name, "key": key, "status": "done", "config": stage.config,
            "deps": {d: self.records[d].key for d in stage.deps}, "seconds": seconds,
            "finished": time.time(), "outputs": outputs, "files": _files(folder),
        })
        record = StageRecord(stage.name, key, False, seconds, dict(outputs))
        self.records[stage.name] = record
        self.log(f"{stage.name}: done in {seconds:.1f} s")
        return record
