"""One (prompt, arm) group of a run: its seeded sampling jobs, the check of what the backend
returned for them, its reference log-probability, and its judged records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leakstats.core.errors import LeakstatsError
from leakstats.generate._config import DecodingConfig, block_seed, block_sizes
from leakstats.generate.backend import SampleBatch, SampleJob
from leakstats.generate.store import RECORD_COLUMNS

__all__ = ["ReferenceScores", "check_batches", "group_frame", "group_jobs"]


def group_jobs(prompt_ids: tuple[int, ...], config: DecodingConfig, *, n: int, batch_size: int,
               seed: int, prompt_id, arm: str, max_new_tokens: int,
               stop: tuple[str, ...]) -> list[SampleJob]:
    """The jobs of one group: ``n`` samples in blocks of ``batch_size``, block ``b`` seeded by
    :func:`~leakstats.generate._config.block_seed` (run seed, prompt, arm, b)."""
    return [
        SampleJob(prompt_ids, config, size, block_seed(seed, prompt_id, arm, b), max_new_tokens,
                  stop)
        for b, size in enumerate(block_sizes(n, batch_size))
    ]


def check_batches(backend: str, jobs: Sequence[SampleJob], batches: Sequence[SampleBatch]) -> None:
    """Raise unless the backend returned one batch per job holding the job's ``n`` samples (a
    group with fewer samples must not reach the store)."""
    if len(batches) != len(jobs):
        raise LeakstatsError(
            f"backend {backend!r}: {len(jobs)} sampling jobs returned {len(batches)} batches. "
            f"Fix: make the backend's sample() return one batch per job, in order."
        )
    for index, (job, batch) in enumerate(zip(jobs, batches, strict=True)):
        sizes = {len(batch.token_ids), len(batch.text), len(batch.finish_reason),
                 len(batch.seed)}
        if sizes != {job.n}:
            raise LeakstatsError(
                f"backend {backend!r}: job {index} asked for {job.n} samples; its batch holds "
                f"{sorted(sizes)} (token_ids, text, finish_reason, seed). Fix: make the "
                f"backend's sample() return job.n samples per job."
            )


class ReferenceScores:
    """Teacher-forced log-probability of each prompt's reference answer under every arm, one
    prompt kept at a time: (processed total, raw total, token count), NaN when off or empty."""

    def __init__(self, engine, grid: Sequence[DecodingConfig], *, enabled: bool) -> None:
        self.engine = engine
        self.grid = grid
        self.enabled = enabled
        self._prompt: int | None = None
        self._scores: list[tuple[float, float, int]] = []

    def get(self, prompt: int, prompt_ids, reference, arm: int) -> tuple[float, float, int]:
        """The scores of row ``prompt`` (token ids ``prompt_ids``, answer ``reference``)
        under arm number ``arm``."""
        if not self.enabled:
            return (np.nan, np.nan, 0)
        if prompt != self._prompt:
            ref_ids = self.engine.encode_text(reference) if reference else []
            if not ref_ids:
                self._scores = [(np.nan, np.nan, 0)] * len(self.grid)
            else:
                processed, raw = self.engine.score(prompt_ids, [ref_ids], self.grid)
                total_raw = float(np.sum(raw[0], dtype=np.float64))
                self._scores = [(float(np.sum(p[0], dtype=np.float64)), total_raw, len(ref_ids))
                                for p in processed]
            self._prompt = prompt
        return self._scores[arm]


def group_frame(
    batch_list: list[SampleBatch],
    *,
    arm: dict,
    judges: Sequence,
    item: dict,
    prompt_id,
    reference: tuple[float, float, int],
) -> tuple[pd.DataFrame, int]:
    """The records of one group (one row per sample and judge, :data:`RECORD_COLUMNS`) and the
    number of tokens generated."""
    token_ids = [t for b in batch_list for t in b.token_ids]
    n = len(token_ids)
    texts = [t for b in batch_list for t in b.text]

    def joined(attr: str):
        parts = [getattr(b, attr) for b in batch_list]
        return None if any(p is None for p in parts) else [x for p in parts for x in p]

    proc, raw = joined("token_logprobs"), joined("token_logprobs_raw")
    base = {
        "prompt_id": [prompt_id] * n,
        "sample_id": np.arange(n, dtype=np.int64),
        "seed": np.array([s for b in batch_list for s in b.seed], dtype=np.int64),
        "text": texts,
        "finish_reason": [r for b in batch_list for r in b.finish_reason],
        "n_tokens": np.array([len(t) for t in token_ids], dtype=np.int32),
        "logprob": [float(np.sum(x, dtype=np.float64)) for x in proc] if proc else [np.nan] * n,
        "logprob_raw": [float(np.sum(x, dtype=np.float64)) for x in raw] if raw else [np.nan] * n,
        "token_ids": token_ids,
        "token_logprobs": proc if proc is not None else [None] * n,
        "token_logprobs_raw": raw if raw is not None else [None] * n,
        "reference_logprob": [reference[0]] * n,
        "reference_logprob_raw": [reference[1]] * n,
        "reference_n_tokens": [reference[2]] * n,
    }
    frames = []
    items = [item] * n
    for judge in judges:
        scores, labels = judge.judge(texts, items)
        frame = pd.DataFrame(base)
        for key, value in arm.items():
            frame[key] = value
        frame["judge"] = judge.name
        frame["score"] = scores
        frame["leaked"] = labels
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.loc[:, list(RECORD_COLUMNS)], int(sum(len(t) for t in token_ids))
