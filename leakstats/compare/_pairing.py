"""Input handling and prompt pairing for :func:`leakstats.compare.api.compare`.

This module holds the helpers that turn compare's ``data`` argument into one counts table
(:func:`_collect`, :func:`_from_mapping` for a ``{method_name: records_or_counts}`` dict),
check every decoding configuration and align its methods on their shared prompts
(:func:`_pair_up`, with :func:`_label` and :func:`_missing_text` for its error messages),
list the method pairs to compare (:func:`_pairs`, all pairs or each method against a baseline)
and pivot one configuration into per-method count arrays aligned by prompt (:func:`_aligned`).
``METHOD`` is the name of the column that names the methods.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from leakstats.core.errors import DataValidationError, LeakstatsError

METHOD = "method"


def _from_mapping(data: Mapping, by) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Counts of a ``{method_name: records_or_counts}`` dict, its arms and the method order."""
    from leakstats.records.api import as_counts
    from leakstats.records.read import read

    if len(data) == 0:
        raise LeakstatsError(
            "argument 'data': the dict of methods is empty. Fix: pass {method_name: records "
            "or counts, ...} with at least two methods."
        )
    names: dict[str, Any] = {}
    tables, arm_sets = [], []
    for key, value in data.items():
        name = str(key)
        if name in names:
            raise DataValidationError(
                f"argument 'data': duplicate method name {name!r} (keys {names[name]!r} and "
                f"{key!r} name the same method). Fix: give every method a distinct name.",
                column=METHOD,
            )
        names[name] = key
        frame = read(value) if isinstance(value, str | os.PathLike) else value
        if isinstance(frame, pd.DataFrame) and METHOD in frame.columns:
            found = sorted(map(str, pd.unique(frame[METHOD].dropna())))
            if found != [name]:
                raise DataValidationError(
                    f"argument 'data': the table of method {name!r} has a 'method' column "
                    f"with values {found[:5]}{' ...' if len(found) > 5 else ''}. Fix: drop "
                    "that column (the dict key names the method), or pass one table with a "
                    "'method' column instead of a dict.",
                    column=METHOD,
                )
        if isinstance(frame, pd.DataFrame):
            frame = frame.assign(**{METHOD: name})
        entry_by = by if by is None else [METHOD, *[b for b in by if b != METHOD]]
        table, arms = as_counts(frame, by=entry_by)
        tables.append(table)
        arm_sets.append(arms)
    first = arm_sets[0]
    for name, arms in zip(names, arm_sets, strict=True):
        if sorted(arms) != sorted(first):
            raise DataValidationError(
                f"argument 'data': the methods have different arm columns: {first} for "
                f"{next(iter(names))!r} but {arms} for {name!r}. Fix: give every table the "
                "same decoding columns (or pass by= to choose them).",
            )
    counts = pd.concat([t[[*first, "prompt_id", "n_samples", "n_leaked"]] for t in tables],
                       ignore_index=True)
    return counts, list(first), list(names)


def _collect(data, by) -> tuple[pd.DataFrame, list[str], list[str]]:
    from leakstats.records.api import as_counts

    if isinstance(data, Mapping):
        counts, arms, order = _from_mapping(data, by)
    else:
        counts, arms = as_counts(data, by=by)
        order = None
    if METHOD not in arms:
        raise DataValidationError(
            f"compare needs a {METHOD!r} column naming the methods; the arm columns are "
            f"{arms}. Fix: add a 'method' column, include it in by=, or pass a dict "
            "{method_name: records_or_counts}.",
            column=METHOD,
        )
    methods = list(pd.unique(counts[METHOD])) if order is None else order
    return counts, arms, methods


def _label(configs: list[str], key: tuple) -> str:
    if not configs:
        return "the data"
    return "configuration " + ", ".join(f"{c}={v!r}" for c, v in zip(configs, key, strict=True))


def _missing_text(group: pd.DataFrame, methods: list, union: pd.Index) -> str:
    lines = []
    for m in methods:
        have = pd.Index(group.loc[group[METHOD] == m, "prompt_id"])
        lacks = union.difference(have)
        if len(lacks):
            shown = ", ".join(map(repr, lacks[:5].tolist()))
            more = f" and {len(lacks) - 5} more" if len(lacks) > 5 else ""
            lines.append(f"  method {m!r} lacks {len(lacks)} prompt(s): {shown}{more}")
    return "\n".join(lines)


def _pair_up(counts: pd.DataFrame, configs: list[str], methods: list, baseline, missing: str):
    """Check and align every configuration; return (kept counts, dropped rows, plans)."""
    groups = counts.groupby(configs, sort=False, dropna=False) if configs else [((), counts)]
    kept, dropped, plans = [], [], []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = _label(configs, key)
        here = [m for m in methods if (group[METHOD] == m).any()]
        if len(here) < 2:
            raise DataValidationError(
                f"{label} has a single method ({here[0]!r}); compare needs at least two "
                "methods in every configuration. Fix: add the other methods' samples for "
                f"this configuration, or filter it out (arm columns: {configs}).",
                column=METHOD,
            )
        if baseline is not None and baseline not in here:
            raise LeakstatsError(
                f"baseline: {baseline!r} is not among the methods of {label} "
                f"({', '.join(map(repr, here))}). Fix: pass one of these as baseline=, or "
                "baseline=None to compare all pairs."
            )
        per = {m: set(group.loc[group[METHOD] == m, "prompt_id"]) for m in here}
        shared = set.intersection(*per.values())
        union = pd.Index(sorted(set.union(*per.values()), key=str))
        if len(shared) < len(union):
            if missing == "error":
                where = f" of {label}" if configs else ""
                raise DataValidationError(
                    f"the methods{where} were not evaluated on the same prompts, so the "
                    f"comparison cannot be paired:\n{_missing_text(group, here, union)}\n"
                    "Fix: evaluate every method on every prompt, or pass missing='drop' to "
                    f"compare on the {len(shared)} shared prompt(s) (result.dropped() lists "
                    "the rest).",
                    column="prompt_id",
                )
            out = ~group["prompt_id"].isin(shared)
            dropped.append(group.loc[out])
            group = group.loc[~out]
        if len(shared) < 2:
            small = ", ".join(f"{m!r}: {len(per[m])}" for m in here)
            raise DataValidationError(
                f"{label[0].upper()}{label[1:]}: the methods share {len(shared)} prompt(s) "
                f"(prompts per method: "
                f"{small}); a paired comparison needs at least 2 shared prompts (the bootstrap "
                "and the GEE resample and cluster over prompts). Fix: evaluate the methods on "
                "more prompts.",
                column="prompt_id",
            )
        kept.append(group)
        plans.append((key, label, here, group))
    return kept, dropped, plans


def _pairs(here: list, baseline) -> list[tuple]:
    if baseline is None:
        return list(combinations(here, 2))
    return [(m, baseline) for m in here if m != baseline]




def _aligned(group: pd.DataFrame, here: list) -> tuple[dict, dict]:
    """n and c arrays per method, rows aligned by prompt."""
    wide = group.pivot(index="prompt_id", columns=METHOD, values=["n_samples", "n_leaked"])
    n = {m: wide[("n_samples", m)].to_numpy(np.int64) for m in here}
    c = {m: wide[("n_leaked", m)].to_numpy(np.int64) for m in here}
    return n, c
