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
import sys
import types
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
    # extrapolation to k >> n
    "extrapolate": "leakstats.extrapolate",
    "backtest": "leakstats.extrapolate",
    "ExtrapolationResult": "leakstats.extrapolate",
    "BacktestResult": "leakstats.extrapolate",
    # compare, certify, plan
    "compare": "leakstats.compare",
    "CompareResult": "leakstats.compare",
    "certify": "leakstats.certify",
    "CertifyResult": "leakstats.certify",
    "plan": "leakstats.plan",
    "PlanResult": "leakstats.plan",
    # generation layer (torch is imported only when a model is loaded)
    "generate_samples": "leakstats.generate",
    "read_store": "leakstats.generate",
    "default_model_path": "leakstats.generate",
    "DecodingConfig": "leakstats.generate",
    "GenerationResult": "leakstats.generate",
    "load_prompts": "leakstats.benchmarks",
    "make_judge": "leakstats.judges",
    "relabel": "leakstats.judges",
    # presentation
    "plot_leak_curve": "leakstats.plots",
    "plot_prompt_forest": "leakstats.plots",
    "plot_extrapolation": "leakstats.plots",
    "plot_backtest": "leakstats.plots",
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


class _Package(types.ModuleType):
    """The package's module type: keeps ``leakstats.compare`` (and the other functions named like
    the module that defines them: compare, certify, plan, extrapolate) bound to the function.

    Importing a submodule makes Python set it as an attribute of the package, which would
    replace the lazily loaded function of the same name (``leakstats.compare`` would become a
    module after ``from leakstats.compare import CompareResult``). Here such an assignment binds
    the function instead, so ``leakstats.compare(...)`` works in any import order; the module
    stays in ``sys.modules["leakstats.compare"]``.
    """

    def __setattr__(self, name: str, value) -> None:
        if (isinstance(value, types.ModuleType) and _API.get(name) == value.__name__
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    from leakstats.benchmarks import load_prompts  # noqa: F401
    from leakstats.certify import CertifyResult, certify  # noqa: F401
    from leakstats.compare import CompareResult, compare  # noqa: F401
    from leakstats.datasets import example_path, example_records  # noqa: F401
    from leakstats.estimate import leak_at_k  # noqa: F401
    from leakstats.extrapolate import (  # noqa: F401
        BacktestResult,
        ExtrapolationResult,
        backtest,
        extrapolate,
    )
    from leakstats.generate import (  # noqa: F401
        DecodingConfig,
        GenerationResult,
        default_model_path,
        generate_samples,
        read_store,
    )
    from leakstats.judges import make_judge, relabel  # noqa: F401
    from leakstats.paired import PairedLogitModel  # noqa: F401
    from leakstats.plan import PlanResult, plan  # noqa: F401
    from leakstats.plots import (  # noqa: F401
        plot_backtest,
        plot_extrapolation,
        plot_leak_curve,
        plot_prompt_forest,
    )
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
