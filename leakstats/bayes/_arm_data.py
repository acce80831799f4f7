"""The beta-binomial model's view of the data: distinct (arm, n, c) triples, and the checks
and warnings on each arm's counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leakstats.core.errors import DegenerateDataWarning, LeakstatsError, warn


def _distinct_triples(counts: pd.DataFrame, arms: list[str]):
    """Distinct (arm, n, c) triples with multiplicities ``w``, the arm labels, and per prompt
    (row of ``counts``) its arm code and the index of its triple (columns ``arm``, ``pair``)."""
    if arms:
        codes, uniques = pd.MultiIndex.from_frame(counts[arms]).factorize()
        labels = [tuple(u) for u in uniques]
    else:
        codes = np.zeros(len(counts), dtype=np.int64)
        labels = [()]
    frame = pd.DataFrame({
        "arm": codes, "n": counts["n_samples"].to_numpy(), "c": counts["n_leaked"].to_numpy()
    })
    pairs = frame.groupby(["arm", "n", "c"], sort=True).size().rename("w").reset_index()
    index = pd.MultiIndex.from_frame(pairs[["arm", "n", "c"]])
    prompt_pair = pd.DataFrame({
        "arm": codes, "pair": index.get_indexer(pd.MultiIndex.from_frame(frame)),
    })
    return pairs, labels, prompt_pair


def _check_arm_data(group: pd.DataFrame, label) -> None:
    """Refuse an arm with a single prompt; warn on few prompts, no leak, or only leaks."""
    text = "arm " + str(label) if label else "the data"
    if len(group) < 2:
        raise LeakstatsError(
            f"{text} has a single prompt: a model of how leak rates vary across prompts needs "
            "at least 2 prompts (10 or more for a useful posterior). Fix: add prompts, or use "
            "leakstats.leak_at_k for this arm."
        )
    n, c = group["n_samples"].to_numpy(), group["n_leaked"].to_numpy()
    if len(group) < 10:
        warn(f"{text} has only {len(group)} prompts: the posterior of mu, kappa and pi0 "
                      "will mostly reflect the priors.", DegenerateDataWarning)
    if c.sum() == 0:
        warn(
            f"No sample leaked in {text}: the data cannot tell prompts that never leak (pi0) "
            "from rare leaks; the posterior of leak@k at large k follows the priors. For a claim "
            "that holds whatever the priors, use an upper confidence bound (certify).",
            DegenerateDataWarning)
    elif (c == n).all():
        warn(
            f"Every sample leaked in {text}: leak@k is near 1 for every k; the posterior of the "
            "concentration follows the priors.", DegenerateDataWarning)
