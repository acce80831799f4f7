"""The cp-eb interval, the score and MOVER difference intervals and their dual tests, and
compare()'s coherence between marks and intervals."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

import leakstats
from leakstats.compare._difference import (
    P_FLOOR,
    _constrained_rates,
    mover,
    mover_p_value,
    score,
    score_p_value,
)
from leakstats.estimate.intervals import FEW_PROMPTS, _Arm, arm_intervals, clopper_pearson

counts_strategy = st.integers(2, 60).flatmap(
    lambda P: st.tuples(
        st.just(P),
        st.integers(1, 40),
        st.lists(st.floats(0, 1), min_size=P, max_size=P),
        st.integers(0, 2**31 - 1),
    )
)


def _draw(P, n, p, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return np.full(P, n), rng.binomial(n, np.clip(np.array(p) * scale, 0, 1))


@settings(max_examples=25, deadline=None)
@given(counts_strategy)
def test_cp_eb_is_never_wider_than_cp_effective(case):
    P, n, p, seed = case
    nn, c = _draw(P, n, p, seed)
    ks = np.unique([1, max(1, n // 2), n])
    eb = arm_intervals(nn, c, ks, ci_method="cp-eb")
    old = arm_intervals(nn, c, ks, ci_method="cp-effective")
    np.testing.assert_array_equal(eb.estimate, old.estimate)
    assert (eb.ci_high - eb.ci_low <= old.ci_high - old.ci_low + 1e-12).all()
    assert ((eb.ci_low <= eb.estimate) & (eb.estimate <= eb.ci_high)).all()
    assert ((eb.ci_low >= 0) & (eb.ci_high <= 1)).all()


def test_cp_eb_labels_and_rules():
    rng = np.random.default_rng(4)
    P, n = 200, 50
    c = rng.binomial(n, rng.beta(0.3, 8.0, P))
    est = arm_intervals(np.full(P, n), c, np.array([1, 40]))  # auto = cp-eb for prompts
    assert est.ci_method == ("cp-eb (empirical-Bayes n*)",) * 2
    # nothing leaked: the Hoeffding interval, identical to cp-effective
    zero = arm_intervals(np.full(P, n), np.zeros(P, int), np.array([1, 40]))
    old = arm_intervals(np.full(P, n), np.zeros(P, int), np.array([1, 40]),
                        ci_method="cp-effective")
    assert zero.ci_method == ("cp-eb (Hoeffding n*)",) * 2
    np.testing.assert_allclose(zero.ci_high, old.ci_high)
    # few prompts and 2k > n: Hoeffding by rule
    few = arm_intervals(np.full(FEW_PROMPTS - 1, 8), rng.binomial(8, 0.3, FEW_PROMPTS - 1),
                        np.array([1, 8]))
    assert few.ci_method[1].startswith("cp-eb (Hoeffding n*: fewer than 30 prompts")


def test_cp_eb_is_sharp_where_hoeffding_is_loose():
    """Prompts that saturate at k = 128: the sharp interval is a fraction of the old one."""
    rng = np.random.default_rng(7)
    P, n = 400, 200
    c = rng.binomial(n, rng.beta(0.2, 6.0, P))
    eb = arm_intervals(np.full(P, n), c, np.array([128]), ci_method="cp-eb")
    old = arm_intervals(np.full(P, n), c, np.array([128]), ci_method="cp-effective")
    assert (eb.ci_high - eb.ci_low)[0] < 0.6 * (old.ci_high - old.ci_low)[0]


def test_cp_eb_refuses_the_superpopulation():
    counts = pd.DataFrame({"prompt_id": [0, 1, 2], "n_samples": 10, "n_leaked": [0, 1, 3]})
    with pytest.raises(ValueError, match="method: 'cp-eb' is the fixed-prompt interval"):
        leakstats.leak_at_k(counts, k=1, population="superpopulation", ci_method="cp-eb")


def test_clopper_pearson_levels_broadcast_and_huge_counts():
    lo, hi = clopper_pearson(np.array([3.0, 3.0]), np.array([10.0, 10.0]), np.array([0.9, 0.99]))
    lo90, hi90 = clopper_pearson(3.0, 10.0, 0.9)
    assert lo[0] == pytest.approx(lo90) and hi[0] == pytest.approx(hi90)
    assert lo[1] < lo[0] and hi[1] > hi[0]
    # 1e20 trials: betaincinv has no digits left; the normal limits are exact to 1 / n
    n, theta = 1e20, 0.05
    lo, hi = clopper_pearson(theta * n, n, 0.95)
    half = ndtri(0.975) * np.sqrt(theta * (1 - theta) / n)
    assert lo == pytest.approx(theta - half, rel=1e-12)
    assert hi == pytest.approx(theta + half, rel=1e-12)


# --------------------------------------------------------------------------- score, MOVER
DUALS = [(score, score_p_value), (mover, mover_p_value)]
DUAL_IDS = ["score", "mover"]


@pytest.mark.parametrize(("interval", "p_of"), DUALS, ids=DUAL_IDS)
@settings(max_examples=25, deadline=None)
@given(counts_strategy, st.floats(0.2, 1.5))
def test_p_value_is_dual_to_the_interval(interval, p_of, case, scale):
    P, n, p, seed = case
    nn, ca = _draw(P, n, p, seed)
    _, cb = _draw(P, n, p, seed + 1, scale)
    ks = np.unique([1, n])
    a, b = _Arm(nn, ca, ks).fixed_sharp(), _Arm(nn, cb, ks).fixed_sharp()
    p_value = p_of(a, b)
    assert ((p_value >= P_FLOOR) & (p_value <= 1)).all()
    for alpha in (0.01, 0.05, 0.2):
        lo, hi = interval(a, b, 1 - alpha)
        assert ((lo <= a.theta - b.theta + 1e-12) & (a.theta - b.theta <= hi + 1e-12)).all()
        assert ((lo >= -1) & (hi <= 1)).all()
        excludes = (lo > 0) | (hi < 0)
        decided = np.abs(p_value - alpha) > 1e-6 * alpha  # off the bisection's tolerance
        np.testing.assert_array_equal((p_value < alpha)[decided], excludes[decided])


@pytest.mark.parametrize(("interval", "p_of"), DUALS, ids=DUAL_IDS)
def test_nothing_leaked_is_not_a_point(interval, p_of):
    z = _Arm(np.full(40, 20), np.zeros(40, int), np.array([1, 20])).fixed_sharp()
    lo, hi = interval(z, z, 0.95)
    assert (lo < 0).all() and (hi > 0).all()
    np.testing.assert_allclose(-lo, hi)
    assert (p_of(z, z) == 1).all()


@pytest.mark.parametrize(("interval", "rtol"), [(score, 0.03), (mover, 0.01)],
                         ids=DUAL_IDS)
def test_the_normal_interval_with_rich_data(interval, rtol):
    """With rich data both are Delta +/- z sqrt(Var_A + Var_B); the score interval's variance
    is taken at the constrained rates, which move by O(1 / sqrt(n*)) inside the interval."""
    rng = np.random.default_rng(3)
    P, n = 400, 200
    p = rng.beta(2.0, 5.0, P)
    a = _Arm(np.full(P, n), rng.binomial(n, p), np.array([1])).fixed_sharp()
    b = _Arm(np.full(P, n), rng.binomial(n, 0.9 * p), np.array([1])).fixed_sharp()
    lo, hi = interval(a, b, 0.95)
    half = ndtri(0.975) * np.sqrt(a.var + b.var)
    np.testing.assert_allclose((hi - lo) / 2, half, rtol=rtol)


SHARES = st.one_of(st.just(0.0), st.just(1.0), st.floats(1e-6, 1.0))


@settings(max_examples=50, deadline=None)
@given(st.floats(5, 5000), st.floats(5, 5000), SHARES, SHARES, st.floats(-0.95, 0.95))
def test_constrained_rates_maximise_the_likelihood(n_a, n_b, share_a, share_b, delta):
    from scipy.optimize import minimize_scalar
    from scipy.special import xlog1py, xlogy

    x_a, x_b = share_a * n_a, share_b * n_b
    p_a, p_b = _constrained_rates(x_a, n_a, x_b, n_b, delta)
    assert p_a - p_b == pytest.approx(delta, abs=1e-12)
    assert 0 <= p_b and p_a <= 1

    def negloglik(q):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -(xlogy(x_a, q) + xlog1py(n_a - x_a, -q) + xlogy(x_b, q - delta)
                     + xlog1py(n_b - x_b, -(q - delta)))

    lo, hi = max(0.0, delta), min(1.0, 1.0 + delta)
    best = minimize_scalar(negloglik, bounds=(lo, hi), method="bounded",
                           options={"xatol": 1e-12})
    # to 1e-6 of log-likelihood per sample: the closed form rounds to ~sqrt(eps) in p near
    # its triple root (nothing leaked in either arm, delta = 0), a likelihood ratio of 1 + 1e-6
    assert negloglik(p_a) <= best.fun + 1e-6 * (1 + abs(best.fun) + n_a + n_b)


# --------------------------------------------------------------------------- compare


def _paired(P, n, ratio, seed):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 8.0, P)
    rows = []
    for m, r in (("a", 1.0), ("b", ratio), ("ref", 0.3)):
        rows.append(pd.DataFrame({"method": m, "prompt_id": np.arange(P), "n_samples": n,
                                  "n_leaked": rng.binomial(n, p * r)}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("correction", ["holm", "none", "bonferroni"])
@pytest.mark.parametrize("test", ["auto", "permutation"])
def test_no_row_is_marked_against_its_interval(correction, test):
    for seed in range(4):
        d = leakstats.compare(_paired(60, 30, 0.8, seed), k=[1, 8, 30], test=test,
                              correction=correction, n_resamples=300, rng=seed).to_frame()
        excludes = (d.ci_low > 0) | (d.ci_high < 0)
        assert not (d.significant & ~excludes).any()
        if correction == "none" and test == "auto":
            assert (d.significant == excludes).all()
        if correction == "bonferroni" and test == "auto":
            sim = (d.ci_low_simultaneous > 0) | (d.ci_high_simultaneous < 0)
            np.testing.assert_array_equal(d.significant, sim)
        assert (d.ci_low_simultaneous <= d.ci_low).all()
        assert (d.ci_high_simultaneous >= d.ci_high).all()


def test_compare_default_is_score_for_prompts_and_bootstrap_for_superpopulation():
    data = _paired(40, 20, 0.8, 1)
    fixed = leakstats.compare(data, k=[1, 20], rng=0).to_frame()
    assert set(fixed.test) == {"score"}
    assert set(fixed.ci_method) == {
        "score interval at the cp-eb effective sample sizes (fixed prompts)"}
    mover_ = leakstats.compare(data, k=[1, 20], test="mover", rng=0).to_frame()
    assert set(mover_.test) == {"mover"}
    assert set(mover_.ci_method) == {"MOVER of the cp-eb intervals (fixed prompts)"}
    sup = leakstats.compare(data, k=[1, 20], population="superpopulation", rng=0).to_frame()
    assert set(sup.test) == {"paired-bootstrap"}


@pytest.mark.parametrize("test", ["score", "mover"])
def test_fixed_prompt_tests_refuse_the_superpopulation(test):
    with pytest.raises(ValueError, match=f"test: '{test}' builds the fixed-prompt"):
        leakstats.compare(_paired(10, 5, 1.0, 0), k=1, test=test,
                          population="superpopulation")
