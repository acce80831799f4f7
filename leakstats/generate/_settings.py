"""The validated options of a :func:`~leakstats.generate.generate_samples` run, and the config
and provenance that the run writes to its store's manifest."""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leakstats.core.checks import check_int, check_number
from leakstats.core.errors import LeakstatsError
from leakstats.generate._config import DecodingConfig
from leakstats.generate.judges import Judge, make_judge
from leakstats.generate.store import _arm_text

__all__ = ["RunSettings", "run_provenance"]


def _stop_strings(stop) -> tuple[str, ...]:
    if isinstance(stop, str):
        stop = (stop,)
    stop = tuple(stop or ())
    if not all(isinstance(s, str) and s for s in stop):
        raise LeakstatsError(
            f"argument 'stop': expected a list of non-empty strings, got {stop!r}. Fix: pass "
            f"e.g. stop=['\\n\\n'] or stop=[]."
        )
    return stop


def _judges(judge) -> tuple[Judge, ...]:
    specs = judge if isinstance(judge, list | tuple) else [judge]
    if not specs:
        raise LeakstatsError("argument 'judge': no judge given. Fix: pass e.g. judge='rouge:0.4'.")
    judges = tuple(make_judge(j) for j in specs)
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise LeakstatsError(
            f"argument 'judge': two judges have the same name in {names}. Fix: drop the repeat."
        )
    return judges


def _prompt_digest(prompts: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for pid, prompt, ref in prompts[["prompt_id", "prompt", "reference"]].itertuples(index=False):
        digest.update(repr((str(pid), prompt, ref)).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class RunSettings:
    """The options of one run that say which samples it draws and how it stores them.

    Attributes
    ----------
    n : int
        Samples per prompt and arm.
    max_new_tokens : int
    batch_size : int
        Samples per generation call, at most ``n``.
    stop : tuple of str
    judges : tuple of Judge
        Distinct names.
    seed : int
        The run seed (>= 0).
    shard_samples : int
        Buffered rows that trigger a shard.
    flush_seconds : float
        Longest time between shards.
    logprobs, raw_logprobs, reference_logprobs : bool
        What is recorded besides the texts.
    """

    n: int
    max_new_tokens: int
    batch_size: int
    stop: tuple[str, ...]
    judges: tuple[Judge, ...]
    seed: int
    shard_samples: int
    flush_seconds: float
    logprobs: bool
    raw_logprobs: bool
    reference_logprobs: bool

    @classmethod
    def from_options(cls, *, n, max_new_tokens, batch_size, stop, judge, seed, shard_samples,
                     flush_seconds, logprobs, raw_logprobs, reference_logprobs) -> RunSettings:
        """Check the options of :func:`~leakstats.generate.generate_samples` (in this order)
        and normalise them; a bad one raises :class:`~leakstats.LeakstatsError` naming it."""
        n = check_int("n", n, 1, fix="pass the number of samples per prompt and arm, e.g. n=64")
        max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1, 64)
        batch_size = n if batch_size is None else check_int(
            "batch_size", batch_size, 1,
            fix="pass the number of samples per generate call, e.g. 32")
        stop = _stop_strings(stop)
        judges = _judges(judge)
        shard_samples = check_int("shard_samples", shard_samples, 1, 4096)
        check_number("flush_seconds", flush_seconds, low=0, low_open=True, example=60)
        check_int("seed", seed, 0, 0)
        return cls(n=n, max_new_tokens=max_new_tokens, batch_size=min(batch_size, n), stop=stop,
                   judges=judges, seed=int(seed), shard_samples=shard_samples,
                   flush_seconds=float(flush_seconds), logprobs=bool(logprobs),
                   raw_logprobs=bool(raw_logprobs), reference_logprobs=bool(reference_logprobs))

    def config(self, *, info: dict, backend: str, method: str, grid: Sequence[DecodingConfig],
               arms: list[dict], arm_ids: list[str], prompts: pd.DataFrame) -> dict:
        """The manifest's ``config``: everything that defines the samples (a resumed run must
        match it). ``info`` is the backend's provenance."""
        return {
            "model": str(info.get("model", "model")),
            "model_sha256": info.get("model_sha256"),
            "backend": backend,
            "method": method,
            "n": self.n,
            "batch_size": self.batch_size,
            "max_new_tokens": self.max_new_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
            "chat_template": info.get("chat_template"),
            "system_prompt": info.get("system_prompt"),
            "arms": arms,
            "arm_ids": arm_ids,
            "arm_index": {_arm_text(c.arm_values().values()): i for i, c in enumerate(grid)},
            "judges": [j.spec() for j in self.judges],
            "judge_names": [j.name for j in self.judges],
            "prompts": {"n": len(prompts), "sha256": _prompt_digest(prompts)},
            "logprobs": self.logprobs,
            "raw_logprobs": self.raw_logprobs,
            "reference_logprobs": self.reference_logprobs,
        }


def _versions() -> dict:
    import pyarrow

    import leakstats

    out = {"python": sys.version.split()[0], "leakstats": leakstats.__version__,
           "numpy": np.__version__, "pandas": pd.__version__, "pyarrow": pyarrow.__version__,
           "platform": platform.platform()}
    for name in ("torch", "transformers", "vllm", "rouge_score"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    return out


def run_provenance(info: dict) -> dict:
    """The run's provenance for the manifest: the backend's ``info``, library versions, the
    host and the command line."""
    return {**info, "versions": _versions(), "host": platform.node(), "argv": sys.argv}
