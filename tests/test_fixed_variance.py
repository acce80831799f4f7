"""The sampling variance of the unbiased leak@k estimator and its empirical-Bayes estimate,
against independent references (binomial sums, quadrature over the posterior)."""

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import beta as beta_law

from leakstats.estimate.fixed_variance import (
    eb_variance,
    jackknife_variance,
    overlap_law,
    posterior_variance,
    variance_given_p,
)
from leakstats.estimate.kernels import leak_at_k_unbiased


def binomial_sum_variance(n: int, p: float, k: int) -> float:
    """Var(U) by summing U(c)^2 over the Binomial(n, p) law (plain formula)."""
    c = np.arange(n + 1)
    pmf = np.array([comb(n, int(j)) for j in c], dtype=float) * p**c * (1 - p) ** (n - c)
    u = leak_at_k_unbiased(n, c, k)
    mean = pmf @ u
    return float(pmf @ u**2 - mean**2)


def test_overlap_law_is_hypergeometric():
    m, h = overlap_law(10, 4)
    assert m.min() == 1 and m.max() == 4
    # h_0 = C(6, 4) / C(10, 4) is the missing mass
    assert h.sum() == pytest.approx(1 - comb(6, 4) / comb(10, 4), abs=1e-14)
    m, h = overlap_law(10, 7)  # two 7-subsets of 10 share at least 4 samples
    assert m.min() == 4 and h.sum() == pytest.approx(1.0, abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    data=st.data(),
    p=st.floats(0.0, 1.0),
)
def test_variance_given_p_matches_binomial_sum(n, data, p):
    k = data.draw(st.integers(1, n))
    got = float(variance_given_p(n, p, k))
    want = binomial_sum_variance(n, p, k)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-13)


def test_variance_given_p_keeps_relative_precision_for_rare_leaks():
    # p = 1e-9: Var(U) = k^2 p / n to first order; the binomial sum loses it to cancellation
    n, k, p = 200, 128, 1e-9
    assert float(variance_given_p(n, p, k)) == pytest.approx(k * k * p / n, rel=1e-3)


@pytest.mark.parametrize(("n", "c", "k"), [(20, 0, 15), (20, 3, 15), (50, 1, 50), (8, 8, 8)])
@pytest.mark.parametrize("pi0", [0.0, 0.4])
def test_posterior_variance_matches_quadrature(n, c, k, pi0):
    a, b = 0.3, 12.0
    alpha, beta_ = a + c, b + n - c

    def integrand(p):
        return variance_given_p(n, p, k) * beta_law.pdf(p, alpha, beta_)

    want, _ = integrate.quad(integrand, 0, 1, limit=400, points=[1e-6, 1e-3, 0.1])
    if c == 0 and pi0 > 0:
        marginal_beta = np.exp(
            sum(np.log1p(-a / (a + b + t)) for t in range(n))
        )  # E[q^n] under the prior
        zero_share = pi0 / (pi0 + (1 - pi0) * marginal_beta)
        want *= 1 - zero_share
    got = float(posterior_variance(np.array([n]), np.array([c]), k, pi0=pi0, a=a, b=b)[0])
    assert got == pytest.approx(want, rel=1e-6)


def test_eb_variance_is_nan_without_a_leak_or_without_a_miss():
    n = np.array([10, 10])
    w = np.array([3.0, 2.0])
    assert np.isnan(eb_variance(n, np.array([0, 0]), w, [1, 5])).all()
    assert np.isnan(eb_variance(n, np.array([10, 10]), w, [1, 5])).all()


def test_eb_variance_tracks_the_true_variance():
    """On a zero-inflated beta law (the fitted family), the estimate is within a few percent."""
    rng = np.random.default_rng(11)
    P, n = 2000, 100
    p = np.where(rng.random(P) < 0.5, 0.0, rng.beta(0.3, 10.0, size=P))
    c = rng.binomial(n, p)
    dc, inv = np.unique(c, return_inverse=True)
    w = np.bincount(inv).astype(float)
    ks = np.array([1, 30, 100])
    got = w @ eb_variance(np.full(dc.size, n), dc, w, ks)
    want = np.array([variance_given_p(n, p, k).sum() for k in ks])
    # relative sd of the estimate across 30 seeded data sets of this law: 1.5%, 3.1% and 8.9%
    # at k = 1, 30, 100 (mean error under 1%); the tolerance is 3 sd
    assert (np.abs(got / want - 1) < np.array([0.045, 0.093, 0.27])).all(), got / want


@pytest.mark.parametrize(("n", "c", "k"), [(10, 0, 3), (10, 4, 9), (7, 7, 2), (12, 5, 11)])
def test_jackknife_variance_matches_deleting_each_sample(n, c, k):
    samples = np.r_[np.ones(c, int), np.zeros(n - c, int)]
    loo = np.array([leak_at_k_unbiased(n - 1, np.delete(samples, i).sum(), k) for i in range(n)])
    want = (n - 1) / n * ((loo - loo.mean()) ** 2).sum()
    got = float(jackknife_variance([n], [c], [k])[0, 0])
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_jackknife_is_conservative_on_average():
    """Efron-Stein: E[jackknife] >= Var(U_(n-1)) >= Var(U_n); exact expectation by summing."""
    n, k, p = 20, 15, 0.08
    c = np.arange(n + 1)
    pmf = np.array([comb(n, int(j)) for j in c], dtype=float) * p**c * (1 - p) ** (n - c)
    expected = pmf @ jackknife_variance(np.full(n + 1, n), c, [k])[:, 0]
    assert expected >= binomial_sum_variance(n - 1, p, k) >= binomial_sum_variance(n, p, k)
