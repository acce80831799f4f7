"""A sampling backend for RULE that samples many prompts in one ``generate`` call.

:class:`leakstats.generate.hf.HFBackend` runs one prompt per call (its samples share the
prompt's KV cache). On a CPU a decoding step costs about the same for 8 rows as for 80 (the
weights are read once per step either way), so RULE, which needs a few samples of each of
many prompts, samples them all together: prompts left-padded, each repeated ``n`` times, one
``generate`` call with transformers' own warpers. The samples are drawn from the same
distribution as HFBackend's, but not the same draws (one RNG stream serves the whole call,
seeded with the first job's seed): reproducible for the same prompts, ``n`` and seed.
Log-probs are not recorded (RULE needs only the texts); a call that asks for them, or mixes
decoding configs, or uses stop strings, is handed to HFBackend unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leakstats.generate.backend import SampleBatch, SampleJob
from leakstats.generate.hf import _CACHE_ARGUMENT

__all__ = ["BatchedSampler"]


class BatchedSampler:
    """Wraps an :class:`~leakstats.generate.hf.HFBackend`; samples whole chunks of prompts.

    Parameters
    ----------
    inner : HFBackend
    groups_per_call : int, default 64
        Prompts per ``generate`` call (:func:`~leakstats.generate.generate_samples` hands
        over this many (prompt, arm) groups at a time).
    """

    name = "hf-batched"

    def __init__(self, inner, *, groups_per_call: int = 64) -> None:
        self.inner = inner
        self.groups_per_call = int(groups_per_call)

    def encode_prompt(self, prompt: str) -> list[int]:
        return self.inner.encode_prompt(prompt)

    def encode_text(self, text: str) -> list[int]:
        return self.inner.encode_text(text)

    def score(self, prompt_ids, continuations, configs):
        return self.inner.score(prompt_ids, continuations, configs)

    def provenance(self) -> dict:
        return {**self.inner.provenance(), "backend": self.name}

    def sample(self, jobs: Sequence[SampleJob], *, logprobs: bool = True,
               raw_logprobs: bool = True) -> list[SampleBatch]:
        jobs = list(jobs)
        plain = (not logprobs and not raw_logprobs and len({j.config for j in jobs}) == 1
                 and not any(j.stop for j in jobs))
        if not jobs or not plain:
            return self.inner.sample(jobs, logprobs=logprobs, raw_logprobs=raw_logprobs)
        return self._sample(jobs)

    def _prompt_cache(self, ids, mask, n: int):
        """KV cache of the prompts (all but their last token), each repeated n times; None
        when the model's cache cannot be repeated that way."""
        if ids.shape[1] < 2:
            return None
        # positions as generate() derives them from the mask (the prompts are left-padded)
        positions = (mask[:, :-1].cumsum(-1) - 1).clamp(min=0)
        out = self.inner.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                               position_ids=positions, use_cache=True)
        cache = out["cache"] if "cache" in out else out.get("past_key_values")
        if not hasattr(cache, "batch_repeat_interleave"):
            return None
        cache.batch_repeat_interleave(n)
        return cache

    def _sample(self, jobs: list[SampleJob]) -> list[SampleBatch]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        from leakstats.generate.hf import warpers

        inner = self.inner
        model, tokenizer = inner.model, inner.tokenizer
        prompts = [job.prompt_ids for job in jobs]
        n = jobs[0].n if len({job.n for job in jobs}) == 1 else None
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), inner.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, row in enumerate(prompts):
            ids[i, width - len(row):] = torch.tensor(row)
            mask[i, width - len(row):] = 1
        ids, mask = ids.to(inner.device), mask.to(inner.device)
        config = GenerationConfig(
            do_sample=True, max_new_tokens=max(j.max_new_tokens for j in jobs),
            temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0,
            eos_token_id=inner.eos_ids, pad_token_id=inner.pad_id,
            bos_token_id=tokenizer.bos_token_id,
        )
        saved = model.generation_config
        model.generation_config = GenerationConfig(
            eos_token_id=inner.eos_ids, pad_token_id=inner.pad_id,
            bos_token_id=tokenizer.bos_token_id)
        devices = [inner.device.index or 0] if inner.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                extra = {}
                cache = self._prompt_cache(ids, mask, n) if n is not None and n > 1 else None
                if cache is not None:  # each prompt encoded once, its KV cache shared
                    extra = {_CACHE_ARGUMENT: cache}
                repeats = torch.tensor([job.n for job in jobs], device=inner.device)
                ids = ids.repeat_interleave(repeats, dim=0)
                mask = mask.repeat_interleave(repeats, dim=0)
                torch.manual_seed(jobs[0].seed)
                out = model.generate(
                    input_ids=ids, attention_mask=mask, generation_config=config,
                    logits_processor=LogitsProcessorList(warpers(jobs[0].config)), **extra,
                )
        finally:
            model.generation_config = saved
        generated = out[:, width:].cpu().numpy()
        batches, row = [], 0
        for job in jobs:
            batch = SampleBatch(token_ids=[], text=[], finish_reason=[], seed=[job.seed] * job.n)
            for tokens in generated[row: row + job.n]:
                tokens = tokens[: job.max_new_tokens]
                hits = np.flatnonzero(np.isin(tokens, inner.eos_ids))
                length, reason = (int(hits[0]) + 1, "eos") if hits.size else (len(tokens),
                                                                               "length")
                batch.token_ids.append(tokens[:length].astype(np.int32))
                batch.text.append(tokenizer.decode(tokens[:length].tolist(),
                                                   skip_special_tokens=True))
                batch.finish_reason.append(reason)
            batches.append(batch)
            row += job.n
        return batches
