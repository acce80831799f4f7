"""``leakstats report``: a folder with the report of leak@k for any input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leakstats.cli._common import EXIT_OK, PROG, add_input_options, k_list, level, name_list, seed


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``report`` subcommand and its arguments."""
    parser = subparsers.add_parser(
        "report",
        help="a report folder (Markdown, tables, figures) of leak@k for any input",
        description=(
            "Write report.md with leak@k and its intervals, certified upper bounds, paired "
            "comparisons of methods (when a method column has two or more values) and, with "
            "--extrapolate, leak@k at large k; with the tables as CSV and the figures as PNG."
        ),
        epilog=(
            "examples:\n"
            "  leakstats report records.parquet --out report --k 1,8,32\n"
            "  leakstats report saves/eval --leaked \"ES == 1\" --by method,temperature "
            "--baseline Retrain --out leakk-report\n"
            "  leakstats report data/demo --where \"judge == 'keywords_any>=1'\" --out demo "
            "--extrapolate 100,1000"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path,
                        help="records, counts, a store, a results folder or another tool's "
                        "output (see leakstats.read)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the report folder (new, or a report folder with --overwrite)")
    parser.add_argument("--k", type=k_list, default=[1, 8], metavar="K[,K...]",
                        help="default 1,8")
    parser.add_argument("--by", type=name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns")
    parser.add_argument("--baseline", default=None, metavar="NAME",
                        help="compare every method with this one (default: all pairs)")
    parser.add_argument("--extrapolate", type=k_list, default=None, metavar="K[,K...]",
                        help="also extrapolate to these k")
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL",
                        help="default 0.95")
    parser.add_argument("--digits", type=int, default=4, metavar="N", help="decimals shown")
    parser.add_argument("--no-plots", action="store_true", help="write no figures")
    parser.add_argument("--seed", type=seed, default=0, metavar="N",
                        help="resampling seed (default 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out when it is a report folder leakstats wrote")
    add_input_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report folder and say where it is."""
    from leakstats.study.report import write_report

    path = write_report(args.file, args.out, k=args.k, baseline=args.baseline, by=args.by,
                        leaked=args.leaked, where=args.where, format=args.input_format,
                        confidence_level=args.confidence_level,
                        extrapolate_k=args.extrapolate, digits=args.digits,
                        plots=not args.no_plots, overwrite=args.overwrite, rng=args.seed)
    print(f"{PROG}: wrote the report to '{path}'", file=sys.stderr)
    return EXIT_OK
