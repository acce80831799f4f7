"""Sampling with vLLM (GPU): batched, seeded, with processed per-token log-probs.

Written against vLLM's documented offline API (``vllm.LLM``, ``vllm.SamplingParams``); vLLM is
not a dependency of any extra that CI installs (``pip install 'leakstats[vllm]'`` on a GPU
machine). The pure parts (sampling parameters, seeds, output conversion, Ray Data rows) are
tested without vLLM; ``benchmarks/vllm_check.py`` checks the rest on a GPU.

- The engine is created with ``logprobs_mode="processed_logprobs"``: vLLM's default returns
  *raw* log-probs, but the probability of a sample under the sampling distribution needs the
  log-probs after temperature, top-k, top-p and min-p. ``SamplingParams(logprobs=0)`` returns
  the sampled token's log-prob only.
- Raw (model) log-probs of the samples, when asked, come from a teacher-forced pass: the
  prompt plus the sample is sent back with ``prompt_logprobs=0`` and ``max_tokens=1``;
  vLLM computes prompt log-probs from the raw logits.
- Seeds: ``SamplingParams(n=job.n, seed=job.seed)`` seeds each request on its own, so a job's
  samples do not depend on what else is in the batch.
- Tensor parallelism: ``tensor_parallel_size`` (an engine argument); for models larger than
  one node, ``pipeline_parallel_size`` and ``distributed_executor_backend="ray"``.
- Ray Data: its LLM processor keeps only the *first* of the ``n`` outputs of a row, so
  :func:`ray_rows` replicates each job into ``n`` rows of ``n=1`` with distinct per-sample
  seeds (:func:`sample_seed`). See docs/generation.md.
- Order of the warpers: vLLM applies min-p before top-k/top-p, transformers after; the two
  backends agree exactly when min-p is off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leakstats.core.errors import LeakstatsError, MissingDependencyError
from leakstats.generate._config import DecodingConfig, stable_hash
from leakstats.generate.backend import SampleBatch, SampleJob

__all__ = [
    "VLLMBackend",
    "convert_output",
    "ray_rows",
    "sample_seed",
    "sampling_params_kwargs",
]


def sampling_params_kwargs(job: SampleJob, *, logprobs: bool = True, n: int | None = None,
                           seed: int | None = None) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for a job.

    Examples
    --------
    >>> job = SampleJob((1, 2), DecodingConfig(temperature=0.7, top_k=0), n=4, seed=9,
    ...                 max_new_tokens=16, stop=("\\n\\n",))
    >>> kw = sampling_params_kwargs(job)
    >>> kw["n"], kw["top_k"], kw["seed"], kw["logprobs"], kw["stop"]
    (4, -1, 9, 0, ['\\n\\n'])
    """
    c = job.config
    out = {
        "n": job.n if n is None else n,
        "temperature": c.temperature,
        "top_p": c.top_p,
        "top_k": c.top_k if c.top_k else -1,
        "min_p": c.min_p,
        "max_tokens": job.max_new_tokens,
        "seed": job.seed if seed is None else seed,
        "stop": list(job.stop) or None,
        "repetition_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "skip_special_tokens": True,
    }
    if logprobs:
        out["logprobs"] = 0
    return out


def sample_seed(job_seed: int, index: int) -> int:
    """Seed of sample ``index`` of a job when samples are drawn one per request (Ray Data).

    Examples
    --------
    >>> sample_seed(5, 0) != sample_seed(5, 1)
    True
    """
    return stable_hash([int(job_seed), int(index)]) % (2**63)


def ray_rows(jobs: Sequence[SampleJob], *, logprobs: bool = True) -> list[dict]:
    """Rows for a Ray Data LLM processor: one row per *sample* (``n=1``, distinct seeds).

    Ray Data's vLLM processor keeps only the first of ``n`` outputs per row, so a job of n
    samples becomes n rows. ``job_index`` and ``sample_index`` map outputs back.

    Examples
    --------
    >>> job = SampleJob((1, 2), DecodingConfig(), n=3, seed=9, max_new_tokens=8)
    >>> rows = ray_rows([job])
    >>> len(rows), {r["sampling_params"]["n"] for r in rows}, len({r["seed"] for r in rows})
    (3, {1}, 3)
    """
    rows = []
    for j, job in enumerate(jobs):
        for i in range(job.n):
            seed = sample_seed(job.seed, i)
            rows.append({
                "job_index": j,
                "sample_index": i,
                "seed": seed,
                "prompt_token_ids": list(job.prompt_ids),
                "sampling_params": sampling_params_kwargs(job, logprobs=logprobs, n=1,
                                                          seed=seed),
            })
    return rows


