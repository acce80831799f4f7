"""Sampling with Hugging Face transformers (CPU or GPU), with per-token log-probs.

How the log-probs are recorded
------------------------------
``model.generate`` is called with a clean generation config (temperature 1, no top-k/top-p, no
repetition penalty, whatever the model's ``generation_config.json`` says), so that it adds no
logits processor of its own, and with our own processor list::

    [raw recorder, temperature, top-k, top-p, min-p, processed recorder]

The warpers are transformers' own classes, in transformers' order. The *raw* recorder sees
the model's logits (float32, before any processing) and the *processed* recorder sees the
scores that ``generate`` turns into the sampling distribution (``softmax`` then
``multinomial``). Each keeps only the log-softmax of the current step, shape (n, vocab), and
picks the sampled token's value out of it at the next step, so memory does not grow with the
number of tokens (``output_scores=True`` would keep n x vocab floats per step), and sampling
itself is untouched: the recorders consume no random numbers, so a run with and without
log-probs draws the same samples.

Seeds: every job runs under ``torch.random.fork_rng`` with ``torch.manual_seed(job.seed)``, so
the samples depend on the job's seed only (not on what ran before), and the caller's global
torch RNG state is left as it was. On CPU the same seed, model and config give the same
samples; on GPU, kernels may be non-deterministic unless torch is told otherwise.
"""

from __future__ import annotations

import inspect
import platform
from collections.abc import Sequence

import numpy as np
import torch
import transformers
from transformers import GenerationConfig, GenerationMixin, LogitsProcessor, LogitsProcessorList
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from leakstats.core.errors import LeakstatsError
from leakstats.generate._config import DecodingConfig
from leakstats.generate.backend import SampleBatch, SampleJob

__all__ = ["HFBackend", "warpers"]

#: The keyword of ``generate`` that takes a KV cache (renamed in transformers 5).
_CACHE_ARGUMENT = (
    "cache" if "cache" in inspect.signature(GenerationMixin.generate).parameters
    or int(transformers.__version__.split(".")[0]) >= 5 else "past_key_values"
)


def warpers(config: DecodingConfig) -> list[LogitsProcessor]:
    """transformers' logits warpers for ``config``, in the order ``generate`` applies them.

    Examples
    --------
    >>> [type(w).__name__ for w in warpers(DecodingConfig(temperature=0.7, top_p=0.9))]
    ['TemperatureLogitsWarper', 'TopPLogitsWarper']
    """
    out: list[LogitsProcessor] = []
    if config.temperature != 1.0:
        out.append(TemperatureLogitsWarper(config.temperature))
    if config.top_k:
        out.append(TopKLogitsWarper(top_k=config.top_k, min_tokens_to_keep=1))
    if config.top_p < 1.0:
        out.append(TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=1))
    if config.min_p:
        out.append(MinPLogitsWarper(min_p=config.min_p, min_tokens_to_keep=1))
    return out


class _Recorder(LogitsProcessor):
    """Records the log-prob of each sampled token under the scores it is shown."""

    def __init__(self) -> None:
        self.previous: torch.Tensor | None = None
        self.columns: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
        if self.previous is not None:
            self.columns.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, last_tokens: torch.Tensor) -> np.ndarray:
        if self.previous is not None:
            self.columns.append(self.previous.gather(1, last_tokens[:, None]).squeeze(1))
            self.previous = None
        if not self.columns:
            return np.zeros((len(last_tokens), 0), dtype=np.float32)
        return torch.stack(self.columns, dim=1).cpu().numpy().astype(np.float32)


def _first_stop(tokenizer, tokens: np.ndarray, stop: Sequence[str]) -> int | None:
    """Smallest prefix length whose decoded text contains a stop string (None if none)."""

    def hit(length: int) -> bool:
        text = tokenizer.decode(tokens[:length].tolist(), skip_special_tokens=True)
        return any(s in text for s in stop)

    if not stop or not len(tokens) or not hit(len(tokens)):
        return None
    low, high = 1, len(tokens)  # hit(high) holds; find the first length that hits
    while low < high:
        mid = (low + high) // 2
        if hit(mid):
            high = mid
        else:
            low = mid + 1
    return low


