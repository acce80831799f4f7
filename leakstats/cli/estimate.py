"""``leakstats estimate``: leak@k with confidence intervals, per arm."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakstats.cli._common import (
    EXIT_OK,
    add_input_options,
    add_output_options,
    check_plot_path,
    emit,
    k_list,
    level,
    load_input,
    name_list,
    renamed_option,
    save_plot,
    seed,
)
from leakstats.core.vocabulary import CI_METHODS, POPULATIONS, TABLE_FORMATS


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``estimate`` subcommand and its arguments."""
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
    parser.add_argument("file", metavar="FILE", type=Path,
                        help="records (prompt_id, leaked) or counts (prompt_id, n_samples, "
                        "n_leaked) as Parquet, CSV or JSON Lines")
    parser.add_argument("--k", required=True, type=k_list, metavar="K[,K...]",
                        help="e.g. 1,8,32,128")
    parser.add_argument("--by", type=name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns (default: those of method, model, task, split, "
                        'temperature, top_p, top_k, min_p, judge present); --by "" for a '
                        "single arm")
    parser.add_argument("--population", choices=POPULATIONS, default="prompts")
    parser.add_argument("--ci-method", choices=CI_METHODS, default="auto",
                        help="interval construction (default auto)")
    parser.add_argument("--method", choices=CI_METHODS, dest="ci_method",
                        action=renamed_option("--ci-method"), help=argparse.SUPPRESS)
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL",
                        help="default 0.95")
    parser.add_argument("--n-resamples", type=int, default=2000, metavar="N",
                        help="bootstrap resamples (--ci-method bootstrap; default 2000)")
    parser.add_argument("--n-boot", type=int, dest="n_resamples",
                        action=renamed_option("--n-resamples"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=seed, default=None, metavar="N", help="bootstrap seed")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt")
    parser.add_argument("--plot", type=Path, default=None, metavar="PATH",
                        help="save the leak@k curve (format by suffix: .png, .pdf, .svg, ...)")
    add_input_options(parser)
    add_output_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Estimate, print or write the table, and draw the curve with ``--plot``."""
    from leakstats.estimate.api import leak_at_k
    from leakstats.report.tables import format_table

    check_plot_path(args)
    result = leak_at_k(load_input(args, args.file), k=args.k,
                       confidence_level=args.confidence_level, population=args.population,
                       ci_method=args.ci_method, by=args.by, n_resamples=args.n_resamples,
                       rng=args.seed)
    emit(args, format_table(result.to_frame(), format=args.fmt, digits=args.digits))
    if args.plot is not None:
        from leakstats.report.plots import plot_leak_curve

        save_plot(args, lambda fig: plot_leak_curve(result, ax=fig.subplots()), (6.0, 4.0))
    return EXIT_OK
