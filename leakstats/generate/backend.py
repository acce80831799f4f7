"""The interface every sampling backend implements (transformers, vLLM, ...), torch-free.

A backend turns *jobs* (one block of samples of one prompt under one decoding config, with
its seed) into :class:`SampleBatch` objects, and scores given continuations by teacher forcing.
The runner (:func:`leakstats.generate.generate_samples`) hands it a list of jobs at a time:
the transformers backend runs them one by one, vLLM submits them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from leakstats.generate._config import DecodingConfig

__all__ = ["FINISH_REASONS", "Backend", "SampleBatch", "SampleJob"]

#: ``eos``: the model ended the answer; ``stop``: a stop string ended it; ``length``: it hit
#: ``max_new_tokens``.
FINISH_REASONS = ("eos", "stop", "length")


@dataclass(frozen=True)
class SampleJob:
    """One generation call: ``n`` samples of one prompt under one config, from one seed."""

    prompt_ids: tuple[int, ...]
    config: DecodingConfig
    n: int
    seed: int
    max_new_tokens: int
    stop: tuple[str, ...] = ()


@dataclass
class SampleBatch:
    """The samples of one job. Every list has one entry per sample.

    ``token_ids``, ``token_logprobs`` (processed: under the sampling distribution, after
    temperature and truncation) and ``token_logprobs_raw`` (under the model: log-softmax of the
    raw logits at temperature 1) have one value per *generated* token, the final EOS or the
    token that completed a stop string included; positions after the end are dropped (that is
    how they are masked). ``token_logprobs`` / ``token_logprobs_raw`` are ``None`` when not
    recorded.
    """

    token_ids: list[np.ndarray]
    text: list[str]
    finish_reason: list[str]
    seed: list[int]
    token_logprobs: list[np.ndarray] | None = None
    token_logprobs_raw: list[np.ndarray] | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.token_ids)


@runtime_checkable
class Backend(Protocol):
    """What :func:`~leakstats.generate.generate_samples` needs from a sampling backend."""

    #: "hf", "vllm", ...
    name: str

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of the prompt as the model sees it (chat template applied if used)."""
        ...

    def encode_text(self, text: str) -> list[int]:
        """Token ids of a continuation (no special tokens), e.g. a reference answer."""
        ...

    def sample(
        self, jobs: Sequence[SampleJob], *, logprobs: bool = True, raw_logprobs: bool = True
    ) -> list[SampleBatch]:
        """Run the jobs; return one batch per job, in order."""
        ...

    def score(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]],
        config: DecodingConfig,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Teacher-forced per-token log-probs of each continuation after the prompt:
        (processed under ``config``, raw)."""
        ...

    def provenance(self) -> dict:
        """Model name, file and hash, device, library versions: written to the manifest."""
        ...
