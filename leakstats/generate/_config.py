"""Decoding configurations, decoding grids and the seeds derived from a run seed.

Pure Python and numpy: no torch here, so that the store, the CLI and the tests of the
configuration run without the generation extra.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from leakstats.core.checks import check_int, check_number
from leakstats.core.errors import LeakstatsError

__all__ = ["DecodingConfig", "arm_id", "block_seed", "block_sizes", "decoding_grid", "stable_hash"]

#: Seeds are drawn below this bound, so that they fit an int64 column and ``torch.manual_seed``.
SEED_BOUND = 2**63


@dataclass(frozen=True)
class DecodingConfig:
    """One decoding configuration (one *arm* of a run, together with the method and model).

    Parameters
    ----------
    temperature : float, default 1.0
        Softmax temperature, > 0.
    top_p : float, default 1.0
        Nucleus mass in (0, 1]; 1.0 is off.
    top_k : int, default 0
        Keep the k most likely tokens; 0 is off.
    min_p : float, default 0.0
        Drop tokens less likely than ``min_p`` times the most likely one; 0.0 is off.

    Notes
    -----
    The warpers apply in the order of transformers (and vLLM): temperature, top-k, top-p,
    min-p. "Off" values are stored as 0 / 0.0 / 1.0, never as missing values, because the
    analysis layer requires arm columns without missing values.

    Examples
    --------
    >>> DecodingConfig(temperature=0.7, top_p=0.9).arm_values()
    {'temperature': 0.7, 'top_p': 0.9, 'top_k': 0, 'min_p': 0.0}
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0

    def __post_init__(self) -> None:
        t, p, k, m = self.temperature, self.top_p, self.top_k, self.min_p
        t = check_number("temperature", t, low=0, low_open=True,
                         fix="pass e.g. temperature=1.0 (leak@k is about sampling; greedy "
                             "decoding is one deterministic sample, which a low temperature "
                             "such as 0.05 approaches)")
        p = check_number("top_p", p, low=0, high=1, low_open=True,
                         fix="pass e.g. top_p=0.9, or top_p=1.0 for no nucleus truncation")
        k = check_int("top_k", k, 0, fix="pass e.g. top_k=50, or top_k=0 for no top-k "
                                         "truncation")
        m = check_number("min_p", m, low=0, high=1, high_open=True,
                         fix="pass e.g. min_p=0.05, or min_p=0.0 for no min-p truncation")
        object.__setattr__(self, "temperature", t)
        object.__setattr__(self, "top_p", p)
        object.__setattr__(self, "top_k", k)
        object.__setattr__(self, "min_p", m)

    def arm_values(self) -> dict:
        """The arm columns of this configuration, as written to the records."""
        return asdict(self)

    def is_plain(self) -> bool:
        """True when sampling is from the model distribution itself (T = 1, no truncation)."""
        return self.temperature == 1.0 and self.top_p == 1.0 and self.top_k == 0 and not self.min_p


def _as_list(value, name: str) -> list:
    if isinstance(value, str):
        raise LeakstatsError(
            f"argument {name!r}: expected a number or a list of numbers, got the string "
            f"{value!r}. Fix: pass e.g. {name}=1.0 or {name}=[0.7, 1.0]."
        )
    if isinstance(value, Iterable):
        values = list(value)
        if not values:
            raise LeakstatsError(
                f"argument {name!r}: the list is empty. Fix: give at least one value."
            )
        return values
    return [value]


def decoding_grid(
    temperature: float | Sequence[float] = 1.0,
    top_p: float | Sequence[float] = 1.0,
    top_k: int | Sequence[int] | None = 0,
    min_p: float | Sequence[float] | None = 0.0,
) -> list[DecodingConfig]:
    """All combinations of the given decoding values, in a stable order, without repeats.

    ``None`` for ``top_k`` or ``min_p`` means off (0).

    Examples
    --------
    >>> [c.temperature for c in decoding_grid(temperature=[0.7, 1.0], top_p=0.9)]
    [0.7, 1.0]
    >>> len(decoding_grid(temperature=[1.0, 1.0], top_k=[0, 50]))
    2
    """
    axes = [
        _as_list(temperature, "temperature"),
        _as_list(top_p, "top_p"),
        [0 if v is None else v for v in _as_list(top_k, "top_k")],
        [0.0 if v is None else v for v in _as_list(min_p, "min_p")],
    ]
    seen: dict[DecodingConfig, None] = {}
    for t, p, k, m in itertools.product(*axes):
        seen.setdefault(DecodingConfig(temperature=t, top_p=p, top_k=k, min_p=m), None)
    return list(seen)


def stable_hash(value) -> int:
    """A 64-bit hash of a JSON-able value that is the same in every process and platform."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def arm_id(arm: dict) -> str:
    """A short stable identifier of an arm (its decoding values, method and model).

    Examples
    --------
    >>> arm_id({"method": "m", "temperature": 1.0}) == arm_id({"temperature": 1.0, "method": "m"})
    True
    """
    return f"{stable_hash(arm):016x}"[:12]


def block_seed(seed: int, prompt_id, arm: str, block: int) -> int:
    """The seed of one generation call: a block of samples of one prompt in one arm.

    It depends only on the run seed, the prompt id, the arm and the block index, never on the
    order in which groups run, so that resuming or reordering a run reproduces its samples.

    Examples
    --------
    >>> block_seed(0, "q1", "abc", 0) == block_seed(0, "q1", "abc", 0)
    True
    >>> block_seed(0, "q1", "abc", 0) != block_seed(0, "q1", "abc", 1)
    True
    """
    entropy = [int(seed), stable_hash(str(prompt_id)), stable_hash(arm), int(block)]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) % SEED_BOUND)


def block_sizes(n: int, batch_size: int) -> list[int]:
    """Split ``n`` samples into blocks of at most ``batch_size``.

    Examples
    --------
    >>> block_sizes(10, 4)
    [4, 4, 2]
    """
    full, rest = divmod(n, batch_size)
    return [batch_size] * full + ([rest] if rest else [])
