"""``leakstats certify``: certified upper bounds on leak@k, valid with zero leaks."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakstats.cli._common import (
    EXIT_OK,
    add_input_options,
    add_output_options,
    check_writable,
    emit,
    inputs_of,
    k_list,
    level,
    load_input,
    name_list,
    renamed_option,
)
from leakstats.core.vocabulary import BOUNDS, TABLE_FORMATS


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``certify`` subcommand and its arguments."""
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
    parser.add_argument("--k", required=True, type=k_list, metavar="K[,K...]",
                        help="e.g. 1,32,128 (k above the samples per prompt is fine)")
    parser.add_argument("--epsilon", type=float, default=None, metavar="EPS",
                        help="also say whether leak@k <= EPS is certified")
    parser.add_argument("--bound", choices=BOUNDS, default="auto",
                        help="bound construction (default auto)")
    parser.add_argument("--method", choices=BOUNDS, dest="bound",
                        action=renamed_option("--bound"), help=argparse.SUPPRESS)
    parser.add_argument("--by", type=name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns")
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL",
                        help="one-sided level, default 0.95")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt")
    add_input_options(parser)
    add_output_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute the bounds and print or write them."""
    from leakstats.certify import certify
    from leakstats.report.tables import format_table

    check_writable(args.output, args.overwrite, "--output", inputs_of(args))
    result = certify(load_input(args, args.file), k=args.k, confidence_level=args.confidence_level,
                     bound=args.bound, epsilon=args.epsilon, by=args.by)
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
        text = format_table(frame, format=args.fmt, digits=args.digits)
    emit(args, text)
    return EXIT_OK
