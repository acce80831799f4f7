"""Maximum-likelihood mixing laws of per-prompt leak probabilities, and their predictions.

A *family* is a law G of the per-prompt leak probability p, optionally with an atom at p = 0
(prompts that never leak, share pi0):

* ``beta``, ``zi-beta``: one beta component, p ~ Beta(a, b) (Kazdan et al. 2025);
* ``beta-mix``, ``zi-beta-mix``: a mixture of two betas;
* ``logit-normal``, ``zi-logit-normal``: logit p ~ Normal(m, s), the random-intercept logistic
  model (GLMM), whose left tail in p is lighter than any beta's.

The implementation is split by content: :mod:`leakstats.laws.special` (log-gamma and log-beta
ratios without cancellation at large k), :mod:`leakstats.laws.pairs` (the distinct (n, c)
pairs), :mod:`leakstats.laws.families` (the families and ``FAMILIES``) and
:mod:`leakstats.laws.fit` (optimiser, fits, predictions, folds, bootstrap). This module
re-exports the names other code uses.
"""

from __future__ import annotations

from .families import FAMILIES, BetaFamily, Family, LogitNormalFamily
from .fit import (
    bootstrap_fits,
    cross_validated_loglik,
    fit_families,
    fit_family,
    fixed_prompt_moments,
    fold_weights,
    minimize_batched,
    predict,
)
from .pairs import Pairs
from .special import log_beta_ratio, log_gamma_ratio

__all__ = [
    "FAMILIES",
    "BetaFamily",
    "Family",
    "LogitNormalFamily",
    "Pairs",
    "bootstrap_fits",
    "cross_validated_loglik",
    "fit_families",
    "fit_family",
    "fixed_prompt_moments",
    "fold_weights",
    "log_beta_ratio",
    "log_gamma_ratio",
    "minimize_batched",
    "predict",
]
