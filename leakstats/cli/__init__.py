"""The ``leakstats`` command line.

Each subcommand is a module of this package with an ``add`` function (its arguments) and a
``run`` function (what it does, returning an exit code). numpy, pandas, scipy and matplotlib
are imported inside ``run``, and the choices come from :mod:`leakstats.core.vocabulary`, so
that ``leakstats --help`` stays fast and offers exactly what the library accepts.

Exit codes: 0 success, 2 bad arguments or input. Bad input is what leakstats itself refuses
(a :class:`leakstats.LeakstatsError`, including its file errors: a missing input, an existing
output, a missing optional dependency); it is reported as one ``leakstats: error: ...`` line.
Any other exception is a bug and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from leakstats import __version__
from leakstats.cli import certify, compare, demo, estimate, extrapolate, generate, plan, report
from leakstats.cli._common import EXIT_USAGE, PROG, error_text, report_warnings
from leakstats.core.errors import LeakstatsError

__all__ = ["build_parser", "main"]

#: The subcommands, in the order ``leakstats --help`` lists them.
_COMMANDS = (estimate, generate, compare, certify, extrapolate, report, plan, demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``leakstats`` command, with all subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="leak@k of unlearned LLMs under sampling, with calibrated statistics.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add(subparsers)
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
        ``leakstats: error: ...`` message is printed to stderr, without a traceback). Other
        exceptions propagate.

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
        except LeakstatsError as exc:
            code = EXIT_USAGE
            error = exc
        else:
            error = None
        finally:
            report_warnings(caught, sys.stderr)
    if error is not None:
        print(f"{PROG}: error: {error_text(error)}", file=sys.stderr)
    return code
