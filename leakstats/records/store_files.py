"""The files of a generation store, and whether they are all still there: the manifest's
shard registry. (The store is written by :mod:`leakstats.generate.store`; reading its records
is a records-layer job, so that every reader checks the registry.)

The manifest's ``shards`` maps every shard a run wrote (its path relative to the store) to its
row count, size and SHA-256. :func:`shard_problems` compares the folder with it (a shard
missing, truncated or changed), :func:`unlisted_shards` finds shard files it does not list,
and :func:`foreign_entries` everything in the folder that leakstats did not write, which
``overwrite`` refuses to delete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from leakstats.core.errors import DataValidationError, LeakstatsError

FORMAT = "leakstats-store"
MANIFEST = "manifest.json"
PROMPTS = "prompts.parquet"
RECORDS = "records"
LOCK = ".lock"
#: Shard files, relative to the store.
SHARD_GLOB = f"{RECORDS}/arm-*/part-*.parquet"


def digest(path: Path) -> str:
    """SHA-256 of a file, in hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def shard_entry(path: Path, rows: int) -> dict:
    """The registry entry of a shard just written."""
    return {"rows": int(rows), "bytes": path.stat().st_size, "sha256": digest(path)}


def read_manifest(path: Path) -> dict | None:
    """The parsed manifest in folder ``path`` if it is a leakstats store's, else None (no
    manifest, or another tool's). A manifest that is not JSON raises, naming the file."""
    file = path / MANIFEST
    if not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LeakstatsError(
            f"'{file}' is not valid JSON ({exc}); it is damaged or not a leakstats manifest. "
            f"Fix: restore it from a backup, or write the store to a new folder."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return manifest


def is_shard_path(rel: str) -> bool:
    """Whether a registry key names a shard inside the store (``records/arm-*/part-*``)."""
    from pathlib import PurePosixPath

    parts = PurePosixPath(rel).parts
    return (isinstance(rel, str) and len(parts) == 3 and parts[0] == RECORDS
            and parts[1].startswith("arm-") and parts[2].startswith("part-")
            and parts[2].endswith(".parquet") and ".." not in parts)


def shard_problems(root: Path, registry: dict) -> dict[str, str]:
    """{relative path: what is wrong} for the listed shards that are missing or changed."""
    problems = {}
    for rel, entry in registry.items():
        if not is_shard_path(rel) or not isinstance(entry, dict):
            problems[rel] = "not a shard of this store (the manifest is damaged)"
            continue
        file = root / rel
        if not file.is_file():
            problems[rel] = f"missing ({entry['rows']} rows listed in the manifest)"
        elif file.stat().st_size != entry["bytes"]:
            problems[rel] = (f"{file.stat().st_size} bytes where the manifest lists "
                             f"{entry['bytes']} (truncated or rewritten)")
        elif digest(file) != entry["sha256"]:
            problems[rel] = "its content differs from the checksum in the manifest"
    return problems


def unlisted_shards(root: Path, registry: dict) -> list[Path]:
    """Shard files in the folder that the registry does not list."""
    return sorted(p for p in root.glob(SHARD_GLOB) if p.relative_to(root).as_posix()
                  not in registry)


def own_files(root: Path, manifest: dict) -> set[Path]:
    """The files of the store that leakstats wrote: manifest, prompts, lock, listed shards
    (every shard file for a manifest from before the registry)."""
    registry = manifest.get("shards")
    present = set(root.glob(SHARD_GLOB))
    # a listed path counts only if it is a shard of this store (a damaged or edited manifest
    # naming '../x' or another file cannot make leakstats delete it)
    shards = present if registry is None else {root / rel for rel in registry} & present
    return {root / MANIFEST, root / PROMPTS, root / LOCK, *shards}


def foreign_entries(root: Path, manifest: dict) -> list[str]:
    """Files and folders in the store that leakstats did not write (relative paths)."""
    own = own_files(root, manifest)
    ours_dirs = {root / RECORDS, *(p.parent for p in own)}
    out = []
    for item in sorted(root.rglob("*")):
        if item in own or item in ours_dirs:
            continue
        if item.is_dir() and item.parent == root / RECORDS and item.name.startswith("arm-") \
                and not any(item.iterdir()):
            continue  # an empty partition folder
        if item.is_file() and item.name.startswith(".") and item.name.endswith(".tmp"):
            continue  # a temporary file of a killed run (ours by name)
        if any(parent in own for parent in item.parents):
            continue
        out.append(item.relative_to(root).as_posix() + ("/" if item.is_dir() else ""))
    # a foreign folder is listed once, not with everything inside it
    return [e for e in out if not any(e != o and o.endswith("/") and e.startswith(o)
                                      for o in out)]


def store_root(path: Path) -> Path | None:
    """The store ``path`` is, or whose records folder it is; None if neither."""
    for root in (path, path.parent if path.name == RECORDS else None):
        if root is not None and read_manifest(root) is not None:
            return root
    return None


def verified_shards(root: Path, manifest: dict) -> list[Path]:
    """The store's shards, after checking them against the manifest's registry: a shard
    missing, truncated or changed, or one the manifest does not list, is refused (naming the
    files), never read around."""
    registry = manifest.get("shards")
    if registry is None:  # a store from before the registry (format_version 1)
        return sorted(root.glob(SHARD_GLOB))
    problems = [f"{rel} is {what}" for rel, what in shard_problems(root, registry).items()]
    problems += [f"{p.relative_to(root).as_posix()} is not listed in the manifest"
                 for p in unlisted_shards(root, registry)]
    if problems:
        raise DataValidationError(
            f"store '{root}' does not hold what its manifest lists: " + "; ".join(problems[:5])
            + (f" ... ({len(problems)} problems in all)" if len(problems) > 5 else "")
            + ". Reading it would silently lose or add samples. Fix: run the same "
            "`leakstats generate` command with --resume: it regenerates the groups of missing "
            "or damaged shards and registers complete unlisted ones."
        )
    return sorted(root / rel for rel in registry)
