"""The data the mixing laws are fitted to: :class:`Pairs`, the distinct (n, c) pairs of one
arm with their multiplicities, cached binomial constants and the logit grid of the
logit-normal family, and ``_summaries`` (pooled rates used for starting points).

A prompt's count is c | n ~ integral Binomial(n, p) dG(p). Everything is evaluated on the
*distinct* (n, c) pairs, weighted by their multiplicity, so the cost does not grow with the
number of prompts. Beta families use closed forms (beta-binomial conjugacy); the logit-normal
family integrates on a fixed grid of logit p whose spacing follows the largest n (trapezoid
rule on a smooth peaked integrand: exact to many digits once the spacing is below the width
of the binomial likelihood, 2 / sqrt(n) on the logit scale; the pairs whose scaled marginal
likelihood underflows, where the law has next to no mass near the counts, are redone in log
space).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .special import _GRID_LIMITS, _GRID_MAX_POINTS


class Pairs:
    """Distinct (n, c) pairs of one arm, their multiplicities and cached constants."""

    def __init__(self, n, c, weight):
        self.n = np.asarray(n, dtype=float)
        self.c = np.asarray(c, dtype=float)
        self.weight = np.asarray(weight, dtype=float)
        self.zero = self.c == 0
        self.log_choose = gammaln(self.n + 1) - gammaln(self.c + 1) - gammaln(self.n - self.c + 1)
        self.n_prompts = float(self.weight.sum())
        self._grid = None

    @property
    def size(self) -> int:
        return self.n.size

    def logit_grid(self):
        """(x, p, L, offset, log_L): logit grid, p on it, scaled binomial likelihoods (D, G),
        log scale, and log L.

        L[d, g] = Binomial(c_d | n_d, p_g) / exp(offset_d), with offset_d the row maximum.
        """
        if self._grid is None:
            n_max = float(self.n.max())
            h = min(0.1, 1.0 / np.sqrt(n_max))
            lo, hi = _GRID_LIMITS
            size = int(np.ceil((hi - lo) / h)) + 1
            if size > _GRID_MAX_POINTS:
                size = _GRID_MAX_POINTS
            x = np.linspace(lo, hi, size)
            log_p = -np.logaddexp(0.0, -x)
            log_1mp = -np.logaddexp(0.0, x)
            log_l = (
                self.log_choose[:, None]
                + self.c[:, None] * log_p[None, :]
                + (self.n - self.c)[:, None] * log_1mp[None, :]
            )
            offset = log_l.max(axis=1)
            log_l -= offset[:, None]
            self._grid = (x, np.exp(log_p), np.exp(log_l), offset, log_l)
        return self._grid


def _summaries(pairs: Pairs):
    """Pooled leak rate, mean rate among leaking prompts, share of prompts with no leak."""
    rate = float(np.clip((pairs.weight @ pairs.c) / (pairs.weight @ pairs.n), 1e-6, 1 - 1e-6))
    leaking = pairs.c > 0
    if leaking.any():
        hot = float(pairs.weight[leaking] @ (pairs.c / pairs.n)[leaking]) / float(
            pairs.weight[leaking].sum()
        )
    else:
        hot = rate
    share_zero = float(pairs.weight @ pairs.zero) / pairs.n_prompts
    return rate, float(np.clip(hot, 1e-4, 1 - 1e-4)), share_zero
