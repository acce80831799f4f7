"""The paired model's integrated likelihood (leakstats.bayes._paired_kernel) against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

pytest.importorskip("numba")

from leakstats.bayes import _paired_kernel as kernel  # noqa: E402
from leakstats.core.errors import LeakstatsError  # noqa: E402

# (counts, samples) per arm: no leak, a single leak, two-sided, every sample leaking, one arm
# missing (n = 0), six arms
PATTERNS = [
    ((0, 0), (50, 50)),
    ((1, 0), (50, 50)),
    ((5, 7), (50, 50)),
    ((200, 199), (200, 200)),
    ((3, 40), (200, 200)),
    ((0,), (20,)),
    ((4, 0), (50, 0)),
    ((0,) * 6, (200,) * 6),
]
SIGMAS = [0.02, 0.5, 1.5, 3.0, 6.0]
ALPHAS = [-9.0, -2.0, 2.0]


def _log_integrand(alpha, sigma, c, n):
    def h(u):
        eta = alpha + u
        return float(np.sum(c * eta - n * np.logaddexp(0.0, eta)) - u * u / (2 * sigma**2))
    return h


def _scipy_log_marginal(alpha, sigma, c, n):
    h = _log_integrand(alpha, sigma, c, n)
    found = optimize.minimize_scalar(lambda u: -h(u), bounds=(-80, 80), method="bounded")
    top = -found.fun
    value, _ = integrate.quad(lambda u: np.exp(h(u) - top), -150, 150, points=[found.x],
                              limit=500, epsabs=0, epsrel=1e-12)
    return np.log(value) + top - np.log(np.sqrt(2 * np.pi) * sigma)


def _kernel(theta, c, n):
    """The kernel's log density with flat priors (huge prior scales), minus its log sigma
    Jacobian: the log marginal likelihood of one prompt (without binomial coefficients)."""
    state = np.zeros((1, 3))
    value, grad = kernel.log_density(theta, n[None], c[None], np.ones(1), 0.0, 1e8, 1e8, state)
    return value - theta[-1], grad


@pytest.mark.parametrize("counts,samples", PATTERNS)
def test_integrated_likelihood_matches_adaptive_quadrature(counts, samples):
    c, n = np.asarray(counts, float), np.asarray(samples, float)
    for sigma in SIGMAS:
        for level in ALPHAS:
            alpha = level + 0.3 * np.arange(c.size)
            theta = np.r_[alpha, np.log(sigma)]
            value, grad = _kernel(theta, c, n)
            # documented accuracy: below 1e-6 nats per prompt (module doc)
            assert value == pytest.approx(_scipy_log_marginal(alpha, sigma, c, n), abs=1e-6)
            # the gradient (Fisher's identity) is the derivative of the value
            step = 1e-5
            for j in range(theta.size):
                e = np.zeros(theta.size)
                e[j] = step
                numeric = (_kernel(theta + e, c, n)[0] - _kernel(theta - e, c, n)[0]) / (2 * step)
                exact = grad[j] - (1.0 if j == theta.size - 1 else 0.0)
                assert exact == pytest.approx(numeric, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("counts,samples,alpha,sigma", [
    ((0, 0), (50, 50), -3.0, 2.5), ((5, 7), (50, 50), -2.0, 1.0),
    ((200, 199), (200, 200), 2.0, 3.0),
])
def test_conditional_draws_follow_the_conditional_posterior(counts, samples, alpha, sigma):
    """Draws of u (rejection from the tangent hull) against the CDF computed by quadrature."""
    rng = np.random.default_rng(3)
    c, n = np.asarray(counts, float), np.asarray(samples, float)
    a = np.full(c.size, alpha)
    out = np.empty(20000)
    kernel._draw_u(a, n, c, 1 / sigma**2, out.size, out, 0.0, rng)
    h = _log_integrand(a, sigma, c, n)
    top = -optimize.minimize_scalar(lambda u: -h(u), bounds=(-80, 80), method="bounded").fun
    grid = np.linspace(out.min() - 5, out.max() + 5, 20001)
    dens = np.exp([h(u) - top for u in grid])
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0.0)
    cdf /= cdf[-1]
    # a fixed seed; under exact sampling p is uniform, so p < 1e-3 has chance 1e-3
    assert stats.kstest(out, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3


def test_fixed_leak_averages_the_conditional_leak_probability():
    """One prompt, one posterior draw repeated: the mean of the drawn leak@k is the
    conditional expectation of 1 - (1 - p)^k, within Monte Carlo error."""
    c, n = np.array([[3.0, 1.0]]), np.array([[50.0, 50.0]])
    S = 20000
    alpha = np.tile([-3.0, -4.0], (S, 1))
    sigma = np.full(S, 1.5)
    ks = np.array([1.0, 16.0])
    draws = kernel.fixed_leak(alpha, sigma, n, c, np.ones(1, np.int64), ks,
                              np.random.default_rng(0))
    assert draws.shape == (S, 2, 2)
    h = _log_integrand(alpha[0], 1.5, c[0], n[0])
    grid = np.linspace(-15, 15, 30001)
    weights = np.exp([h(u) for u in grid])
    weights /= weights.sum()
    for m in range(2):
        p = 1 / (1 + np.exp(-(alpha[0, m] + grid)))
        for j, k in enumerate(ks):
            f = 1 - (1 - p) ** k
            mean = np.sum(weights * f)
            sd = np.sqrt(np.sum(weights * (f - mean) ** 2))
            # 4 standard errors: a false failure has probability below 1e-4
            assert draws[:, m, j].mean() == pytest.approx(mean, abs=4 * sd / np.sqrt(S))


def test_paired_model_options_bad_input():
    import leakstats

    with pytest.raises(LeakstatsError, match="cores"):
        leakstats.PairedLogitModel(cores=0)
    with pytest.raises(LeakstatsError, match="draws"):
        leakstats.PairedLogitModel(draws=2.5)
