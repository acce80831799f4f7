"""Maximum-likelihood mixing laws of per-prompt leak probabilities, and their predictions.

A *family* is a law G of the per-prompt leak probability p, optionally with an atom at p = 0
(prompts that never leak, share pi0):

* ``beta``, ``zi-beta``: one beta component, p ~ Beta(a, b) (Kazdan et al. 2025);
* ``beta-mix``, ``zi-beta-mix``: a mixture of two betas;
* ``logit-normal``, ``zi-logit-normal``: logit p ~ Normal(m, s), the random-intercept logistic
  model (GLMM), whose left tail in p is lighter than any beta's.

A prompt's count is c | n ~ integral Binomial(n, p) dG(p). Everything is evaluated on the
*distinct* (n, c) pairs, weighted by their multiplicity, so the cost does not grow with the
number of prompts. Beta families use closed forms (beta-binomial conjugacy); the logit-normal
family integrates on a fixed grid of logit p whose spacing follows the largest n (trapezoid
rule on a smooth peaked integrand: exact to many digits once the spacing is below the width
of the binomial likelihood, 2 / sqrt(n) on the logit scale; the pairs whose scaled marginal
likelihood underflows, where the law has next to no mass near the counts, are redone in log
space).

Unconstrained parameters (the optimiser's coordinates), in this order: ``logit pi0``
(zero-inflated families), ``logit w1`` (two-component mixtures), then per beta component
``logit mu, log kappa`` (a = mu kappa, b = (1 - mu) kappa), or ``m, log s`` (logit-normal).
Gradients are analytic; all functions are vectorised over S parameter rows (bootstrap
replicates, starts, folds) so that refits run as one batched quasi-Newton optimisation.

Predictions for a prompt with counts (n, c), under G: posterior weights r_0 = P(p = 0 | c) and
r_j over the components; E[leak@k | c] = sum_j r_j (1 - R_jk) with
R_jk = E[(1 - p)^k | c, j] = B(a_j + c, b_j + n - c + k) / B(a_j + c, b_j + n - c) for a beta
component; second moments likewise with R_j,2k. k = inf is the asymptote: a prompt leaks
eventually unless p = 0.

Large k (up to 1e18 and beyond) is computed in log space. log R = log B(x, y + k) - log B(x, y)
(x = a + c, y = b + n - c) is written as D(y, x) - D(y + k, x) with D(z, s) = log G(z + s) -
log G(z) (for k < x, as D(y, k) - D(y + x, k): the ratio is symmetric in x and k), and D is
computed from the difference of the Stirling series at z + s and z for z >= 15 (below, log G
is small and the direct difference, after the recurrence of G when s < 1, is exact enough),
so that no two log-gammas of size k log k are subtracted: the direct difference loses every
digit past k ~ 1e15 (log G(1e16) ~ 3.6e17, whose spacing of doubles is 64). log R <= 0
exactly, so each component's leak@k = -expm1(log R) lies in [0, 1] and increases with k; a
mixture adds them with non-negative weights.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, logit, logsumexp

# --------------------------------------------------------------------------- data
#: Finest logit-grid spacing used by the logit-normal family, and the largest grid.
_GRID_LIMITS = (-32.0, 12.0)
_GRID_MAX_POINTS = 20_000
#: Below this, a scaled marginal likelihood on the logit grid is recomputed in log space.
_Q_TINY = 1e-280


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


#: Stirling series of log G(z) - ((z - 1/2) log z - z + log(2 pi) / 2), coefficients of
#: 1/z, 1/z^3, ...; with 5 terms and z >= 15 the truncation error is below 1e-16.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)
_STIRLING_MIN = 15.0


def _stirling_tail(z):
    """The series without its first term: sum over m >= 2 of c_m z^-(2m - 1)."""
    w = np.reciprocal(z * z)
    out = w * _STIRLING[-1]
    for coef in _STIRLING[-2:0:-1]:
        out += coef
        out *= w
    out /= z
    return out


def log_gamma_ratio(z, s):
    """log G(z + s) - log G(z) for z > 0, s >= 0 (arrays of one shape, or scalars), without
    cancellation at large z."""
    z = np.asarray(z, dtype=float)
    s = np.asarray(s, dtype=float)
    shape = np.broadcast_shapes(z.shape, s.shape)
    if z.shape != s.shape or z.ndim == 0:
        z, s = np.broadcast_arrays(np.atleast_1d(z), np.atleast_1d(s))
    small = z < _STIRLING_MIN
    zl = np.where(small, _STIRLING_MIN, z) if small.any() else z
    zs = zl + s
    # (z' - 1/2) log z' - z' - (z - 1/2) log z + z, z' = z + s, and the series' difference:
    # its first term c_1 (1 / z' - 1 / z) = -s / (12 z z') exactly, the rest directly
    out = np.log(zs)
    out -= 1.0
    out *= s
    out += (zl - 0.5) * np.log1p(s / zl)
    out -= s / (12.0 * zl * zs)
    out += _stirling_tail(zs)
    out -= _stirling_tail(zl)
    if small.any():
        zi, si = z[small], s[small]
        # small z: log G(z) < 26, so the direct difference keeps its absolute accuracy;
        # for s < 1 (a relative accuracy too), shift z up by G(z + 1) = z G(z) first
        val = gammaln(zi + si) - gammaln(zi)
        tiny = si < 1.0
        if tiny.any():
            zt, st = zi[tiny].copy(), si[tiny]
            shift = np.zeros(zt.shape)
            low = zt < _STIRLING_MIN
            while low.any():
                shift[low] += np.log1p(st[low] / zt[low])
                zt[low] += 1.0
                low = zt < _STIRLING_MIN
            val[tiny] = log_gamma_ratio(zt, st) - shift
        out[small] = val
    return out.reshape(shape)


def log_beta_ratio(x, y, k, d_yx=None):
    """log [B(x, y + k) / B(x, y)] = log E[(1 - p)^k] for p ~ Beta(x, y); <= 0, finite for
    x, y > 0 and any finite k >= 0 (see the module docstring). ``d_yx``: the value of
    ``log_gamma_ratio(y, x)`` when already known (it does not depend on k)."""
    x, y, k = (np.asarray(v, dtype=float) for v in (x, y, k))
    shape = np.broadcast_shapes(x.shape, y.shape, k.shape)
    x, y, k = (np.atleast_1d(v) for v in (x, y, k))
    if not (x.shape == y.shape == k.shape):
        x, y, k = np.broadcast_arrays(x, y, k)
    if d_yx is None:
        d_yx = log_gamma_ratio(y, x)
    out = d_yx - log_gamma_ratio(y + k, x)
    # the ratio is symmetric in x and k: for k << x, subtract the smaller increments (the
    # direct form loses about 1e-16 x log(y + x) in absolute terms, negligible for x <= 64)
    swap = (k < x) & (x > 64.0)
    if swap.any():
        xs, ys, ks = x[swap], y[swap], k[swap]
        out[swap] = log_gamma_ratio(ys, ks) - log_gamma_ratio(ys + xs, ks)
    return np.minimum(out, 0.0).reshape(shape)


def _logaddexp_rows(zero, comp_sum):
    with np.errstate(divide="ignore"):
        return np.logaddexp(zero, comp_sum)


# --------------------------------------------------------------------------- families
class Family:
    """Interface of a mixing law; see the module docstring."""

    name: str
    zero_inflated: bool
    n_params: int
    #: Short description for tables and docs.
    label: str

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def starts(self, pairs: Pairs) -> np.ndarray:
        raise NotImplementedError

    def nll_grad(self, theta, pairs: Pairs, weight):
        """Mean negative log-likelihood per prompt (S,) and its gradient (S, p).

        ``weight`` (S, D): prompt multiplicities of each pair in each row (bootstrap, fold).
        """
        raise NotImplementedError

    def pair_loglik(self, theta, pairs: Pairs) -> np.ndarray:
        """Log-likelihood of each distinct pair, (S, D)."""
        raise NotImplementedError

    def pair_leak_moments(self, theta, pairs: Pairs, ks):
        """Yield, for each k of ``ks``, E[leak@k | c] and E[leak@k^2 | c] per pair, (S, D)
        each; k may be inf. The posterior weights are computed once for all k."""
        raise NotImplementedError

    def population_leak(self, theta, ks) -> np.ndarray:
        """E_G[leak@k], (S, K); ks may contain inf."""
        raise NotImplementedError

    def describe(self, theta) -> dict:
        raise NotImplementedError

    def _pi0(self, theta):
        return expit(theta[:, 0]) if self.zero_inflated else np.zeros(theta.shape[0])


class BetaFamily(Family):
    """Zero-inflated (or not) mixture of one or two betas, closed-form beta-binomial."""

    def __init__(self, name: str, zero_inflated: bool, n_beta: int, label: str):
        self.name = name
        self.zero_inflated = zero_inflated
        self.n_beta = n_beta
        self.n_params = int(zero_inflated) + (n_beta - 1) + 2 * n_beta
        self.label = label

    def bounds(self):
        # pi0, w in [6e-6, 1 - 6e-6]; mu in [1.5e-8, 1 - 1.5e-8]; kappa in [2.5e-3, 2.2e4]
        lo, hi = [], []
        if self.zero_inflated:
            lo.append(-12.0)
            hi.append(12.0)
        if self.n_beta == 2:
            lo.append(-12.0)
            hi.append(12.0)
        for _ in range(self.n_beta):
            lo += [-18.0, -6.0]
            hi += [18.0, 10.0]
        return np.array(lo), np.array(hi)

    def unpack(self, theta):
        """(pi0 (S,), w (S, J), a (S, J), b (S, J)) from unconstrained theta (S, p)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        pi0 = self._pi0(theta)
        i = int(self.zero_inflated)
        if self.n_beta == 2:
            w1 = expit(theta[:, i])
            w = np.stack([w1, 1.0 - w1], axis=1)
            i += 1
        else:
            w = np.ones((theta.shape[0], 1))
        mu = expit(theta[:, i::2])
        kappa = np.exp(theta[:, i + 1 :: 2])
        return pi0, w, mu * kappa, (1.0 - mu) * kappa

    def pack(self, pi0, w1, mus, kappas) -> np.ndarray:
        out = []
        if self.zero_inflated:
            out.append(logit(np.clip(pi0, 1e-5, 1 - 1e-5)))
        if self.n_beta == 2:
            out.append(logit(np.clip(w1, 1e-5, 1 - 1e-5)))
        for mu, kappa in zip(mus[: self.n_beta], kappas[: self.n_beta], strict=True):
            out += [logit(np.clip(mu, 1e-7, 1 - 1e-7)), np.log(kappa)]
        lo, hi = self.bounds()
        return np.clip(np.array(out, dtype=float), lo + 1e-9, hi - 1e-9)

    def starts(self, pairs: Pairs) -> np.ndarray:
        rate, hot, share_zero = _summaries(pairs)
        pi0 = float(np.clip(share_zero * 0.8, 0.05, 0.95))
        rows = []
        if self.n_beta == 1:
            for kappa in (0.3, 3.0, 30.0):
                rows.append(self.pack(pi0, None, [rate], [kappa]))
            if self.zero_inflated:
                rows.append(self.pack(pi0, None, [min(rate / (1 - pi0), 0.5)], [2.0]))
        else:
            for w1, k1 in ((0.7, 1.0), (0.5, 0.3), (0.85, 5.0)):
                rows.append(self.pack(pi0 / 2, w1, [rate / 10, hot], [k1, 5.0]))
            rows.append(self.pack(0.1, 0.5, [rate, hot], [0.5, 20.0]))
        return np.array(rows)

    def _terms(self, theta, pairs: Pairs):
        pi0, w, a, b = self.unpack(theta)
        c, n = pairs.c[None, None, :], pairs.n[None, None, :]
        a_, b_ = a[:, :, None], b[:, :, None]
        # log BetaBinomial(c | n, a, b) (S, J, D); the a, b-only terms are computed per row
        ll = (pairs.log_choose + gammaln(c + a_) + gammaln(n - c + b_) - gammaln(n + a_ + b_)
              + (gammaln(a_ + b_) - gammaln(a_) - gammaln(b_)))
        with np.errstate(divide="ignore"):
            comp = (np.log1p(-pi0)[:, None, None] + np.log(w)[:, :, None]) + ll
            zero = np.where(pairs.zero[None, :], np.log(pi0)[:, None], -np.inf)
        log_f = _logaddexp_rows(zero, np.logaddexp.reduce(comp, axis=1))
        return zero, comp, log_f, (pi0, w, a, b)

    def pair_loglik(self, theta, pairs):
        return self._terms(theta, pairs)[2]

    def nll_grad(self, theta, pairs, weight):
        zero, comp, log_f, (pi0, w, a, b) = self._terms(theta, pairs)
        wt = weight / weight.sum(axis=1, keepdims=True)
        value = -(wt * log_f).sum(axis=1)
        r0 = np.exp(zero - log_f)  # (S, D)
        r = np.exp(comp - log_f[:, None, :])  # (S, J, D)
        c, n = pairs.c[None, None, :], pairs.n[None, None, :]
        a_, b_ = a[:, :, None], b[:, :, None]
        psi_ab = digamma(a_ + b_)
        psi_nab = digamma(n + a_ + b_)
        d_a = digamma(c + a_) - psi_nab - digamma(a_) + psi_ab
        d_b = digamma(n - c + b_) - psi_nab - digamma(b_) + psi_ab
        ga = (wt[:, None, :] * r * d_a).sum(axis=2)  # (S, J)
        gb = (wt[:, None, :] * r * d_b).sum(axis=2)
        grads = []
        if self.zero_inflated:
            grads.append((wt * (r0 - pi0[:, None])).sum(axis=1))
        if self.n_beta == 2:
            grads.append((wt * (r[:, 0] * w[:, 1:2] - r[:, 1] * w[:, 0:1])).sum(axis=1))
        mu = a / (a + b)
        for j in range(self.n_beta):
            grads.append(ga[:, j] * a[:, j] * (1 - mu[:, j]) - gb[:, j] * b[:, j] * mu[:, j])
            grads.append(ga[:, j] * a[:, j] + gb[:, j] * b[:, j])
        return value, -np.stack(grads, axis=1)

    def pair_leak_moments(self, theta, pairs, ks):
        zero, comp, log_f, (pi0, w, a, b) = self._terms(theta, pairs)
        r0 = np.exp(zero - log_f)
        r = np.exp(comp - log_f[:, None, :])
        c, n = pairs.c[None, None, :], pairs.n[None, None, :]
        # R_k = B(x, y + k) / B(x, y), x = a + c, y = b + n - c
        x = a[:, :, None] + c
        y = b[:, :, None] + n - c
        d_yx = log_gamma_ratio(y, x)
        for k in np.asarray(ks, dtype=float):
            if np.isinf(k):
                m = 1.0 - r0
                yield m, m
                continue
            kk = np.full(x.shape, k)
            log_r1 = log_beta_ratio(x, y, kk, d_yx)
            log_r2 = log_beta_ratio(x, y, 2 * kk, d_yx)
            leak = -np.expm1(log_r1)  # 1 - R_k
            # 1 - 2 R_k + R_2k = (1 - R_k)^2 + (R_2k - R_k^2), the latter >= 0 and tiny-safe
            spread = np.exp(log_r2) * -np.expm1(np.minimum(2 * log_r1 - log_r2, 0.0))
            yield (r * leak).sum(axis=1), (r * (leak**2 + spread)).sum(axis=1)

    def population_leak(self, theta, ks):
        pi0, w, a, b = self.unpack(theta)
        ks = np.asarray(ks, dtype=float)
        out = np.empty((pi0.shape[0], ks.size))
        for j, k in enumerate(ks):
            if np.isinf(k):
                out[:, j] = 1.0 - pi0
            else:
                comp = -np.expm1(log_beta_ratio(a, b, k))
                out[:, j] = (1.0 - pi0) * (w * comp).sum(axis=1)
        return out

    def describe(self, theta):
        pi0, w, a, b = self.unpack(theta)
        out = {"pi0": float(pi0[0])} if self.zero_inflated else {}
        for j in range(self.n_beta):
            tag = "" if self.n_beta == 1 else str(j + 1)
            if self.n_beta == 2:
                out[f"w{tag}"] = float(w[0, j])
            out[f"a{tag}"] = float(a[0, j])
            out[f"b{tag}"] = float(b[0, j])
        return out


