"""Log posterior density of the (zero-inflated) beta-binomial model and its gradient.

NUTS needs log p(theta | data) and its gradient on an unconstrained scale. Per arm,
theta = (logit mu, log kappa[, logit pi0]); with a = mu kappa and b = (1 - mu) kappa,

    log p = sum_d w_d l(c_d | n_d, a, b, pi0)                 (distinct (n, c) pairs, weighted)
            + log N(logit mu) + log N(log kappa)
            + alpha log pi0 + beta log(1 - pi0)                (Beta prior and logit Jacobian)

where l is the log zero-inflated beta-binomial pmf. The gradient is analytic (digamma terms).
Writing the density by hand (compiled by numba: :mod:`leakstats.bayes._kernel`), instead of
as a PyTensor graph, leaves PyMC a graph of a few nodes to compile instead of a few dozen C
modules (compile times: docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln


class LogDensity:
    """log p(theta | data) and its gradient for all arms at once.

    Parameters
    ----------
    arm, n, c, w : arrays
        The distinct (arm, n, c) triples and their multiplicities.
    n_arms : int
    priors : leakstats.Priors
    zero_inflated : bool
    """

    def __init__(self, arm, n, c, w, n_arms: int, priors, zero_inflated: bool):
        self.arm = np.asarray(arm, dtype=np.int64)
        self.n = np.asarray(n, dtype=float)
        self.c = np.asarray(c, dtype=float)
        self.w = np.asarray(w, dtype=float)
        self.n_arms = int(n_arms)
        self.priors = priors
        self.zero_inflated = bool(zero_inflated)
        self.dim = 3 if zero_inflated else 2
        pr = priors
        self._prior_args = tuple(map(float, (*pr.logit_mu, *pr.log_kappa, *pr.pi0)))
        # normalising constants: binomial coefficients and the priors' normalisers
        (_, s1), (_, s2) = priors.logit_mu, priors.log_kappa
        prior_const = -np.log(2 * np.pi * s1 * s2)
        if self.zero_inflated:
            prior_const -= betaln(*priors.pi0)
        self.const = float(np.sum(self.w * (
            gammaln(self.n + 1) - gammaln(self.c + 1) - gammaln(self.n - self.c + 1)
        )) + self.n_arms * prior_const)

    @property
    def size(self) -> int:
        return self.n_arms * self.dim

    def initial_point(self) -> np.ndarray:
        """The prior medians: a start inside the typical set of weakly informed posteriors."""
        pr = self.priors
        row = [pr.logit_mu[0], pr.log_kappa[0]]
        if self.zero_inflated:
            row.append(0.0)
        return np.tile(np.asarray(row, dtype=float), self.n_arms)

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        from leakstats.bayes._kernel import log_density

        theta = np.asarray(theta, dtype=float).reshape(self.n_arms, self.dim)
        value, grad = log_density(theta, self.arm, self.n, self.c, self.w, self.zero_inflated,
                                  *self._prior_args)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            return -np.inf, np.zeros(theta.size)  # far out (kappa -> 0 or inf, mu -> 0 or 1)
        return value + self.const, grad.ravel()

    def mode(self) -> np.ndarray:
        """The posterior mode (L-BFGS from the prior medians); the medians if that fails."""
        from scipy.optimize import minimize

        start = self.initial_point()
        result = minimize(lambda t: tuple(-v for v in self(t)), start, jac=True,
                          method="L-BFGS-B")
        ok = np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
        return result.x if ok and result.fun <= -self(start)[0] else start

    def unpack(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Split draws of theta (..., size) into named arrays (..., n_arms)."""
        shaped = draws.reshape(*draws.shape[:-1], self.n_arms, self.dim)
        out = {"logit_mu": shaped[..., 0], "log_kappa": shaped[..., 1]}
        if self.zero_inflated:
            out["logit_pi0"] = shaped[..., 2]
        return out
