"""GPU check of the vLLM backend: speed against transformers, log-prob consistency, seeds.

Needs a CUDA GPU and ``pip install 'leakstats[vllm]'`` (never installed by CI). Runs, on the
same jobs (prompts x n samples, one seed per job):

1. vLLM (``logprobs_mode="processed_logprobs"``, ``SamplingParams(n, seed, logprobs=0)``):
   samples/s and tokens/s; the same jobs again: identical samples?
2. transformers on the same GPU (``HFBackend(device="cuda")``): samples/s and tokens/s.
3. Consistency: vLLM's processed per-token log-probs against a teacher-forced transformers
   pass under the same decoding config, and vLLM's raw (prompt_logprobs) log-probs against the
   teacher-forced raw ones (max |difference| per token, and of the per-sample sums).

Default model: SmolLM2-135M-Instruct, as the plain transformers folder that
``leakstats.generate.models.prepare()`` converts from the GGUF file (vLLM loads it as is).

Run:  python benchmarks/vllm_check.py [--model PATH] [--prompts 50] [--n 64] [--tokens 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(backend, jobs, **kw):
    start = time.perf_counter()
    batches = backend.sample(jobs, **kw)
    seconds = time.perf_counter() - start
    samples = sum(len(b) for b in batches)
    tokens = sum(len(t) for b in batches for t in b.token_ids)
    return batches, seconds, samples, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="HF folder or name (default: SmolLM2)")
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--check-samples", type=int, default=32,
                        help="samples compared against teacher forcing")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.5)
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument("--skip-hf", action="store_true", help="do not time transformers")
    args = parser.parse_args()

    import torch

    from leakstats.generate import DecodingConfig, SampleJob
    from leakstats.generate.hf import HFBackend
    from leakstats.generate.models import prepare
    from leakstats.generate.prompts import fictitious_facts
    from leakstats.generate.vllm import VLLMBackend

    if not torch.cuda.is_available():
        sys.exit("vllm_check: no CUDA GPU here; run it on a GPU machine.")
    model = args.model or str(prepare())
    config = DecodingConfig(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k)
    facts = fictitious_facts(split="all")
    prompts = [facts["prompt"][i % len(facts)] for i in range(args.prompts)]

    t0 = time.perf_counter()
    vllm_backend = VLLMBackend.from_pretrained(
        model, gpu_memory_utilization=args.gpu_memory_utilization,
        tensor_parallel_size=args.tensor_parallel_size, dtype="float32",
    )
    print(f"vLLM engine ready in {time.perf_counter() - t0:.0f} s; model {model}")
    jobs = [SampleJob(tuple(vllm_backend.encode_prompt(p)), config, args.n, 1000 + i,
                      args.tokens) for i, p in enumerate(prompts)]
    vllm_backend.sample(jobs[:2], raw_logprobs=False)  # warm-up
    rows = []
    batches, sec, samples, tokens = timed(vllm_backend, jobs, raw_logprobs=False)
    rows.append(("vLLM, processed log-probs", sec, samples, tokens))
    again, sec2, _, _ = timed(vllm_backend, jobs, raw_logprobs=True)
    rows.append(("vLLM, + raw log-probs (teacher-forced)", sec2, samples, tokens))
    identical = all(
        len(a.token_ids) == len(b.token_ids)
        and all(np.array_equal(x, y) for x, y in zip(a.token_ids, b.token_ids, strict=True))
        for a, b in zip(batches, again, strict=True))

    hf = HFBackend.from_pretrained(model, device="cuda", dtype=torch.float32)
    if not args.skip_hf:
        hf.sample(jobs[:1])
        _, sec3, s3, t3 = timed(hf, jobs)
        rows.append(("transformers generate (HFBackend, cuda)", sec3, s3, t3))

    print(f"\n{args.prompts} prompts x {args.n} samples, max_new_tokens {args.tokens}, "
          f"{config}\n")
    print("| backend | seconds | samples/s | tokens/s |")
    print("|---|--:|--:|--:|")
    for name, sec_, s_, t_ in rows:
        print(f"| {name} | {sec_:.1f} | {s_ / sec_:.0f} | {t_ / sec_:.0f} |")
    print(f"\nsame seeds, same samples on a second vLLM run: {identical}")

    worst_proc = worst_raw = worst_sum = 0.0
    checked = 0
    for job, batch in zip(jobs, again, strict=True):
        if checked >= args.check_samples:
            break
        take = batch.token_ids[: max(1, args.check_samples // len(jobs))]
        processed, raw = hf.score(job.prompt_ids, take, [config])
        for i, ids in enumerate(take):
            if not len(ids):
                continue
            worst_proc = max(worst_proc, float(np.max(np.abs(
                processed[0][i] - batch.token_logprobs[i]))))
            worst_raw = max(worst_raw, float(np.max(np.abs(raw[i] - batch.token_logprobs_raw[i]))))
            worst_sum = max(worst_sum, abs(float(processed[0][i].sum())
                                           - float(batch.token_logprobs[i].sum())))
            checked += 1
    print(f"consistency over {checked} samples (vLLM vs teacher-forced transformers, float32):")
    print(f"  processed per-token log-probs: max |diff| = {worst_proc:.2e}")
    print(f"  processed per-sample sums:     max |diff| = {worst_sum:.2e}")
    print(f"  raw per-token log-probs:       max |diff| = {worst_raw:.2e}")
    print("  (vLLM applies min-p before top-k/top-p, transformers after: compare with min-p off)")


if __name__ == "__main__":
    main()