class LogitNormalFamily(Family):
    """logit p ~ Normal(m, s) (random-intercept logistic model), optionally zero-inflated."""

    def __init__(self, name: str, zero_inflated: bool, label: str):
        self.name = name
        self.zero_inflated = zero_inflated
        self.n_params = int(zero_inflated) + 2
        self.label = label

    def bounds(self):
        # m in [-25, 10]; s in [0.3, 6] (the grid resolves s >= 0.3 at spacing <= 0.1)
        lo = [-25.0, np.log(0.3)]
        hi = [10.0, np.log(6.0)]
        if self.zero_inflated:
            lo.insert(0, -12.0)
            hi.insert(0, 12.0)
        return np.array(lo), np.array(hi)

    def _ms(self, theta):
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        i = int(self.zero_inflated)
        return theta, self._pi0(theta), theta[:, i], np.exp(theta[:, i + 1])

    def starts(self, pairs):
        rate, hot, share_zero = _summaries(pairs)
        rows = []
        for m, s in ((logit(rate), 1.0), (logit(rate) - 2.0, 2.5), (logit(hot) - 1.0, 1.5)):
            row = [m, np.log(s)]
            if self.zero_inflated:
                row.insert(0, logit(np.clip(share_zero * 0.5, 0.05, 0.9)))
            rows.append(row)
        lo, hi = self.bounds()
        return np.clip(np.array(rows, dtype=float), lo + 1e-9, hi - 1e-9)

    def _prior(self, m, s, x):
        """Normalised grid weights of logit p (S, G), their logs, and the standardised grid."""
        z = (x[None, :] - m[:, None]) / s[:, None]
        log_u = -0.5 * z * z
        log_u -= log_u.max(axis=1, keepdims=True)
        u = np.exp(log_u)
        total = u.sum(axis=1, keepdims=True)
        return u / total, log_u - np.log(total), z

    def _terms(self, theta, pairs):
        theta, pi0, m, s = self._ms(theta)
        x, p, L, offset, log_L = pairs.logit_grid()
        prior, log_prior, z = self._prior(m, s, x)
        q = prior @ L.T  # (S, D), scaled marginal likelihood of the non-zero part
        # where the law puts next to no mass where the likelihood is (e.g. c = n under a law
        # far in the left tail), q underflows: redo those in log space, and keep their
        # posteriors over the grid for the moments and the gradient
        tiny = np.nonzero(q < _Q_TINY)
        log_q = np.log(np.maximum(q, _Q_TINY))
        post = None
        if tiny[0].size:
            log_joint = log_prior[tiny[0]] + log_L[tiny[1]]  # (T, G)
            log_q[tiny] = logsumexp(log_joint, axis=1)
            post = (tiny, np.exp(log_joint - log_q[tiny][:, None]))
        with np.errstate(divide="ignore"):
            comp = np.log1p(-pi0)[:, None] + log_q + offset[None, :]
            zero = np.where(pairs.zero[None, :], np.log(pi0)[:, None], -np.inf)
        log_f = _logaddexp_rows(zero, comp)
        return zero, comp, log_f, prior, z, q, post, (pi0, m, s)

    @staticmethod
    def _posterior_mean(prior, L, q, post, values):
        """E[values_g | c] per row and pair, (S, D); ``values`` (G,) or (S, G)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(q > 0, ((prior * values) @ L.T) / q, 0.0)
        if post is not None:
            (rows, cols), weights = post
            vals = values[rows] if np.ndim(values) == 2 else values[None, :]
            out[rows, cols] = (weights * vals).sum(axis=1)
        return out

    def pair_loglik(self, theta, pairs):
        return self._terms(theta, pairs)[2]

    def nll_grad(self, theta, pairs, weight):
        zero, comp, log_f, prior, z, q, post, (pi0, m, s) = self._terms(theta, pairs)
        L = pairs.logit_grid()[2]
        wt = weight / weight.sum(axis=1, keepdims=True)
        value = -(wt * log_f).sum(axis=1)
        r0 = np.exp(zero - log_f)
        r1 = 1.0 - r0  # posterior weight of the continuous part
        # scores of the grid weights: d log prior_g / d m = z/s - E[z/s]; d / d log s = z^2 - E
        s_m = z / s[:, None]
        s_s = z * z
        s_m -= (prior * s_m).sum(axis=1, keepdims=True)
        s_s -= (prior * s_s).sum(axis=1, keepdims=True)
        post_m = self._posterior_mean(prior, L, q, post, s_m)
        post_s = self._posterior_mean(prior, L, q, post, s_s)
        grads = []
        if self.zero_inflated:
            grads.append((wt * (r0 - pi0[:, None])).sum(axis=1))
        grads.append((wt * r1 * post_m).sum(axis=1))
        grads.append((wt * r1 * post_s).sum(axis=1))
        return value, -np.stack(grads, axis=1)

    def pair_leak_moments(self, theta, pairs, ks):
        zero, comp, log_f, prior, z, q, post, _ = self._terms(theta, pairs)
        r0 = np.exp(zero - log_f)
        x, p, L, offset, _ = pairs.logit_grid()
        log_1mp = np.log1p(-p)
        for k in np.asarray(ks, dtype=float):
            if np.isinf(k):
                m = 1.0 - r0
                yield m, m
                continue
            leak = -np.expm1(k * log_1mp)  # (G,)
            m1 = self._posterior_mean(prior, L, q, post, leak)
            m2 = self._posterior_mean(prior, L, q, post, leak * leak)
            yield (1.0 - r0) * m1, (1.0 - r0) * m2

    def population_leak(self, theta, ks):
        theta, pi0, m, s = self._ms(theta)
        nodes, wts = np.polynomial.hermite_e.hermegauss(120)
        wts = wts / wts.sum()
        xs = m[:, None] + s[:, None] * nodes[None, :]  # (S, Q)
        log_1mp = -np.logaddexp(0.0, xs)
        ks = np.asarray(ks, dtype=float)
        out = np.empty((pi0.shape[0], ks.size))
        for j, k in enumerate(ks):
            if np.isinf(k):
                out[:, j] = 1.0 - pi0
            else:
                out[:, j] = (1.0 - pi0) * (-np.expm1(k * log_1mp) @ wts)
        return out

    def describe(self, theta):
        theta, pi0, m, s = self._ms(theta)
        out = {"pi0": float(pi0[0])} if self.zero_inflated else {}
        out.update({"m": float(m[0]), "s": float(s[0])})
        return out


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


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        BetaFamily("beta", False, 1, "beta-binomial"),
        BetaFamily("zi-beta", True, 1, "zero-inflated beta-binomial"),
        BetaFamily("beta-mix", False, 2, "two-beta mixture"),
        BetaFamily("zi-beta-mix", True, 2, "zero-inflated two-beta mixture"),
        LogitNormalFamily("logit-normal", False, "logit-normal (logistic GLMM)"),
        LogitNormalFamily("zi-logit-normal", True, "zero-inflated logit-normal"),
    )
}


# --------------------------------------------------------------------------- optimiser
def minimize_batched(family: Family, theta0, pairs: Pairs, weight, *, maxiter: int = 150,
                     gtol: float = 1e-5):
    """Minimise the mean negative log-likelihood of S rows at once (projected BFGS in a box).

    ``theta0`` (S, p) starting points, ``weight`` (S, D) prompt multiplicities per row.
    Returns (theta (S, p), value (S,)). The inverse-Hessian approximation starts as the
    identity scaled by s'y / y'y after the first step (Nocedal & Wright, eq. 6.20).
    """
    lo, hi = family.bounds()
    x = np.clip(np.array(theta0, dtype=float), lo, hi)
    weight = np.asarray(weight, dtype=float)
    S, p = x.shape
    eye = np.eye(p)
    f, g = family.nll_grad(x, pairs, weight)
    H = np.broadcast_to(eye, (S, p, p)).copy()
    fresh = np.ones(S, dtype=bool)  # H is still the unscaled identity
    live = np.ones(S, dtype=bool)
    stall = np.zeros(S, dtype=int)
    for _ in range(maxiter):
        at_lo = (x <= lo + 1e-12) & (g > 0)
        at_hi = (x >= hi - 1e-12) & (g < 0)
        pg = np.where(at_lo | at_hi, 0.0, g)
        live &= (np.abs(pg).max(axis=1) > gtol) & (stall < 3)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        gi, xi, Hi, fr = pg[idx], x[idx], H[idx], fresh[idx]
        d = -np.einsum("sij,sj->si", Hi, gi)
        blocked = ((xi <= lo + 1e-12) & (d < 0)) | ((xi >= hi - 1e-12) & (d > 0))
        d = np.where(blocked, 0.0, d)
        slope = (d * gi).sum(axis=1)
        bad = ~(slope < 0)
        if bad.any():  # not a descent direction: restart from steepest descent
            d[bad] = -gi[bad]
            Hi[bad] = eye
            fr[bad] = True
            slope[bad] = -(gi[bad] ** 2).sum(axis=1)
        scale = np.minimum(1.0, 2.0 / np.maximum(np.abs(d).max(axis=1), 1e-300))
        d *= scale[:, None]
        slope *= scale
        step = np.ones(idx.size)
        pending = np.ones(idx.size, dtype=bool)
        x_new = xi.copy()
        f_new = f[idx].copy()
        g_new = g[idx].copy()
        for _ls in range(30):
            j = np.flatnonzero(pending)
            if j.size == 0:
                break
            trial = np.clip(xi[j] + step[j, None] * d[j], lo, hi)
            ft, gt = family.nll_grad(trial, pairs, weight[idx[j]])
            ok = np.isfinite(ft) & (ft <= f[idx[j]] + 1e-4 * step[j] * slope[j])
            acc = j[ok]
            x_new[acc], f_new[acc], g_new[acc] = trial[ok], ft[ok], gt[ok]
            pending[acc] = False
            step[j[~ok]] *= 0.3
        failed = pending  # these rows keep their point and count a stall
        s_vec = x_new - xi
        y_vec = g_new - g[idx]
        sy = (s_vec * y_vec).sum(axis=1)
        upd = (sy > 1e-14) & ~failed
        if upd.any():
            s_u, y_u, H_u = s_vec[upd], y_vec[upd], Hi[upd]
            rho = 1.0 / sy[upd]
            first = fr[upd]
            if first.any():
                gamma = sy[upd][first] / (y_u[first] ** 2).sum(axis=1)
                H_u[first] = gamma[:, None, None] * eye
            A = eye[None] - rho[:, None, None] * s_u[:, :, None] * y_u[:, None, :]
            H_u = np.einsum("sij,sjk,slk->sil", A, H_u, A) + rho[:, None, None] * (
                s_u[:, :, None] * s_u[:, None, :]
            )
            Hi[upd] = H_u
            fr[upd] = False
        gain = f[idx] - f_new
        stall[idx] = np.where(failed | (gain < 1e-13), stall[idx] + 1, 0)
        x[idx], f[idx], g[idx], H[idx], fresh[idx] = x_new, f_new, g_new, Hi, fr
    return x, f


def fit_family(family: Family, pairs: Pairs, weight=None, *, starts=None, warm=None):
    """Maximum likelihood, best of the starts; weight (S, D) fits S reweighted data sets.

    ``warm`` (S, p), or a list of them: one starting point per row instead of the shared
    ``starts`` (the best optimum per row is kept).
    Returns (theta (S, p), loglik (S,)) with loglik the total log-likelihood of each row.
    """
    if weight is None:
        weight = pairs.weight[None, :]
    weight = np.atleast_2d(np.asarray(weight, dtype=float))
    S = weight.shape[0]
    if warm is not None:
        warm = [warm] if isinstance(warm, np.ndarray) else list(warm)
        best_theta, best_value = None, None
        for start in warm:
            theta, value = minimize_batched(family, np.atleast_2d(start), pairs, weight)
            value = np.where(np.isfinite(value), value, np.inf)
            if best_theta is None:
                best_theta, best_value = theta, value
            else:
                better = value < best_value
                best_theta[better], best_value[better] = theta[better], value[better]
        return best_theta, -best_value * weight.sum(axis=1)
    starts = np.atleast_2d(family.starts(pairs) if starts is None else starts)
    m = starts.shape[0]
    theta0 = np.repeat(starts, S, axis=0)  # row r*S + s: start r for data set s
    w_all = np.tile(weight, (m, 1))
    theta, value = minimize_batched(family, theta0, pairs, w_all)
    value = np.where(np.isfinite(value), value, np.inf).reshape(m, S)
    best = value.argmin(axis=0)
    theta = theta.reshape(m, S, -1)[best, np.arange(S)]
    return theta, -value[best, np.arange(S)] * weight.sum(axis=1)


# --------------------------------------------------------------------------- predictions
def fixed_prompt_moments(family: Family, theta, pairs: Pairs, ks):
    """Mean and variance of the benchmark leak@k given the counts, per parameter row.

    Returns (mean, var), each (S, K): the mean over the prompts of E[leak@k | c_i] and the
    conditional variance of that mean, sum_i Var[leak@k | c_i] / P^2.
    """
    theta = np.atleast_2d(theta)
    ks = np.asarray(ks, dtype=float)
    mean = np.empty((theta.shape[0], ks.size))
    var = np.empty_like(mean)
    P = pairs.n_prompts
    for j, (m1, m2) in enumerate(family.pair_leak_moments(theta, pairs, ks)):
        mean[:, j] = m1 @ pairs.weight / P
        var[:, j] = np.maximum(m2 - m1 * m1, 0.0) @ pairs.weight / P**2
    return np.clip(mean, 0.0, 1.0), var


def predict(family: Family, theta, pairs: Pairs, ks, population: str):
    """(mean, var) of the estimand under each parameter row; var = 0 for the superpopulation."""
    if population == "prompts":
        return fixed_prompt_moments(family, theta, pairs, ks)
    mean = np.clip(family.population_leak(np.atleast_2d(theta), ks), 0.0, 1.0)
    return mean, np.zeros_like(mean)


# --------------------------------------------------------------------------- all families
def _nested_starts(name: str, fits: dict) -> list[np.ndarray]:
    """Starting points of a family from the optima of the smaller families it contains, so
    that its maximum likelihood is never below theirs."""
    out = []
    if name == "zi-beta" and "beta" in fits:
        out.append(np.r_[-8.0, fits["beta"][0]])
    if name == "beta-mix" and "beta" in fits:
        base = fits["beta"][0]
        for second in ((-8.0, 8.0), (-3.0, 1.0), (-1.0, 2.0)):
            out.append(np.r_[3.0, base, second])
    if name == "zi-beta-mix":
        if "zi-beta" in fits:
            base = fits["zi-beta"][0]
            for second in ((-8.0, 8.0), (-3.0, 1.0), (-1.0, 2.0)):
                out.append(np.r_[base[0], 3.0, base[1:], second])
        if "beta-mix" in fits:
            out.append(np.r_[-8.0, fits["beta-mix"][0]])
    if name == "zi-logit-normal" and "logit-normal" in fits:
        out.append(np.r_[-8.0, fits["logit-normal"][0]])
    return out


def fit_families(pairs: Pairs, names) -> dict:
    """Maximum-likelihood fit of each named family: {name: (theta (p,), loglik)}.

    Families are fitted smallest first, and each larger family also starts from the optima
    of the families nested in it.
    """
    order = [n for n in FAMILIES if n in names]
    fits: dict = {}
    for name in order:
        family = FAMILIES[name]
        lo, hi = family.bounds()
        starts = list(family.starts(pairs))
        starts += [np.clip(s, lo + 1e-9, hi - 1e-9) for s in _nested_starts(name, fits)]
        theta, ll = fit_family(family, pairs, starts=np.array(starts))
        fits[name] = (theta[0], float(ll[0]))
    return fits


def fold_weights(pairs: Pairs, n_folds: int = 5) -> np.ndarray:
    """Deterministic stratified folds: each pair's prompts dealt round-robin, (F, D)."""
    w = pairs.weight.astype(np.int64)
    folds = np.zeros((n_folds, w.size))
    start = 0
    for d, count in enumerate(w):
        idx = (start + np.arange(count)) % n_folds
        folds[:, d] = np.bincount(idx, minlength=n_folds)
        start = (start + count) % n_folds
    return folds


