"""Atomic file and folder writing: a target is either wholly written or untouched.

Every writer in leakstats goes through these helpers. A file is written under a hidden
temporary name beside its target (``.<name>.<random>.tmp``), flushed to disk and renamed over
the target with :func:`os.replace`, so a crash or an exception never leaves a half-written file
and never removes what was there before. On failure the temporary is removed and the error is
raised unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_file", "atomic_folder", "temporary_name", "write_json"]


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for its temporary copy."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on a clean exit it replaces ``path`` atomically.

    The temporary file exists (empty) when the block starts, created with the process umask so
    the final file gets the usual permissions. On an exception it is removed and ``path`` is
    left as it was.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_file(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    tmp = temporary_name(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike, *, done: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """Yield a temporary folder to fill; on a clean exit it is renamed to ``path``.

    ``path`` must not exist or be an empty folder. When the rename fails because another
    process created ``path`` meanwhile and ``done(path)`` says its copy is complete, the
    temporary folder is dropped and that copy is kept. On an exception the temporary folder is
    removed.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_folder(target) as tmp:
    ...     _ = (tmp / "weights.bin").write_bytes(b"x")
    >>> sorted(p.name for p in target.iterdir())
    ['weights.bin']
    """
    path = Path(path)
    tmp = temporary_name(path)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        try:
            os.replace(tmp, path)
        except OSError:
            if done is None or not done(path):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, payload: Any, **dumps: Any) -> Path:
    """Write ``payload`` as indented JSON (a trailing newline) to ``path`` atomically.

    Keyword arguments go to :func:`json.dumps`; ``indent=2`` and ``default=str`` unless given.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = write_json(target, {"a": 1})
    >>> target.read_text()
    '{\\n  "a": 1\\n}\\n'
    """
    path = Path(path)
    dumps.setdefault("indent", 2)
    dumps.setdefault("default", str)
    text = json.dumps(payload, **dumps) + "\n"
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
