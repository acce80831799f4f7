"""``leakstats compare``: methods on shared prompts, paired tests, paper tables."""

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
from leakstats.core.vocabulary import (
    CORRECTIONS,
    MISSING,
    POPULATIONS,
    RENAMED_TESTS,
    TABLE_FORMATS,
    TESTS,
)


def add(subparsers: argparse._SubParsersAction) -> None:
    """The ``compare`` subcommand and its arguments."""
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
            "  leakstats compare counts.csv --k 1 --test gee --format markdown --table "
            "differences"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+",
                        help="records or counts (Parquet, CSV, JSON Lines); a file without a "
                        "'method' column is one method, named after the file")
    parser.add_argument("--k", type=k_list, default=[1], metavar="K[,K...]",
                        help="e.g. 1,8,32 (default 1)")
    parser.add_argument("--baseline", default=None, metavar="NAME",
                        help="compare every method with this one (default: all pairs)")
    parser.add_argument("--test", choices=(*TESTS, *RENAMED_TESTS), default="auto",
                        help="default auto; glmm is the old name of gee")
    parser.add_argument("--correction", choices=CORRECTIONS, default="holm",
                        help="multiplicity correction (default holm)")
    parser.add_argument("--population", choices=POPULATIONS, default="prompts")
    parser.add_argument("--missing", choices=MISSING, default="error",
                        help="prompts some methods lack: error (default) or drop them")
    parser.add_argument("--by", type=name_list, default=None, metavar="COL[,COL...]",
                        help="arm columns (must include method when the files have one)")
    parser.add_argument("--confidence-level", type=level, default=0.95, metavar="LEVEL",
                        help="default 0.95")
    parser.add_argument("--n-resamples", type=int, default=2000, metavar="N",
                        help="bootstrap / permutation resamples (default 2000)")
    parser.add_argument("--seed", type=seed, default=None, metavar="N")
    parser.add_argument("--format", choices=TABLE_FORMATS, default="table", dest="fmt",
                        help="table (a printable report), csv, json, latex or markdown")
    parser.add_argument("--table", choices=("methods", "differences"), default=None,
                        help="which table for csv/json/latex/markdown (default: differences "
                        "for csv/json, methods for latex/markdown)")
    parser.add_argument("--plot", type=Path, default=None, metavar="PATH",
                        help="save the curves and the forest plot (format by suffix)")
    add_input_options(parser)
    add_output_options(parser)
    parser.set_defaults(func=run)


def _input(args: argparse.Namespace, files: list[Path], by):
    """One file's table as it is; several files as a {method: counts} dict (split by
    'method')."""
    from leakstats.core.errors import DataValidationError
    from leakstats.records.api import as_counts

    if len(files) == 1:
        return load_input(args, files[0]), by
    others = None if by is None else [b for b in by if b != "method"]
    methods: dict[str, object] = {}
    origin: dict[str, Path] = {}
    for path in files:
        frame = load_input(args, path)
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


def run(args: argparse.Namespace) -> int:
    """Compare, print or write the report or a table, and draw it with ``--plot``."""
    from leakstats.compare.api import compare
    from leakstats.report.tables import format_table

    check_plot_path(args)
    data, by = _input(args, args.files, args.by)
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
        text = format_table(frame, format=args.fmt)
    emit(args, text)
    if args.plot is not None:
        from leakstats.report.plots import plot_compare

        save_plot(args, lambda fig: plot_compare(result, axes=fig.subplots(1, 2)), (12.0, 5.0),
                  layout="constrained")
    return EXIT_OK
