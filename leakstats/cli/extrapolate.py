"""``leakstats extrapolate``: leak@k for k beyond the samples, and its backtest."""

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
    save_plot,
    seed,
)
from leakstats.core.vocabulary import FAMILIES, POPULATIONS, TABLE_FORMATS


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``extrapolate`` subcommand and its arguments."""
    parser = subparsers.add_parser(
        "extrapolate",
        help="leak@k for k beyond the samples per prompt, with intervals",
        description=(
            "Predict leak@k for k larger than the samples per prompt from a law of per-prompt "
            "leak probabilities fitted to the counts, with prompt-bootstrap intervals; "
            "--backtest N fits on N samples per prompt and checks the prediction against the "
            "unbiased estimate on all of them."
        ),
        epilog=(
            "examples:\n"
            "  leakstats extrapolate records.parquet --k 1000,10000\n"
            "  leakstats extrapolate saves/eval --leaked \"ES == 1\" --by method --k 1000 "
            "--family zi-beta\n"
            "  leakstats extrapolate records.parquet --backtest 50 --k 100,200"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", type=Path,
                        help="records or counts (Parquet, CSV, JSON Lines), a store, a "
                        "results folder or another tool's output (see leakstats.read)")
    parser.add_argument("--k", type=k_list, default=None, metavar="K[,K...]",
                        help="k values to predict (default 1000,10000; with --backtest: "
                        "powers of 2 above N up to the samples per prompt)")
    parser.add_argument("--family", choices=FAMILIES, default=None,
                        help="the law (default auto; --backtest compares auto, zi-beta, beta "
                        "and both power laws unless one is named)")
    parser.add_argument("--backtest", type=int, default=None, metavar="N",
                        help="fit on N samples per prompt, compare with the estimate on all")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="backtest repeats on random subsets (default 1)")
    parser.add_argument("--by", type=name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns (as in estimate)")
    parser.add_argument("--population", choices=POPULATIONS, default="prompts")
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL",
                        help="default 0.95")
    parser.add_argument("--n-resamples", type=int, default=200, metavar="N",
                        help="bootstrap resamples, each a refit (default 200)")
    parser.add_argument("--seed", type=seed, default=None, metavar="N", help="bootstrap seed")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt")
    parser.add_argument("--plot", type=Path, default=None, metavar="PATH",
                        help="save the extrapolated curve (or the backtest) as an image")
    add_input_options(parser)
    add_output_options(parser)
    parser.set_defaults(func=run)


def _short_table(frame, digits: int) -> str:
    """The text table with each row's law choice in ``ci_method`` and the construction of the
    intervals, the same for every row, said once below."""
    from leakstats.report.tables import format_table

    methods = frame["ci_method"].astype(str)
    parts = methods.str.partition("; interval: ")
    if (parts[1] == "").any() or parts[2].nunique() != 1:
        return format_table(frame, format="table", digits=digits)
    shown = frame.assign(ci_method=parts[0].str.partition(" (")[0])
    return (format_table(shown, format="table", digits=digits)
            + f"\nlaw choice: {parts[0].iloc[0].partition(' (')[2][:-1]}"
            + f"\ninterval: {parts[2].iloc[0]}")


def run(args: argparse.Namespace) -> int:
    """Fit, predict, print or write the table, and draw it with ``--plot``."""
    from leakstats.extrapolate.api import backtest, extrapolate
    from leakstats.report.tables import format_plain, format_table

    check_plot_path(args)
    data = load_input(args, args.file)
    common = dict(confidence_level=args.confidence_level, population=args.population,
                  by=args.by, n_resamples=args.n_resamples, rng=args.seed)
    if args.backtest is not None:
        family = {} if args.family is None else {"family": args.family}
        result = backtest(data, args.backtest, k=args.k, repeats=args.repeats, **family,
                          **common)
        frame = result.summary()
    else:
        if args.repeats != 1:
            from leakstats.core.errors import LeakstatsError

            raise LeakstatsError("--repeats: repeats are backtest repeats. Fix: pass "
                                 "--backtest N with it, or leave --repeats out.")
        result = extrapolate(data, k=args.k or (1000, 10_000), family=args.family or "auto",
                             **common)
        frame = result.to_frame()
    if args.backtest is not None:
        text = format_plain(frame, format=args.fmt, digits=args.digits)
    elif args.fmt == "table":
        text = _short_table(frame, args.digits)
    else:
        text = format_table(frame, format=args.fmt, digits=args.digits)
    emit(args, text)
    if args.plot is not None:
        from leakstats.report.plots_extrapolate import plot_backtest, plot_extrapolation

        if args.backtest is not None:
            save_plot(args, lambda fig: plot_backtest(result, ax=fig.subplots()), (6.0, 4.0))
        else:
            arms = list(result.arms)
            values = (result.to_frame()[arms].drop_duplicates().to_dict("records")
                      if arms else [None])
            cols = min(len(values), 3)
            rows = -(-len(values) // cols)

            def draw(fig) -> None:
                axes = fig.subplots(rows, cols, squeeze=False).ravel()
                for ax, arm in zip(axes, values, strict=False):
                    plot_extrapolation(result, ax=ax, arm=arm)
                for ax in axes[len(values):]:
                    ax.set_visible(False)

            save_plot(args, draw, (6.5 * cols, 4.6 * rows), layout="constrained")
    return EXIT_OK
