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
# match leakstats.intervals.POPULATIONS / CI_METHODS and leakstats.tables.FORMATS.
POPULATIONS = ("prompts", "superpopulation")
CI_METHODS = ("auto", "cp-effective", "wald", "bootstrap")
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
    from leakstats.estimate import leak_at_k
    from leakstats.tables import format_table

    _check_writable(args.output, args.overwrite, "--output")
    _check_writable(args.plot, args.overwrite, "--plot")
    if args.plot is not None:  # fail before the work, not after it
        from leakstats.plots import image_format

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

        from leakstats.plots import plot_leak_curve, save_figure

        figure = Figure(figsize=(6.0, 4.0))
        plot_leak_curve(result, ax=figure.subplots())
        save_figure(figure, args.plot, overwrite=args.overwrite)
        print(f"{PROG}: wrote the plot to '{args.plot}'", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- main

#: One entry per subcommand; later ones (compare, certify, plan, generate, demo) go here.
_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_estimate,)


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
