"""The mixing-law families: the :class:`Family` interface, :class:`BetaFamily` (one or two
betas, closed-form beta-binomial), :class:`LogitNormalFamily` (logit p ~ Normal(m, s) on a
logit grid), each optionally zero-inflated, and ``FAMILIES``, the lookup by name.

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
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, logit, logsumexp

from .pairs import Pairs, _summaries
from .special import _Q_TINY, _logaddexp_rows, log_beta_ratio, log_gamma_ratio


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
