"""leakstats: does an unlearned LLM really forget? leak@k under sampling, with honest statistics.

The public API is flat; submodules load on first use so that ``import leakstats`` stays fast
and never imports torch, PyMC or matplotlib.

>>> import leakstats
>>> res = leakstats.leak_at_k(leakstats.example_records(), k=[1, 8, 32])
>>> res.to_frame()["method"].nunique()
4
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_API = {
    # records
    "read_records": "leakstats.records",
    "read_counts": "leakstats.records",
    "read_table": "leakstats.records",
    "write_table": "leakstats.records",
    "validate_records": "leakstats.records",
    "validate_counts": "leakstats.records",
    "counts": "leakstats.records",
    "read_leakk_jsonl": "leakstats.records",
    "ARM_COLUMNS": "leakstats.records",
    # estimation
    "leak_at_k": "leakstats.estimate",
    "LeakAtKResult": "leakstats._results",
    # Bayesian layer
    "fit_bayes": "leakstats.bayes",
    "BetaBinomialModel": "leakstats.bayes",
    "Priors": "leakstats.bayes",
    "compare_loo": "leakstats.bayes",
    "ConvergenceWarning": "leakstats.bayes",
    "PairedLogitModel": "leakstats.paired",
    # presentation
    "plot_leak_curve": "leakstats.plots",
    "plot_prompt_forest": "leakstats.plots",
    "format_table": "leakstats.tables",
    # example data
    "example_records": "leakstats.datasets",
    "example_path": "leakstats.datasets",
    # errors and warnings
    "LeakstatsError": "leakstats._errors",
    "DataValidationError": "leakstats._errors",
    "ExtrapolationRequiredError": "leakstats._errors",
    "LeakstatsWarning": "leakstats._errors",
    "DegenerateDataWarning": "leakstats._errors",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'leakstats' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from leakstats._errors import (  # noqa: F401
        DataValidationError,
        DegenerateDataWarning,
        ExtrapolationRequiredError,
        LeakstatsError,
        LeakstatsWarning,
    )
    from leakstats._results import LeakAtKResult  # noqa: F401
    from leakstats.bayes import (  # noqa: F401
        BetaBinomialModel,
        ConvergenceWarning,
        Priors,
        compare_loo,
        fit_bayes,
    )
    from leakstats.datasets import example_path, example_records  # noqa: F401
    from leakstats.estimate import leak_at_k  # noqa: F401
    from leakstats.paired import PairedLogitModel  # noqa: F401
    from leakstats.plots import plot_leak_curve, plot_prompt_forest  # noqa: F401
    from leakstats.records import (  # noqa: F401
        ARM_COLUMNS,
        counts,
        read_counts,
        read_leakk_jsonl,
        read_records,
        read_table,
        validate_counts,
        validate_records,
        write_table,
    )
    from leakstats.tables import format_table  # noqa: F401
