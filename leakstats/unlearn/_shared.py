"""Torch-free pieces that :mod:`leakstats.unlearn._train` and :mod:`leakstats.unlearn._engine`
both import: the name of a stage folder's JSON, the SHA-256 of a folder's weight files, and the
index batches of a training run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from leakstats.unlearn._data import TrainConfig, digest

#: The JSON every trained folder holds (its presence marks a finished leakstats stage).
TRAIN_JSON = "leakstats_train.json"


def _weights_sha256(folder: Path) -> str | None:
    from leakstats.generate.models import file_sha256

    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        return None
    if len(files) == 1:
        return file_sha256(files[0])
    return digest([file_sha256(f) for f in files])


# --------------------------------------------------------------------------- index batches


def _schedule(n_items: int, config: TrainConfig, rng: np.random.Generator) -> list[list[int]]:
    """Index batches over ``n_items``: reshuffled each epoch; ``steps`` cycles epochs."""
    size = min(config.batch_size, n_items)
    batches: list[list[int]] = []
    total = config.steps
    epochs = config.epochs if total is None else math.inf
    epoch = 0
    while epoch < epochs and (total is None or len(batches) < total):
        order = rng.permutation(n_items)
        for start in range(0, n_items, size):
            batches.append(order[start: start + size].tolist())
            if total is not None and len(batches) == total:
                break
        epoch += 1
    return batches


def _cycle(n_items: int, count: int, size: int, rng: np.random.Generator) -> list[list[int]]:
    """``count`` batches of ``size`` drawn by cycling through reshuffled passes."""
    size = min(size, n_items)
    out, order = [], []
    for _ in range(count):
        batch = []
        while len(batch) < size:
            if not order:
                order = rng.permutation(n_items).tolist()
            batch.append(order.pop())
        out.append(batch)
    return out
