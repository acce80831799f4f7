"""``leakstats plan``: how many prompts and samples per prompt a study needs."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakstats.cli._common import EXIT_OK, check_writable, emit, k_list, level
from leakstats.core.vocabulary import PLAN_GOALS, POPULATIONS

#: The options passed to :func:`leakstats.plan` when given.
_OPTIONS = ("n_prompts", "n_samples", "half_width", "leak", "population", "spread", "leak_a",
            "leak_b", "n_comparisons", "power", "epsilon", "p")


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``plan`` subcommand and its arguments."""
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
    parser.add_argument("goal", choices=PLAN_GOALS)
    parser.add_argument("--k", type=k_list, default=[1], metavar="K[,K...]", help="default 1")
    parser.add_argument("--prompts", type=int, default=None, metavar="N", dest="n_prompts")
    parser.add_argument("--samples", type=int, default=None, metavar="N", dest="n_samples",
                        help="samples per prompt")
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL")
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan and print or write the plan."""
    from leakstats.plan import plan

    check_writable(args.output, args.overwrite, "--output")
    options = {n: getattr(args, n) for n in _OPTIONS if getattr(args, n) is not None}
    result = plan(args.goal, k=args.k, confidence_level=args.confidence_level, **options)
    if args.fmt == "table":
        text = repr(result)
    elif args.fmt == "csv":
        text = result.to_frame().to_csv(index=False, lineterminator="\n").rstrip("\n")
    else:
        text = result.to_frame().to_json(orient="records", indent=2)
    emit(args, text, what="plan")
    return EXIT_OK