def _finish(output) -> str:
    reason = getattr(output, "finish_reason", None)
    if reason == "length":
        return "length"
    if reason == "stop":
        stop = getattr(output, "stop_reason", None)
        return "stop" if isinstance(stop, str) else "eos"
    raise LeakstatsError(
        f"vLLM returned a sample with finish_reason={reason!r} (aborted?). Fix: check the "
        f"engine log; rerun with --resume to regenerate the group."
    )


def convert_output(request_output, job: SampleJob, *, logprobs: bool = True) -> SampleBatch:
    """A vLLM ``RequestOutput`` (``.outputs``: one completion per sample) as a SampleBatch.

    Each completion has ``token_ids``, ``text``, ``finish_reason``, ``stop_reason`` and, with
    ``logprobs=0``, ``logprobs``: one mapping per position from token id to an object with a
    ``logprob`` attribute, holding at least the sampled token.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> comp = NS(token_ids=[5, 2], text="hi", finish_reason="stop", stop_reason=None,
    ...           logprobs=[{5: NS(logprob=-0.5)}, {2: NS(logprob=-1.0), 7: NS(logprob=-0.1)}])
    >>> job = SampleJob((1,), DecodingConfig(), n=1, seed=3, max_new_tokens=4)
    >>> batch = convert_output(NS(outputs=[comp]), job)
    >>> batch.finish_reason, batch.token_logprobs[0].tolist(), batch.seed
    (['eos'], [-0.5, -1.0], [3])
    """
    outputs = list(request_output.outputs)
    if len(outputs) != job.n:
        raise LeakstatsError(
            f"vLLM returned {len(outputs)} samples for a request of n={job.n}. Fix: do not run "
            f"this backend through a processor that drops outputs (Ray Data keeps one per "
            f"row: use leakstats.generate.vllm.ray_rows)."
        )
    batch = SampleBatch(token_ids=[], text=[], finish_reason=[], seed=[job.seed] * job.n,
                        token_logprobs=[] if logprobs else None)
    for comp in outputs:
        ids = np.asarray(list(comp.token_ids), dtype=np.int32)
        batch.token_ids.append(ids)
        batch.text.append(comp.text)
        batch.finish_reason.append(_finish(comp))
        if logprobs:
            if comp.logprobs is None or len(comp.logprobs) != len(ids):
                raise LeakstatsError(
                    "vLLM returned no per-token log-probs (or not one per token). Fix: create "
                    "the engine with logprobs_mode='processed_logprobs' and request logprobs=0."
                )
            batch.token_logprobs.append(np.array(
                [float(pos[int(t)].logprob) for pos, t in zip(comp.logprobs, ids, strict=True)],
                dtype=np.float32))
    return batch


def raw_from_prompt_logprobs(request_output, n_prompt: int) -> np.ndarray:
    """Raw log-probs of the tokens after the first ``n_prompt`` ones, from a teacher-forced
    request (``prompt_logprobs=0``).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> out = NS(prompt_token_ids=[1, 4, 6], prompt_logprobs=[None, {4: NS(logprob=-2.0)},
    ...                                                        {6: NS(logprob=-0.25)}])
    >>> raw_from_prompt_logprobs(out, 1).tolist()
    [-2.0, -0.25]
    """
    ids = list(request_output.prompt_token_ids)
    lps = request_output.prompt_logprobs
    return np.array([float(lps[p][ids[p]].logprob) for p in range(n_prompt, len(ids))],
                    dtype=np.float32)