def cross_validated_loglik(family: Family, theta, pairs: Pairs, n_folds: int = 5):
    """Held-out log-likelihood (sum over prompts) by stratified K-fold refits (warm starts)."""
    test = fold_weights(pairs, n_folds)
    train = pairs.weight[None, :] - test
    fitted, _ = fit_family(family, pairs, train, warm=np.repeat(np.atleast_2d(theta), n_folds, 0))
    return float((test * family.pair_loglik(fitted, pairs)).sum())


def _with_pi0(theta, value):
    out = np.array(theta, dtype=float, copy=True)
    out[:, 0] = value
    return out


def bootstrap_fits(pairs: Pairs, fits: dict, weight) -> dict:
    """Refit every family of ``fits`` on each row of ``weight`` (S, D): {name: (theta, ll)}.

    Each row starts from the full-data optimum and, as in :func:`fit_families`, from the
    row's own optima of the families nested in it (so that a larger family never fits a
    resample worse than a smaller one); zero-inflated families also start from the other
    side of the ridge between pi0 and the left tail (pi0 near zero vs a sizeable pi0).
    """
    S = weight.shape[0]
    share_zero = float(pairs.weight @ pairs.zero) / pairs.n_prompts
    inward = float(logit(np.clip(0.5 * share_zero, 0.05, 0.9)))
    out: dict = {}
    for name in (n for n in FAMILIES if n in fits):
        family = FAMILIES[name]
        theta_hat = np.repeat(np.atleast_2d(fits[name][0]), S, axis=0)
        warm = [theta_hat]
        nested = {"zi-beta": "beta", "zi-beta-mix": "beta-mix",
                  "zi-logit-normal": "logit-normal"}.get(name)
        if family.zero_inflated:
            if theta_hat[0, 0] < -4.0:  # full-data optimum at pi0 ~ 0: also start inside
                warm.append(_with_pi0(theta_hat, inward))
            elif nested not in out:  # else the nested family's optimum is the pi0 ~ 0 start
                warm.append(_with_pi0(theta_hat, -8.0))
        if nested in out:
            warm.append(np.c_[np.full(S, -8.0), out[nested][0]])
        if name == "beta-mix" and "beta" in out:
            warm.append(np.c_[np.full(S, 3.0), out["beta"][0], np.full(S, -8.0),
                              np.full(S, 8.0)])
        lo, hi = family.bounds()
        warm = [np.clip(w, lo + 1e-9, hi - 1e-9) for w in warm]
        out[name] = fit_family(family, pairs, weight, warm=warm)
    return out
