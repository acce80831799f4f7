"""How well a fitted beta-binomial model describes its data: weighted PSIS-LOO and the posterior
predictive check of the distribution of n_leaked.

Both take a fitted :class:`~leakstats.bayes.model.BetaBinomialModel` and read its posterior
draws per arm (``_hyper``), its distinct (n, c) pairs (``_arm_pairs``) and its counts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from leakstats.bayes import _math as bm
from leakstats.bayes._base import ConvergenceWarning, _label_text
from leakstats.bayes._sampling import _import_pymc
from leakstats.bayes._seeds import PPC
from leakstats.core.errors import warn

_BINS = np.array([0.0, 1e-12, 0.01, 0.05, 0.2, 0.5, 1.0])
_STATISTICS = ["share with no leak", "share always leaking", "mean c/n", "sd of c/n",
               "0 < c/n <= 0.01", "0.01 < c/n <= 0.05", "0.05 < c/n <= 0.2",
               "0.2 < c/n <= 0.5", "0.5 < c/n <= 1"]


def _pointwise_loglik(model, arm_index: int) -> np.ndarray:
    """log p(c | n, draw) of one arm's distinct pairs, shape (S, D)."""
    a, b, pi0 = model._hyper(arm_index)
    pairs = model._arm_pairs(arm_index)
    c = pairs["c"].to_numpy()[None, :].astype(float)
    n = pairs["n"].to_numpy()[None, :].astype(float)
    return bm.log_zibb_pmf(c, n, a[:, None], b[:, None], pi0[:, None])


def _weighted_loo(model):
    """(summary Series, per-prompt elpd array) of weighted PSIS-LOO over all arms."""
    _, _, az = _import_pymc()
    elpd_pairs = []
    weights = []
    khat_max = 0.0
    for arm_index in range(len(model.arm_labels_)):
        ll = _pointwise_loglik(model, arm_index)  # (S, D)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lw, khat = az.psislw(-ll.T.copy())  # (D, S)
        lw = np.asarray(lw)
        elpd_pairs.append(np.logaddexp.reduce(lw + ll.T, axis=1))
        weights.append(model._arm_pairs(arm_index)["w"].to_numpy())
        khat_max = max(khat_max, float(np.max(khat)))
    per_prompt = np.repeat(np.concatenate(elpd_pairs), np.concatenate(weights))
    total = float(per_prompt.sum())
    se = math.sqrt(len(per_prompt) * per_prompt.var(ddof=1)) if len(per_prompt) > 1 else np.nan
    summary = pd.Series({"elpd_loo": total, "se": se, "max_pareto_k": khat_max})
    if khat_max > 0.7:
        warn(
            f"PSIS-LOO: the largest Pareto k is {khat_max:.2f} (> 0.7); the LOO estimate of "
            "some prompts is unreliable.", ConvergenceWarning)
    return summary, per_prompt


def _count_statistics(c: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The statistics named in ``_STATISTICS`` of per-prompt counts c out of n."""
    rate = c / n
    hist = np.histogram(rate, bins=_BINS)[0] / rate.size
    # the first bin [0, 1e-12) holds c/n = 0, reported as "share with no leak"
    return np.concatenate([[np.mean(c == 0), np.mean(c == n), rate.mean(), rate.std()],
                           hist[1:]])


def _ppc(model, n_draws: int, level: float) -> pd.DataFrame:
    """Observed vs replicated count statistics per arm (see ``BetaBinomialModel.ppc``)."""
    rng = model._child_rng(PPC)
    rows = []
    for arm_index, label in enumerate(model.arm_labels_):
        group = model._arm_counts(arm_index)
        n = group["n_samples"].to_numpy()
        a, b, pi0 = model._hyper(arm_index)
        pick = rng.choice(a.size, size=min(n_draws, a.size), replace=False)
        reps = []
        for s in pick:
            p = rng.beta(a[s], b[s], size=n.size)
            p[rng.random(n.size) < pi0[s]] = 0.0
            reps.append(_count_statistics(rng.binomial(n, p), n))
        reps = np.array(reps)
        obs = _count_statistics(group["n_leaked"].to_numpy(), n)
        lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0)
        p_val = 2 * np.minimum((reps >= obs).mean(axis=0), (reps <= obs).mean(axis=0))
        for j, name in enumerate(_STATISTICS):
            rows.append({"arm": _label_text(model.arms_, label), "statistic": name,
                         "observed": obs[j], "predicted_mean": reps[:, j].mean(),
                         "predicted_low": lo[j], "predicted_high": hi[j],
                         "p_value": min(1.0, p_val[j])})
    return pd.DataFrame(rows)
