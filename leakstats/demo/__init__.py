"""``leakstats demo``: the whole story on a real model, in one command.

A small model learns fictitious facts, is unlearned (gradient ascent, gradient difference, NPO,
and RULE on top of one of them), looks forgotten under greedy decoding, and is then sampled;
the toolkit measures leak@k with intervals, tests it against the greedy view and the retrain
reference with multiplicity-adjusted p-values, extrapolates it, certifies RULE, and writes a
report whose findings are computed from the numbers. See docs/demo.md.

Needs the generation extra (torch, transformers) for training and sampling; the analysis and
the report of an existing run need only the core, matplotlib and (optionally) PyMC.

>>> from leakstats.demo import PRESETS
>>> sorted(PRESETS)
['default', 'quick']
"""

from leakstats.demo._settings import PRESETS, DemoSettings, SamplingArm, resolve_settings
from leakstats.demo.export import export_results
from leakstats.demo.pipeline import DemoResult, run_demo

__all__ = [
    "PRESETS",
    "DemoResult",
    "DemoSettings",
    "SamplingArm",
    "export_results",
    "resolve_settings",
    "run_demo",
]
