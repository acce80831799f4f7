"""The choices of leakstats' options, in one place, importable without numpy or pandas.

The library validates against these tuples and the command line offers them as ``choices``,
so ``leakstats --help`` stays fast and the two can never disagree. An option is named after
what it chooses, never after a data column: ``ci_method`` (an interval construction),
``bound`` (a certified upper bound), ``family`` (a law of per-prompt leak rates), ``test``,
``correction``, ``population``, ``format``; ``n_resamples`` counts bootstrap or permutation
resamples everywhere; ``rng`` is the seed or Generator of every random function.
"""

from __future__ import annotations

__all__ = [
    "BACKENDS",
    "BOUNDS",
    "CI_METHODS",
    "CORRECTIONS",
    "FAMILIES",
    "FILE_FORMATS",
    "IMPORTED_FORMATS",
    "INPUT_FORMATS",
    "MISSING",
    "PLAN_GOALS",
    "POPULATIONS",
    "RENAMED_TESTS",
    "TABLE_FORMATS",
    "TESTS",
]

#: ``population=``: the estimand. The benchmark's own prompts, or a population they sample.
POPULATIONS = ("prompts", "superpopulation")
#: ``ci_method=`` of :func:`leakstats.leak_at_k`: interval constructions.
CI_METHODS = ("auto", "cp-eb", "cp-effective", "wald", "bootstrap")
#: ``bound=`` of :func:`leakstats.certify`: one-sided upper-bound constructions.
BOUNDS = ("auto", "pooled", "u-statistic", "union", "scholten")
#: ``family=`` of :func:`leakstats.extrapolate`: laws of the per-prompt leak rates.
FAMILIES = ("auto", "beta", "zi-beta", "beta-mix", "zi-beta-mix", "logit-normal",
            "zi-logit-normal", "bayes", "power-law", "power-law-neglog")
#: ``test=`` of :func:`leakstats.compare`.
TESTS = ("auto", "score", "mover", "paired-bootstrap", "permutation", "gee", "bayes")
#: Old ``test=`` values that still work for one release: old -> new.
RENAMED_TESTS = {"glmm": "gee"}
#: ``correction=`` of :func:`leakstats.compare`: statsmodels ``multipletests`` methods, "none".
CORRECTIONS = ("holm", "bonferroni", "hommel", "holm-sidak", "sidak", "simes-hochberg",
               "fdr_bh", "fdr_by", "none")
#: ``missing=`` of :func:`leakstats.compare`: what to do with prompts some methods lack.
MISSING = ("error", "drop")
#: ``format=`` of :func:`leakstats.format_table` and the command line's ``--format``.
TABLE_FORMATS = ("table", "csv", "json", "latex", "markdown")
#: ``format=`` of :func:`leakstats.read_table` / :func:`leakstats.write_table`: file formats.
FILE_FORMATS = ("parquet", "csv", "jsonl")
#: ``backend=`` of :func:`leakstats.generate_samples`: the generation engines.
BACKENDS = ("hf", "vllm")
#: ``format=`` of :func:`leakstats.read` and the CLI's ``--input-format``.
#: Other tools' outputs that :func:`leakstats.read` imports (module of
#: ``leakstats.records.importers`` for each).
IMPORTED_FORMATS = {"leakk": "leakk", "open-unlearning": "open_unlearning",
                    "lm-eval": "lm_eval", "inspect": "inspect_log"}
INPUT_FORMATS = ("auto", *FILE_FORMATS, *IMPORTED_FORMATS)
#: The goals of :func:`leakstats.plan`.
PLAN_GOALS = ("estimate", "compare", "certify")
