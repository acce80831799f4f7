"""The unbiased leak@k kernels against independent references."""

from fractions import Fraction
from itertools import combinations
from math import comb

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakstats.estimate.kernels import (
    distinct_pairs,
    fixed_variance_unbiased,
    leak_at_k_unbiased,
    log_q,
)


def binom_pmf(n: int, p: float) -> np.ndarray:
    """Binomial(n, p) probabilities of 0..n (plain formula: no special-function edge cases)."""
    c = np.arange(n + 1)
    return np.array([comb(n, int(j)) for j in c], dtype=float) * p**c * (1 - p) ** (n - c)


def brute_force(n: int, c: int, k: int) -> float:
    """Share of the k-subsets of n samples (c of them leaked) that contain a leaked sample."""
    leaked = set(range(c))
    subsets = list(combinations(range(n), k))
    return sum(1 for s in subsets if leaked & set(s)) / len(subsets)


def product_form(n: int, c: int, k: int) -> Fraction:
    """Exact rational 1 - prod_{j<k} (1 - c / (n - j)) (the standard product form)."""
    q = Fraction(1)
    for j in range(k):
        q *= Fraction(n - c - j, n - j) if n - j > 0 else 0
    return 1 - q


@pytest.mark.parametrize("n", range(1, 11))
def test_matches_brute_force_enumeration(n):
    cases = [(n, c, k) for c in range(n + 1) for k in range(1, n + 1)]
    arr = np.array(cases)
    got = leak_at_k_unbiased(arr[:, 0], arr[:, 1], arr[:, 2])
    want = np.array([brute_force(*case) for case in cases])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_matches_exact_product_form_moderate_n():
    rng = np.random.default_rng(20261128)
    cases = [(200, c, k) for c in (0, 1, 2, 5, 50, 199, 200) for k in (1, 2, 8, 64, 100, 128, 200)]
    for _ in range(200):
        n = int(rng.integers(1, 400))
        cases.append((n, int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1))))
    arr = np.array(cases)
    got = leak_at_k_unbiased(arr[:, 0], arr[:, 1], arr[:, 2])
    want = np.array([float(product_form(*case)) for case in cases])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# Both code paths (term-by-term sum and Stirling form) at n up to 10^7, against 60-digit
# arithmetic: mpmath.binomial(n - c, k) / mpmath.binomial(n, k).
LARGE = [
    (10**7, 1, 1), (10**7, 1, 10**6), (10**7, 3, 9_999_990), (10**7, 64, 65), (10**7, 65, 65),
    (10**7, 200, 200), (10**7, 5_000, 3_000), (10**7, 100, 100_000), (10**7, 10**6, 10),
    (10**7, 10**6, 1_000), (10**7, 9_999_900, 50), (10**7, 300, 9_999_000), (10**6, 1_000, 999),
    (123_457, 100, 100), (5_000, 2_500, 2_499), (500, 100, 100),
]


@pytest.mark.parametrize(("n", "c", "k"), LARGE)
def test_stable_for_large_n(n, c, k):
    with mpmath.workdps(60):
        want = 1 - mpmath.binomial(n - c, k) / mpmath.binomial(n, k) if n - c >= k else 1
        got = float(leak_at_k_unbiased(n, c, k))
        assert abs(got - float(want)) <= 1e-12


@given(
    n=st.integers(1, 300),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_bounds_and_monotonicity(n, data):
    c = data.draw(st.integers(0, n))
    ks = np.arange(1, n + 1)
    est = leak_at_k_unbiased(n, c, ks)
    assert np.all((est >= 0) & (est <= 1))
    assert np.all(np.diff(est) >= -1e-15)  # non-decreasing in k
    if c < n:  # non-decreasing in the number of leaks
        assert np.all(leak_at_k_unbiased(n, c + 1, ks) >= est - 1e-15)
    assert est[0] == pytest.approx(c / n, abs=1e-15)
    assert est[-1] == (1.0 if c > 0 else 0.0)


@given(
    n=st.integers(1, 80),
    p=st.floats(0.0, 1.0),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_unbiased_exact_expectation(n, p, data):
    """E over Binomial(n, p) of the estimator equals 1 - (1 - p)^k exactly."""
    k = data.draw(st.integers(1, n))
    c = np.arange(n + 1)
    expectation = binom_pmf(n, p) @ leak_at_k_unbiased(n, c, k)
    assert expectation == pytest.approx(1 - (1 - p) ** k, abs=1e-10)


@given(n=st.integers(2, 80), p=st.floats(0.0, 1.0), data=st.data())
@settings(max_examples=150, deadline=None)
def test_variance_estimator_unbiased(n, p, data):
    """E[Q_k^2 - Q_2k] equals the variance of the estimator when 2k <= n."""
    k = data.draw(st.integers(1, n // 2))
    c = np.arange(n + 1)
    pmf = binom_pmf(n, p)
    est = leak_at_k_unbiased(n, c, k)
    variance = pmf @ est**2 - (pmf @ est) ** 2
    v_hat = fixed_variance_unbiased(n, c, k)
    assert np.all(v_hat >= 0)
    assert pmf @ v_hat == pytest.approx(variance, abs=1e-10)


def test_log_q_edges():
    assert log_q(10, 0, 5) == 0.0
    assert log_q(10, 3, 0) == 0.0
    assert np.isneginf(log_q(10, 6, 5))
    assert log_q(10, 5, 5) == pytest.approx(np.log(1 / comb(10, 5)))


def test_distinct_pairs_roundtrip():
    n = np.array([10, 20, 10, 10, 20, 5])
    c = np.array([1, 1, 1, 0, 1, 5])
    dn, dc, inverse = distinct_pairs(n, c)
    assert len(dn) == 4
    np.testing.assert_array_equal(dn[inverse], n)
    np.testing.assert_array_equal(dc[inverse], c)
