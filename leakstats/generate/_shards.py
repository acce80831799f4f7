"""The shard writer of a run: it buffers complete (prompt, arm) groups per arm and writes them
through the store as shards, and sums up what it wrote."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from leakstats.generate.store import RECORD_COLUMNS, Store

__all__ = ["ShardWriter"]

#: The arm columns, ``judge`` included: one summary row per value of these.
_ARM_KEYS = list(RECORD_COLUMNS[:7])


def _summarise(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby(_ARM_KEYS, sort=False)
    return grouped.agg(n_prompts=("prompt_id", "nunique"), n_samples=("sample_id", "size"),
                       n_leaked=("leaked", "sum"), tokens=("n_tokens", "sum")).reset_index()


class ShardWriter:
    """Buffer groups and write them as one shard per arm through ``store``.

    :meth:`flush_if_due` writes when ``shard_samples`` rows are buffered or ``flush_seconds``
    have passed since the last write; :meth:`flush` writes now. A group is never split between
    shards, and an arm's groups leave the buffer as soon as their shard is written, so a flush
    that fails part-way and is called again writes no group twice. ``on_group`` is called with
    the number of groups written so far after each flush that wrote something.
    """

    def __init__(self, store: Store, *, shard_samples: int, flush_seconds: float,
                 on_group: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.shard_samples = shard_samples
        self.flush_seconds = flush_seconds
        self.on_group = on_group
        #: Groups and samples (each sample once, whatever the number of judges) written.
        self.groups_written = 0
        self.samples_written = 0
        self._buffers: dict[str, list[tuple[pd.DataFrame, int]]] = {}
        self._rows = 0
        self._summaries: list[pd.DataFrame] = []
        self._last_flush = time.perf_counter()

    def add(self, arm: str, frame: pd.DataFrame, *, samples: int) -> None:
        """Buffer one complete group of arm ``arm``: its records and its number of samples."""
        self._buffers.setdefault(arm, []).append((frame, samples))
        self._rows += len(frame)

    def flush_if_due(self) -> None:
        """:meth:`flush` if enough rows are buffered or the last write is old enough."""
        if (self._rows >= self.shard_samples
                or time.perf_counter() - self._last_flush >= self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        """Write every buffered arm as one shard."""
        self._last_flush = time.perf_counter()
        if not self._buffers:
            return
        while self._buffers:
            arm, groups = next(iter(self._buffers.items()))
            frame = pd.concat([g for g, _ in groups], ignore_index=True)
            self.store.write_shard(arm, frame)
            del self._buffers[arm]
            self._rows -= len(frame)
            self._summaries.append(_summarise(frame))
            self.groups_written += len(groups)
            self.samples_written += sum(s for _, s in groups)
        if self.on_group is not None:
            self.on_group(self.groups_written)

    def summary(self) -> pd.DataFrame:
        """One row per arm and judge of what was written: the arm columns, ``n_prompts``,
        ``n_samples``, ``n_leaked`` and ``mean_tokens``."""
        out = (pd.concat(self._summaries, ignore_index=True) if self._summaries
               else pd.DataFrame(columns=["judge", "n_prompts", "n_samples", "n_leaked"]))
        if len(out):
            out = out.groupby(_ARM_KEYS, sort=False, as_index=False).sum()
            out["mean_tokens"] = out.pop("tokens") / out["n_samples"]
        return out
