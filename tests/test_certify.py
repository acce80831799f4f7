"""certify(): closed forms, exact coverage by enumeration, the result, bad input.

The coverage and width study over a grid is benchmarks/certify_bounds.py; here the validity
claims are checked exactly, by enumerating every outcome of small designs.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import binom

import leakstats
from leakstats.certify import (
    kl_upper,
    per_prompt_bound,
    pooled_bound,
    upper_bounds,
    ustat_bound,
)
from leakstats.core.errors import DataValidationError, LeakstatsError


def zero_counts(P=400, n=200):
    return pd.DataFrame({"prompt_id": range(P), "n_samples": n, "n_leaked": 0})


# --------------------------------------------------------------------------- closed forms


def test_zero_leaks_closed_form():
    res = leakstats.certify(zero_counts(), k=[1, 8, 128, 1000], epsilon=0.01).to_frame()
    N, alpha = 80_000, 0.05
    # k = 1: Clopper-Pearson at alpha, 1 - alpha^(1/N)
    assert res["upper_bound"].iloc[0] == pytest.approx(-np.expm1(np.log(alpha) / N), rel=1e-9)
    # k >= 2: pooled route at alpha/2 (equal to the U-statistic route when k divides n)
    for k, bound in zip([8, 128, 1000], res["upper_bound"].iloc[1:], strict=True):
        assert bound == pytest.approx(-np.expm1(k * np.log(alpha / 2) / N), rel=1e-9)
    assert res["certified"].tolist() == [True, True, True, False]
    assert res["estimate"].iloc[:3].eq(0).all() and np.isnan(res["estimate"].iloc[3])
    assert (res["ci_low"] == 0).all() and (res["ci_high"] == res["upper_bound"]).all()


def test_kl_upper_matches_root_finding():
    for theta, m, alpha in [(0.0, 50, 0.05), (0.2, 40, 0.025), (0.9, 300, 0.01), (0.5, 1, 0.1)]:
        got = kl_upper(theta, m, alpha)[0]

        def f(t, theta=theta, m=m, alpha=alpha):
            kl = (theta * np.log(theta / t) if theta > 0 else 0.0) + (1 - theta) * np.log(
                (1 - theta) / (1 - t))
            return m * kl - np.log(1 / alpha)

        want = brentq(f, theta + 1e-15, 1 - 1e-15) if f(1 - 1e-15) > 0 else 1.0
        assert got == pytest.approx(want, abs=1e-10)
    assert kl_upper(1.0, 10, 0.05)[0] == 1.0


def test_union_is_scholten_at_alpha_over_p():
    n, c, ks = np.full(20, 50), np.arange(20) % 4, np.array([1, 8])
    union = per_prompt_bound(n, c, ks, 0.05, union=True)
    np.testing.assert_allclose(union, per_prompt_bound(n, c, ks, 0.05 / 20, union=False))
    assert (union > per_prompt_bound(n, c, ks, 0.05, union=False)).all()


def test_unequal_n_pooled_route_uses_n_min():
    n, c = np.array([10, 40]), np.array([0, 0])
    u = 1 - 0.05 ** (1 / 50)  # Clopper-Pearson on the pooled 0 / 50
    assert pooled_bound(n, c, [1], 0.05)[0] == pytest.approx(u * 50 / (2 * 10))


# --------------------------------------------------------------------------- exact coverage


def exact_coverages(ns, k, method, prob_grid, level=0.95):
    """For every p vector of ``prob_grid``: P(bound >= true leak@k), computed exactly by
    enumerating every outcome (c_1, ..., c_P)."""
    ns = np.asarray(ns)
    outcomes = np.array(list(itertools.product(*[range(n + 1) for n in ns])))
    bounds = np.array([upper_bounds(ns, cs, np.array([k]), confidence_level=level,
                                    bound=method)[0][0] for cs in outcomes])
    out = []
    for ps in prob_grid:
        ps = np.asarray(ps, dtype=float)
        truth = np.mean(1 - (1 - ps) ** k)
        prob = np.prod(binom.pmf(outcomes, ns, ps), axis=1)
        out.append(prob @ (bounds >= truth - 1e-12))
    return np.array(out)


PROBS = [0.0, 0.002, 0.05, 0.2, 0.5, 0.75]


@pytest.mark.parametrize("method", ["auto", "pooled", "u-statistic", "union"])
@pytest.mark.parametrize("ns", [(4, 4), (3, 5), (3, 3, 3)])
def test_exact_coverage_is_at_least_nominal(method, ns):
    grid = list(itertools.product(PROBS, repeat=len(ns)))
    worst = min(exact_coverages(ns, k, method, grid).min() for k in (1, 2, 3, 6))
    assert worst >= 0.95 - 1e-9


def test_seeded_coverage_heterogeneous():
    # 30 prompts, 5% of them leaking half the time: Jensen's gap is large, the U-statistic
    # route carries the bound. Binomial floor: 0.95 - 3 sd at R = 400.
    rng = np.random.default_rng(5)
    P, n, R = 40, 20, 400
    p = np.zeros(P)
    p[:2] = 0.5
    ks = np.array([1, 4, 16])
    truth = (1 - (1 - p[:, None]) ** ks).mean(axis=0)
    hits = np.zeros(ks.size)
    for _ in range(R):
        b, _ = upper_bounds(np.full(P, n), rng.binomial(n, p), ks)
        hits += b >= truth
    assert (hits / R >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / R)).all()


# --------------------------------------------------------------------------- tightness


def test_auto_is_tighter_than_the_per_prompt_bounds_on_typical_data():
    rng = np.random.default_rng(2)
    n = np.full(400, 200)
    for p in (np.zeros(400), np.full(400, 1e-3), np.where(rng.random(400) < 0.9, 0.0,
                                                          rng.beta(0.5, 50, 400))):
        c = rng.binomial(200, p)
        ks = np.array([1, 8, 128])
        auto = upper_bounds(n, c, ks)[0]
        assert (auto <= per_prompt_bound(n, c, ks, 0.05, union=False)).all()
        assert (auto <= per_prompt_bound(n, c, ks, 0.05, union=True)).all()


def test_u_statistic_route_wins_when_leaks_are_concentrated():
    n = np.full(400, 200)
    c = np.zeros(400, dtype=int)
    c[:20] = 100  # 5% of prompts leak half the time
    bound, routes = upper_bounds(n, c, np.array([128]))
    assert "U-statistic" in routes[0]
    assert bound[0] < 0.09 < pooled_bound(n, c, [128], 0.025)[0]
    assert bound[0] == pytest.approx(ustat_bound(n, c, [128], 0.025)[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 30)), min_size=1, max_size=12),
       st.sampled_from(["auto", "pooled", "u-statistic", "union", "scholten"]))
def test_bounds_in_unit_interval_and_increasing_in_k(pairs, method):
    n = np.array([max(a, b) for a, b in pairs])
    c = np.array([min(a, b) for a, b in pairs])
    ks = np.array([1, 2, 3, 5, 8, 40, 100])
    b = upper_bounds(n, c, ks, bound=method)[0]
    assert ((b >= 0) & (b <= 1)).all()
    assert (np.diff(b) >= -1e-12).all()
    estimate = (1 - (1 - c / n)[:, None] ** ks[None, :1]).mean()
    assert b[0] >= estimate - 1e-12  # the leak@1 bound is above the observed leak rate


# --------------------------------------------------------------------------- the result


def test_result_by_arm_and_repr():
    data = pd.concat([zero_counts(50, 20).assign(method="retrain"),
                      zero_counts(50, 20).assign(method="npo", n_leaked=[1] + [0] * 49)])
    res = leakstats.certify(data, k=[1, 32], epsilon=0.05)
    frame = res.to_frame()
    assert list(frame.columns) == [
        "method", "k", "estimate", "se", "ci_low", "ci_high", "confidence_level", "ci_method",
        "n_prompts", "n_samples", "population", "upper_bound", "route", "certified"]
    assert frame["method"].tolist() == ["npo", "npo", "retrain", "retrain"]
    assert (frame["population"] == "prompts").all()
    assert frame.query("method == 'npo'")["upper_bound"].gt(
        frame.query("method == 'retrain'")["upper_bound"].to_numpy()).all()
    text = repr(res)
    assert text.startswith("CertifyResult(one-sided upper bounds, confidence_level=0.95")
    assert "epsilon=0.05" in text
    assert "certified" not in leakstats.certify(data, k=1).to_frame().columns


def test_records_and_methods():
    records = pd.DataFrame({"prompt_id": np.repeat([1, 2, 3], 10), "leaked": False})
    a = leakstats.certify(records, k=[1, 4]).to_frame()
    b = leakstats.certify(leakstats.counts(records), k=[1, 4]).to_frame()
    pd.testing.assert_frame_equal(a, b)
    union = leakstats.certify(records, k=[1, 4], bound="union").to_frame()
    assert (union["upper_bound"] > a["upper_bound"]).all()
    assert union["ci_method"].str.contains("union bound").all()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence_level": 0.6}, "confidence_level: 0.6 is below 0.75"),
        ({"confidence_level": 1.0}, "confidence_level: 1.0 is not a number strictly between"),
        ({"bound": "hoeffding"}, "bound: 'hoeffding' is not one of 'auto'"),
        ({"epsilon": 0.0}, r"epsilon: 0.0 is not a number in \(0, 1\)"),
        ({"epsilon": True}, "epsilon: True is not a number"),
        ({"k": [1, -2]}, "k: -2 is not a positive integer"),
        ({"by": "model"}, "unknown arm column 'model'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        leakstats.certify(zero_counts(5, 4), **{"k": 1, **kwargs})


def test_bad_data():
    with pytest.raises(DataValidationError, match="the counts table is empty"):
        leakstats.certify(zero_counts().iloc[:0])
    bad = pd.DataFrame({"prompt_id": [1, 1], "leaked": [True, None]})
    with pytest.raises(DataValidationError, match="column 'leaked': missing value"):
        leakstats.certify(bad)
    with pytest.raises(LeakstatsError, match="expected a records or counts DataFrame"):
        leakstats.certify([1, 2, 3])
