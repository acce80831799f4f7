"""``leakstats demo``: the main job end to end (train, unlearn, sample, analyse, report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakstats.cli._common import EXIT_OK


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``demo`` subcommand and its arguments."""
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the demo and print its summary."""
    from leakstats.demo import run_demo

    overrides = {} if args.threads is None else {"threads": args.threads}
    result = run_demo(args.out, "quick" if args.quick else "default", model=args.model,
                      fresh=args.fresh, overrides=overrides, progress=not args.no_progress)
    print(result.summary())
    return EXIT_OK
