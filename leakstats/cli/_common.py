"""What the subcommands share: argument types, output options, file checks, the exit codes.

Imports only the standard library and :mod:`leakstats.core` (no numpy, pandas or
matplotlib), so that ``leakstats --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TextIO

from leakstats.core.deprecation import REMOVED_IN
from leakstats.core.errors import OutputExistsError

PROG = "leakstats"
EXIT_OK = 0
EXIT_USAGE = 2


# --------------------------------------------------------------------------- argument types


def k_list(text: str) -> list[int]:
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


def name_list(text: str) -> list[str]:
    """``"method,temperature"`` -> ``["method", "temperature"]``; ``""`` -> ``[]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def level(text: str) -> float:
    """A confidence level as a float (its range is checked by the library)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number strictly between 0 and 1 such as 0.95, got {text!r}"
        ) from None


def seed(text: str) -> int:
    """A seed: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 such as 0, got {text!r}")
    return value


def renamed_option(new: str, removed_in: str = REMOVED_IN) -> type[argparse.Action]:
    """An argparse action for an old option name: stores into the new one and warns."""

    class Renamed(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            print(f"{PROG}: warning: {option_string} is renamed {new}; the old name stops "
                  f"working in leakstats {removed_in}.", file=sys.stderr)
            setattr(namespace, self.dest, values)

    return Renamed


# --------------------------------------------------------------------------- input


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--leaked``, ``--where`` and ``--input-format`` (see :func:`leakstats.read`)."""
    from leakstats.core.vocabulary import INPUT_FORMATS

    parser.add_argument("--leaked", default=None, metavar="RULE",
                        help="make 'leaked' from score columns, e.g. \"ES == 1\" or "
                        "\"rougeL_recall >= 0.4\" (required for Leak@k files)")
    parser.add_argument("--where", default=None, metavar="EXPR",
                        help="keep rows where EXPR holds, e.g. \"judge == 'keywords_any>=1' "
                        "and temperature == 1\"")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default="auto",
                        help="how to read FILE (default: from its suffix and content)")


def load_input(args: argparse.Namespace, path: Path):
    """The table in ``path``, read by :func:`leakstats.read` with the input options."""
    from leakstats.records.read import read

    return read(path, leaked=args.leaked, where=args.where, format=args.input_format)


# --------------------------------------------------------------------------- output


def add_output_options(parser: argparse.ArgumentParser, what: str = "table") -> None:
    """``--digits``, ``--output`` and ``--overwrite``."""
    parser.add_argument("--digits", type=int, default=4, metavar="N", help="decimals shown")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help=f"write the {what} here")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


def inputs_of(args: argparse.Namespace) -> list[Path]:
    """The input files of a command (its ``file`` or ``files`` arguments)."""
    single = getattr(args, "file", None)
    return [*([single] if single is not None else []), *getattr(args, "files", [])]


def check_writable(path: Path | None, overwrite: bool, option: str,
                   inputs: list[Path] = ()) -> None:
    """Refuse, before any work is done, to write over an input, to overwrite a file, or to
    write into a missing folder."""
    from leakstats.core.errors import InputNotFoundError

    if path is None:
        return
    target = path.expanduser().resolve()
    for source in inputs:
        source = Path(source).expanduser().resolve()
        if target == source or source in target.parents:
            raise OutputExistsError(
                f"{option}: '{path}' is an input of this command; leakstats never writes "
                f"over its input, not even with --overwrite. Fix: choose another path."
            )
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{option}: '{path}' already exists; leakstats does not overwrite files unless "
            f"asked. Fix: pass --overwrite, or choose another path."
        )
    if not path.parent.is_dir():
        raise InputNotFoundError(
            f"{option}: the folder '{path.parent}' does not exist. Fix: create it first, or "
            f"choose another path."
        )


def write_text(path: Path, text: str, overwrite: bool) -> None:
    """Write ``text`` to ``path`` (refusing an existing file unless ``overwrite``)."""
    mode = "w" if overwrite else "x"
    try:
        with open(path, mode, encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise OutputExistsError(
            f"--output: '{path}' already exists. Fix: pass --overwrite, or choose another path."
        ) from None


def emit(args: argparse.Namespace, text: str, what: str = "table") -> None:
    """Print ``text``, or write it to ``--output`` and say so on stderr."""
    if args.output is None:
        print(text)
    else:
        write_text(args.output, text + "\n", args.overwrite)
        print(f"{PROG}: wrote the {what} to '{args.output}'", file=sys.stderr)


def check_plot_path(args: argparse.Namespace) -> None:
    """Check ``--output`` and ``--plot`` before the work, not after it."""
    check_writable(args.output, args.overwrite, "--output", inputs_of(args))
    check_writable(args.plot, args.overwrite, "--plot", inputs_of(args))
    if args.plot is not None:
        from leakstats.report.plots import image_format

        image_format(args.plot, argument="--plot")


def save_plot(args: argparse.Namespace, draw, figsize: tuple[float, float], **figure) -> None:
    """Draw into a new matplotlib Figure with ``draw(figure)`` and save it to ``--plot``."""
    from matplotlib.figure import Figure

    from leakstats.report.plots import save_figure

    fig = Figure(figsize=figsize, **figure)
    draw(fig)
    save_figure(fig, args.plot, overwrite=args.overwrite)
    print(f"{PROG}: wrote the plot to '{args.plot}'", file=sys.stderr)


def report_warnings(caught: list[warnings.WarningMessage], stream: TextIO) -> None:
    """Print the warnings a command raised, one line each."""
    for item in caught:
        category = item.category
        from_leakstats = category.__module__.startswith("leakstats")
        prefix = "" if from_leakstats else f"{category.__name__}: "
        print(f"{PROG}: warning: {prefix}{item.message}", file=stream)


def error_text(exc: BaseException) -> str:
    """The message of an error with its notes, for a one-line ``leakstats: error:``."""
    lines = [str(exc) or type(exc).__name__, *getattr(exc, "__notes__", ())]
    return "\n".join(lines)
