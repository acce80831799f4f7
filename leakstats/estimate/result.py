"""Frozen result objects shared by the estimators."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Columns every interval table carries, in this order, after the arm columns and ``k``.
RESULT_COLUMNS = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "confidence_level",
    "ci_method",
    "n_prompts",
    "n_samples",
    "population",
)


@dataclass(frozen=True, repr=False, eq=False)
class LeakAtKResult:
    """leak@k estimates with confidence intervals, one row per arm and k.

    Attributes
    ----------
    arms : tuple of str
        The arm columns (e.g. ``("method", "temperature")``); empty for a single arm.
    confidence_level : float
        Two-sided confidence level of the intervals.
    population : {"prompts", "superpopulation"}
        The estimand: the benchmark's fixed prompts, or the population they were drawn from.
    ci_method : str
        The interval construction asked for (the ``ci_method`` column says what was used per
        row).
    """

    table: pd.DataFrame = field(repr=False)
    counts_table: pd.DataFrame = field(repr=False)
    arms: tuple[str, ...]
    confidence_level: float
    population: str
    ci_method: str

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per arm x k: arm columns, ``k``, then :data:`RESULT_COLUMNS`."""
        return self.table.copy()

    def counts(self) -> pd.DataFrame:
        """The validated counts table the estimates were computed from."""
        return self.counts_table.copy()

    def per_prompt(self) -> pd.DataFrame:
        """Per-prompt unbiased leak@k, long format: arm columns, ``prompt_id``, ``n_samples``,
        ``n_leaked``, ``k``, ``estimate``."""
        from leakstats.estimate.kernels import leak_at_k_unbiased

        ks = self.table["k"].unique()
        c = self.counts_table
        values = leak_at_k_unbiased(
            c["n_samples"].to_numpy()[:, None], c["n_leaked"].to_numpy()[:, None], ks[None, :]
        )
        out = c.loc[c.index.repeat(ks.size)].reset_index(drop=True)
        out["k"] = np.tile(ks, len(c))
        out["estimate"] = values.reshape(-1)
        return out

    def __repr__(self) -> str:
        from leakstats.report.tables import format_table

        head = (
            f"LeakAtKResult(population={self.population!r}, "
            f"confidence_level={self.confidence_level:g}, ci_method={self.ci_method!r})"
        )
        return head + "\n" + format_table(self.table, format="table")

    def _repr_html_(self) -> str:  # Jupyter
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")
