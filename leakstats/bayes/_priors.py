"""The priors of the hierarchical beta-binomial model (:class:`Priors`)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from leakstats.core.errors import LeakstatsError


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors of the beta-binomial model (the same for every arm).

    ``logit_mu`` and ``log_kappa`` are (mean, sd) of normal priors on logit(mu) and log(kappa);
    ``pi0`` is (alpha, beta) of a beta prior on the zero-inflation share. The defaults,
    logit(mu) ~ Normal(-3, 2.5), log(kappa) ~ Normal(1, 5) and pi0 ~ Beta(1, 1), put 95% prior
    mass on mu in [3.7e-4, 0.87] (rare to frequent leaks) and on kappa in [1.5e-4, 4.9e4]
    (all-or-nothing to homogeneous prompts), and make pi0 uniform. The wide log(kappa) prior
    matters with rare leaks, where the data say little about kappa (docs/bayes.md, "The
    model").
    """

    logit_mu: tuple[float, float] = (-3.0, 2.5)
    log_kappa: tuple[float, float] = (1.0, 5.0)
    pi0: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        for name in ("logit_mu", "log_kappa", "pi0"):
            value = getattr(self, name)
            ok = (
                isinstance(value, tuple | list)
                and len(value) == 2
                and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in value)
                and value[1] > 0
                and (name != "pi0" or value[0] > 0)
            )
            if not ok:
                raise LeakstatsError(
                    f"priors.{name}: {value!r} is not a pair of finite numbers with a positive "
                    f"second entry{' and first entry' if name == 'pi0' else ''}. Fix: e.g. "
                    f"Priors({name}={getattr(Priors, name)!r})."
                )
