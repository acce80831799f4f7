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
    "read": "leakstats.records.read",
    "read_records": "leakstats.records.api",
    "read_counts": "leakstats.records.api",
    "read_table": "leakstats.records.api",
    "write_table": "leakstats.records.api",
    "validate_records": "leakstats.records.api",
    "validate_counts": "leakstats.records.api",
    "counts": "leakstats.records.api",
    "read_leakk_jsonl": "leakstats.records.api",
    "read_leakk_summary": "leakstats.records.importers.leakk_summary",
    "ARM_COLUMNS": "leakstats.records.api",
    # estimation
    "leak_at_k": "leakstats.estimate.api",
    "LeakAtKResult": "leakstats.estimate.result",
    # Bayesian layer
    "fit_bayes": "leakstats.bayes.model",
    "BetaBinomialModel": "leakstats.bayes.model",
    "Priors": "leakstats.bayes.model",
    "compare_loo": "leakstats.bayes.model",
    "ConvergenceWarning": "leakstats.bayes.model",
    "PairedLogitModel": "leakstats.bayes.paired",
    # extrapolation to k >> n
    "extrapolate": "leakstats.extrapolate.api",
    "backtest": "leakstats.extrapolate.api",
    "ExtrapolationResult": "leakstats.extrapolate.api",
    "BacktestResult": "leakstats.extrapolate.api",
    # compare, certify, plan
    "compare": "leakstats.compare.api",
    "CompareResult": "leakstats.compare.api",
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
    "load_prompts": "leakstats.generate.prompts",
    "make_judge": "leakstats.generate.judges",
    "relabel": "leakstats.generate.judges",
    # presentation
    "plot_leak_curve": "leakstats.report.plots",
    "plot_prompt_forest": "leakstats.report.plots",
    "plot_extrapolation": "leakstats.report.plots",
    "plot_backtest": "leakstats.report.plots",
    "format_table": "leakstats.report.tables",
    "write_report": "leakstats.study.report",
    # example data
    "example_records": "leakstats.datasets",
    "example_path": "leakstats.datasets",
    # errors and warnings
    "LeakstatsError": "leakstats.core.errors",
    "DataValidationError": "leakstats.core.errors",
    "ExtrapolationRequiredError": "leakstats.core.errors",
    "LeakstatsWarning": "leakstats.core.errors",
    "DegenerateDataWarning": "leakstats.core.errors",
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
    the subpackage or module that defines them: compare, certify, plan, extrapolate) bound to the
    function.

    Importing a submodule makes Python set it as an attribute of the package, which would
    replace the lazily loaded function of the same name (``leakstats.compare`` would become a
    module after ``from leakstats.compare import CompareResult``). Here such an assignment binds
    the function instead, so ``leakstats.compare(...)`` works in any import order; the module
    stays in ``sys.modules["leakstats.compare"]``.
    """

    def __setattr__(self, name: str, value) -> None:
        if (isinstance(value, types.ModuleType) and name in _API
                and value.__name__ == f"{__name__}.{name}" and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from leakstats.bayes.model import (  # noqa: F401
        BetaBinomialModel,
        ConvergenceWarning,
        Priors,
        compare_loo,
        fit_bayes,
    )
    from leakstats.bayes.paired import PairedLogitModel  # noqa: F401
    from leakstats.certify import CertifyResult, certify  # noqa: F401
    from leakstats.compare.api import CompareResult, compare  # noqa: F401
    from leakstats.core.errors import (  # noqa: F401
        DataValidationError,
        DegenerateDataWarning,
        ExtrapolationRequiredError,
        LeakstatsError,
        LeakstatsWarning,
    )
    from leakstats.datasets import example_path, example_records  # noqa: F401
    from leakstats.estimate.api import leak_at_k  # noqa: F401
    from leakstats.estimate.result import LeakAtKResult  # noqa: F401
    from leakstats.extrapolate.api import (  # noqa: F401
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
    from leakstats.generate.judges import make_judge, relabel  # noqa: F401
    from leakstats.generate.prompts import load_prompts  # noqa: F401
    from leakstats.plan import PlanResult, plan  # noqa: F401
    from leakstats.records.api import (  # noqa: F401
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
    from leakstats.records.importers.leakk_summary import read_leakk_summary  # noqa: F401
    from leakstats.records.read import read  # noqa: F401
    from leakstats.report.plots import (  # noqa: F401
        plot_backtest,
        plot_extrapolation,
        plot_leak_curve,
        plot_prompt_forest,
    )
    from leakstats.report.tables import format_table  # noqa: F401
    from leakstats.study.report import write_report  # noqa: F401