class VLLMBackend:  # pragma: no cover - needs vLLM and a GPU; see benchmarks/vllm_check.py
    """Sampling backend on a vLLM engine (GPU).

    Parameters
    ----------
    llm : vllm.LLM
        An engine created with ``logprobs_mode="processed_logprobs"`` (see
        :meth:`from_pretrained`).
    chat_template, system_prompt : as for :class:`~leakstats.generate.hf.HFBackend`.
    info : dict, optional
        Provenance.
    groups_per_call : int, default 256
        (prompt, arm) groups submitted to the engine at once (vLLM batches them).
    """

    name = "vllm"

    def __init__(self, llm, *, chat_template: bool | None = None,
                 system_prompt: str | None = None, info: dict | None = None,
                 groups_per_call: int = 256, model_spec: tuple | None = None) -> None:
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.chat_template = has_template if chat_template is None else bool(chat_template)
        self.system_prompt = system_prompt
        self.info = dict(info or {})
        self.groups_per_call = groups_per_call
        self.model_spec = model_spec or (None, None)
        self._scorer = None

    @classmethod
    def from_pretrained(cls, model=None, *, gguf_file: str | None = None, dtype=None,
                        chat_template: bool | None = None, system_prompt: str | None = None,
                        tensor_parallel_size: int = 1, seed: int = 0,
                        groups_per_call: int = 256, **engine_kwargs) -> VLLMBackend:
        """Create the engine (``logprobs_mode="processed_logprobs"``) and wrap it."""
        try:
            from vllm import LLM
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                "the vLLM backend needs vllm (a GPU build). Fix: pip install 'leakstats[vllm]' "
                "on a machine with a GPU, or use backend='hf'."
            ) from exc
        from leakstats.generate.models import file_sha256, resolve_model

        source, gguf, gguf_path, name = resolve_model(model, gguf_file)
        path = str(gguf_path) if gguf is not None else source
        info = {"model": name, "model_source": source, "model_file": str(gguf_path) if gguf
                else None, "model_sha256": file_sha256(gguf_path) if gguf else None}
        kwargs = {"logprobs_mode": "processed_logprobs", "seed": seed,
                  "tensor_parallel_size": tensor_parallel_size, **engine_kwargs}
        if dtype is not None:
            kwargs["dtype"] = str(dtype).replace("torch.", "")
        llm = LLM(model=path, **kwargs)
        return cls(llm, chat_template=chat_template, system_prompt=system_prompt, info=info,
                   groups_per_call=groups_per_call, model_spec=(model, gguf_file))

    def encode_prompt(self, prompt: str) -> list[int]:
        if not self.chat_template:
            return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])
        messages = [] if self.system_prompt is None else [
            {"role": "system", "content": self.system_prompt}]
        messages.append({"role": "user", "content": prompt})
        out = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                 tokenize=True)
        if hasattr(out, "keys"):
            out = out["input_ids"]
        return [int(t) for t in out]

    def encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sample(self, jobs: Sequence[SampleJob], *, logprobs: bool = True,
               raw_logprobs: bool = True) -> list[SampleBatch]:
        from vllm import SamplingParams

        prompts = [{"prompt_token_ids": list(job.prompt_ids)} for job in jobs]
        params = [SamplingParams(**sampling_params_kwargs(job, logprobs=logprobs))
                  for job in jobs]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        batches = [convert_output(o, job, logprobs=logprobs) for o, job in zip(outputs, jobs,
                                                                               strict=True)]
        if raw_logprobs:
            self._add_raw(jobs, batches)
        return batches

    def _add_raw(self, jobs: Sequence[SampleJob], batches: list[SampleBatch]) -> None:
        from vllm import SamplingParams

        prompts, where = [], []
        for j, (job, batch) in enumerate(zip(jobs, batches, strict=True)):
            batch.token_logprobs_raw = [np.zeros(0, dtype=np.float32)] * len(batch)
            for i, ids in enumerate(batch.token_ids):
                if len(ids):
                    prompts.append({"prompt_token_ids": list(job.prompt_ids) + ids.tolist()})
                    where.append((j, i, len(job.prompt_ids)))
        if not prompts:
            return
        params = SamplingParams(max_tokens=1, temperature=1.0, prompt_logprobs=0)
        for out, (j, i, n_prompt) in zip(self.llm.generate(prompts, params, use_tqdm=False),
                                         where, strict=True):
            batches[j].token_logprobs_raw[i] = raw_from_prompt_logprobs(out, n_prompt)

    def score(self, prompt_ids, continuations, configs: Sequence[DecodingConfig]):
        """Teacher-forced log-probs through a transformers copy of the model on the GPU
        (processed log-probs need the whole next-token distribution)."""
        if self._scorer is None:
            from leakstats.generate.hf import HFBackend

            model, gguf_file = self.model_spec
            self._scorer = HFBackend.from_pretrained(model, gguf_file=gguf_file, device="cuda",
                                                     chat_template=False)
        return self._scorer.score(prompt_ids, continuations, configs)

    def provenance(self) -> dict:
        import vllm

        return {**self.info, "backend": self.name, "vllm": vllm.__version__,
                "chat_template": self.chat_template, "system_prompt": self.system_prompt,
                "logprobs_mode": "processed_logprobs"}
