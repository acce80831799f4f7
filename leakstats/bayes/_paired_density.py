"""The paired model's log posterior density of (alpha, log sigma), the prompt effects
integrated out (:class:`PairedDensity`), and its whitened coordinates for NUTS."""

from __future__ import annotations

import numpy as np


class PairedDensity:
    """log p(alpha, log sigma | data) and its gradient, the prompt effects integrated out.

    Parameters
    ----------
    n, c : arrays (D, A)
        Distinct count patterns (samples and leaks per arm; n = 0 where an arm did not see the
        prompts); w : (D,) their multiplicities.
    """

    PRIOR_ALPHA = (-3.0, 2.5)
    PRIOR_SIGMA_SCALE = 2.5

    def __init__(self, n, c, w):
        from scipy.special import gammaln

        self.n = np.ascontiguousarray(n, dtype=float)
        self.c = np.ascontiguousarray(c, dtype=float)
        self.w = np.asarray(w, dtype=float)
        self.n_arms = self.n.shape[1]
        self.size = self.n_arms + 1
        self.state = np.zeros((self.n.shape[0], 3))
        mean, sd = self.PRIOR_ALPHA
        scale = self.PRIOR_SIGMA_SCALE
        binomial = gammaln(self.n + 1) - gammaln(self.c + 1) - gammaln(self.n - self.c + 1)
        self.const = float(
            (self.w[:, None] * binomial).sum()
            - self.n_arms * np.log(np.sqrt(2 * np.pi) * sd)
            + np.log(2 / (np.sqrt(2 * np.pi) * scale))
        )

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        from leakstats.bayes._paired_kernel import log_density

        theta = np.asarray(theta, dtype=float)
        value, grad = log_density(theta, self.n, self.c, self.w, *self.PRIOR_ALPHA,
                                  self.PRIOR_SIGMA_SCALE, self.state)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            return -np.inf, np.zeros(theta.size)
        return value + self.const, grad

    def mode(self) -> np.ndarray:
        """The posterior mode (L-BFGS from alpha = -3, sigma = 1); the start if that fails."""
        from scipy.optimize import minimize

        start = np.r_[np.full(self.n_arms, self.PRIOR_ALPHA[0]), 0.0]
        result = minimize(lambda t: tuple(-v for v in self(t)), start, jac=True,
                          method="L-BFGS-B")
        ok = np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
        return result.x if ok and result.fun <= -self(start)[0] else start

    def laplace(self) -> tuple[np.ndarray, np.ndarray]:
        """The mode and a Cholesky factor of the inverse Hessian there (identity if that
        fails): NUTS runs on theta = mode + factor @ psi, in which the posterior is close to
        a standard normal. The method levels alpha_m are strongly correlated (they share the
        uncertain centre of the prompt effects), which a diagonal mass matrix adapts to poorly.
        """
        mode = self.mode()
        step = 1e-4
        hessian = np.empty((self.size, self.size))
        for j in range(self.size):
            up, down = mode.copy(), mode.copy()
            up[j] += step
            down[j] -= step
            hessian[:, j] = (self(up)[1] - self(down)[1]) / (2 * step)
        hessian = -(hessian + hessian.T) / 2
        try:
            factor = np.linalg.cholesky(np.linalg.inv(hessian))
        except np.linalg.LinAlgError:
            factor = np.eye(self.size)
        if not np.isfinite(factor).all():
            factor = np.eye(self.size)
        return mode, factor


class _Whitened:
    """psi -> (log density, gradient) of theta = center + factor @ psi (constant Jacobian)."""

    def __init__(self, density, center, factor):
        self.density = density
        self.center = center
        self.factor = factor

    def __call__(self, psi):
        value, grad = self.density(self.center + self.factor @ np.asarray(psi, dtype=float))
        return value, self.factor.T @ grad
