"""The report folder: written whole into a temporary folder, then moved into place; an
existing folder is replaced only when its manifest says ``leakstats report`` wrote it and it
holds nothing else."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from leakstats.core.errors import InputNotFoundError, OutputExistsError
from leakstats.core.files import temporary_name

#: The manifest every report folder carries.
MANIFEST = "manifest.json"
KIND = "leakstats-report"


def _owned(folder: Path) -> list[str] | None:
    """The files the report manifest of ``folder`` lists, or None when it has none."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        return None
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return [*files, MANIFEST]


def check_target(out: Path, overwrite: bool, inputs: list[Path]) -> None:
    """Refuse, before any work, a target that is an input, holds an input, or exists without
    ``overwrite`` (or is not a report folder this function may replace)."""
    target = out.expanduser().resolve()
    for source in inputs:
        source = Path(source).expanduser().resolve()
        if target == source or target in source.parents or source in target.parents:
            raise OutputExistsError(
                f"--out: '{out}' is, holds or lies inside an input of this report; leakstats "
                f"never writes over its input. Fix: choose another folder.")
    if not out.exists():
        if not out.parent.is_dir():
            raise InputNotFoundError(
                f"--out: the folder '{out.parent}' does not exist. Fix: create it first.")
        return
    if not out.is_dir():
        raise OutputExistsError(f"--out: '{out}' is a file. Fix: choose a folder path.")
    if not any(out.iterdir()):
        return
    owned = _owned(out)
    if owned is None:
        raise OutputExistsError(
            f"--out: '{out}' exists and is not a leakstats report folder (no {MANIFEST} of "
            f"kind {KIND!r}); leakstats replaces only folders it wrote. Fix: choose a new "
            f"folder.")
    if not overwrite:
        raise OutputExistsError(
            f"--out: the report folder '{out}' exists. Fix: pass overwrite=True (CLI: "
            f"--overwrite) to replace it, or choose another folder.")
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    foreign = [p for p in present if p not in owned]
    if foreign:
        raise OutputExistsError(
            f"--out: '{out}' holds files its report manifest does not list ({foreign[:5]}); "
            f"leakstats deletes only what it wrote. Fix: move those files out, or choose "
            f"another folder.")


def publish(tmp: Path, out: Path) -> None:
    """Move the finished temporary folder ``tmp`` to ``out`` (replacing a checked report)."""
    if out.exists():
        old = temporary_name(out)
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def new_temporary(out: Path) -> Path:
    """A fresh temporary folder beside ``out``."""
    tmp = temporary_name(out)
    tmp.mkdir(parents=True)
    return tmp