class HFBackend:
    """Sampling backend on a transformers causal LM.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal LM (``model.generate`` and ``model(input_ids).logits``).
    tokenizer : transformers tokenizer
        Its tokenizer.
    chat_template : bool or None, default None
        Wrap each prompt in the tokenizer's chat template as one user turn (with
        ``system_prompt`` if given) and the generation prompt. ``None``: when the tokenizer
        has a template.
    system_prompt : str, optional
        System message (chat template only).
    info : dict, optional
        Provenance (model name, file, hash) as returned by
        :func:`leakstats.generate.models.load_hf`.
    share_prompt : bool, default True
        Encode each prompt once and share its KV cache among the job's samples (instead of
        ``num_return_sequences`` copies of the prompt): the same distribution, n times less
        prompt work. Part of the provenance (it changes floating-point rounding).

    Examples
    --------
    >>> import tempfile
    >>> from leakstats.generate.testing import tiny_model
    >>> backend = HFBackend.from_pretrained(tiny_model(tempfile.mkdtemp()))
    >>> job = SampleJob(tuple(backend.encode_prompt("Who is Ada?")), DecodingConfig(), n=3,
    ...                 seed=1, max_new_tokens=5)
    >>> batch = backend.sample([job])[0]
    >>> len(batch), batch.finish_reason[0] in ("eos", "length")
    (3, True)
    """

    name = "hf"

    def __init__(
        self,
        model,
        tokenizer,
        *,
        chat_template: bool | None = None,
        system_prompt: str | None = None,
        info: dict | None = None,
        share_prompt: bool = True,
    ) -> None:
        self.model = model
        self.share_prompt = share_prompt
        self.tokenizer = tokenizer
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if chat_template and not has_template:
            raise LeakstatsError(
                "argument 'chat_template': the tokenizer has no chat template. Fix: pass "
                "chat_template=False to send prompts as plain text, or use a chat model."
            )
        self.chat_template = has_template if chat_template is None else bool(chat_template)
        if system_prompt is not None and not self.chat_template:
            raise LeakstatsError(
                "argument 'system_prompt': a system prompt needs a chat template. Fix: pass "
                "chat_template=True with a chat model, or put the text in the prompts."
            )
        self.system_prompt = system_prompt
        self.info = dict(info or {"model": getattr(model, "name_or_path", "model")})
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = sorted({int(e) for e in (eos if isinstance(eos, list) else [eos])})
        if not self.eos_ids:
            raise LeakstatsError(
                "the model has no EOS token (generation_config.eos_token_id and "
                "tokenizer.eos_token_id are both unset). Fix: set model.generation_config."
                "eos_token_id before sampling."
            )
        pad = tokenizer.pad_token_id
        self.pad_id = int(self.eos_ids[0] if pad is None else pad)
        self.device = next(model.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        model=None,
        *,
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype=None,
        chat_template: bool | None = None,
        system_prompt: str | None = None,
    ) -> HFBackend:
        """Load a model (see :func:`leakstats.generate.models.load_hf`) and wrap it."""
        from leakstats.generate.models import load_hf

        lm, tokenizer, info = load_hf(model, gguf_file=gguf_file, device=device, dtype=dtype)
        return cls(
            lm, tokenizer, chat_template=chat_template, system_prompt=system_prompt, info=info
        )

    # ------------------------------------------------------------------ encoding

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` as sent to the model (chat template applied if used)."""
        if not self.chat_template:
            return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])
        messages = [] if self.system_prompt is None else [
            {"role": "system", "content": self.system_prompt}
        ]
        messages.append({"role": "user", "content": prompt})
        out = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True
        )
        if hasattr(out, "keys"):
            out = out["input_ids"]
        return [int(t) for t in out]

    def encode_text(self, text: str) -> list[int]:
        """Token ids of a continuation such as a reference answer (no special tokens)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ------------------------------------------------------------------ sampling

    def _prompt_cache(self, prompt: torch.Tensor, n: int):
        """The prompt's KV cache (all but its last token), repeated for the n samples: the
        prompt is encoded once, not n times as ``num_return_sequences`` would. None when the
        model's cache cannot be shared this way (then ``generate`` encodes the prompt n
        times: same distribution, other floating-point rounding)."""
        if not self.share_prompt or n == 1 or prompt.shape[1] < 2:
            return None
        out = self.model(input_ids=prompt[:, :-1], use_cache=True)
        # transformers >= 5 calls it ``cache``, earlier versions ``past_key_values``
        cache = out["cache"] if "cache" in out else out.get("past_key_values")
        if not hasattr(cache, "batch_repeat_interleave"):
            return None
        cache.batch_repeat_interleave(n)
        return cache

    def _generation_config(self, job: SampleJob, expand: bool = True) -> GenerationConfig:
        return GenerationConfig(
            do_sample=True,
            num_return_sequences=job.n if expand else 1,
            max_new_tokens=job.max_new_tokens,
            # neutral values: transformers must add no warper of its own (ours are passed in)
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            repetition_penalty=1.0,
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
            bos_token_id=self.tokenizer.bos_token_id,
            stop_strings=list(job.stop) or None,
        )

    def _run(self, job: SampleJob, logprobs: bool, raw_logprobs: bool):
        raw, processed = _Recorder(), _Recorder()
        warp = warpers(job.config)
        if not warp and logprobs and raw_logprobs:
            processed = raw  # no warper: the sampling distribution is the model's; record once
            processors = LogitsProcessorList([raw])
        else:
            processors = LogitsProcessorList(
                ([raw] if raw_logprobs else []) + warp + ([processed] if logprobs else [])
            )
        prompt = torch.tensor([list(job.prompt_ids)], dtype=torch.long, device=self.device)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        saved = self.model.generation_config
        # the model's own defaults (e.g. temperature 0.6 in generation_config.json) must not leak
        # into the decoding config: generate() fills unset values from them.
        self.model.generation_config = GenerationConfig(
            eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )
        try:
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                cache = self._prompt_cache(prompt, job.n)
                ids = prompt if cache is None else prompt.expand(job.n, -1).contiguous()
                extra = {} if cache is None else {_CACHE_ARGUMENT: cache}
                torch.manual_seed(job.seed)
                out = self.model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    generation_config=self._generation_config(job, cache is None),
                    logits_processor=processors,
                    tokenizer=self.tokenizer if job.stop else None,
                    **extra,
                )
        finally:
            self.model.generation_config = saved
        generated = out[:, prompt.shape[1]:]
        last = generated[:, -1]
        raw_lp = raw.finish(last) if raw_logprobs else None
        proc_lp = (raw_lp if processed is raw else processed.finish(last)) if logprobs else None
        return generated.cpu().numpy(), proc_lp, raw_lp

    def sample(
        self, jobs: Sequence[SampleJob], *, logprobs: bool = True, raw_logprobs: bool = True
    ) -> list[SampleBatch]:
        """Run each job (one ``generate`` call with ``num_return_sequences=job.n``)."""
        return [self._sample_one(job, logprobs, raw_logprobs) for job in jobs]

    def _sample_one(self, job: SampleJob, logprobs: bool, raw_logprobs: bool) -> SampleBatch:
        tokens, proc_lp, raw_lp = self._run(job, logprobs, raw_logprobs)
        eos = np.isin(tokens, self.eos_ids)
        batch = SampleBatch(
            token_ids=[], text=[], finish_reason=[], seed=[job.seed] * job.n,
            token_logprobs=[] if logprobs else None,
            token_logprobs_raw=[] if raw_logprobs else None,
        )
        for i in range(tokens.shape[0]):
            row = tokens[i]
            hits = np.flatnonzero(eos[i])
            length, reason = (int(hits[0]) + 1, "eos") if hits.size else (len(row), "length")
            stop_at = _first_stop(self.tokenizer, row[:length], job.stop)
            if stop_at is not None:
                length, reason = stop_at, "stop"
            text = self.tokenizer.decode(row[:length].tolist(), skip_special_tokens=True)
            if reason == "stop":
                text = text[: min(text.find(s) for s in job.stop if s in text)]
            batch.token_ids.append(row[:length].astype(np.int32))
            batch.text.append(text)
            batch.finish_reason.append(reason)
            if proc_lp is not None:
                batch.token_logprobs.append(proc_lp[i, :length].copy())
            if raw_lp is not None:
                batch.token_logprobs_raw.append(raw_lp[i, :length].copy())
        return batch

    # ------------------------------------------------------------------ teacher forcing

    def score(
        self,
        prompt_ids: Sequence[int],
        continuations: Sequence[Sequence[int]],
        configs: Sequence[DecodingConfig],
    ) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
        """Teacher-forced log-probs of each continuation after the prompt.

        Returns
        -------
        processed : list (one per config) of lists (one per continuation) of float arrays
            Per-token log-probs under the sampling distribution of each config (``-inf`` for
            a token that the config's truncation excludes).
        raw : list (one per continuation) of float arrays
            Per-token log-probs under the model (log-softmax of the raw logits).
        """
        processed: list[list[np.ndarray]] = [[] for _ in configs]
        raw: list[np.ndarray] = []
        prompt = list(prompt_ids)
        for cont in continuations:
            cont = [int(t) for t in cont]
            if not cont:
                raw.append(np.zeros(0, dtype=np.float32))
                for j in range(len(configs)):
                    processed[j].append(np.zeros(0, dtype=np.float32))
                continue
            ids = torch.tensor([prompt + cont], dtype=torch.long, device=self.device)
            target = torch.tensor(cont, dtype=torch.long, device=self.device)[:, None]
            with torch.inference_mode():
                logits = self.model(input_ids=ids).logits[0, len(prompt) - 1: -1].float()
                raw.append(_gather(logits, target))
                dummy = ids[:, : logits.shape[0]].reshape(-1, 1)
                for j, config in enumerate(configs):
                    scores = logits
                    for warper in warpers(config):
                        scores = warper(dummy, scores)
                    processed[j].append(_gather(scores, target))
        return processed, raw

    def provenance(self) -> dict:
        """Model, device, dtype and library versions (for the run manifest)."""
        return {
            **self.info,
            "backend": self.name,
            "device": str(self.device),
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "chat_template": self.chat_template,
            "system_prompt": self.system_prompt,
            "share_prompt": self.share_prompt,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(),
        }


def _gather(scores: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    return torch.log_softmax(scores, dim=-1).gather(1, target).squeeze(1).cpu().numpy().astype(
        np.float32
    )
