"""plan(): sample sizes for estimating, comparing and certifying, checked by small seeded
simulations (the larger checks are in benchmarks/certify_bounds.py and
benchmarks/compare_calibration.py)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leakstats
from leakstats.certify import upper_bounds
from leakstats.compare import _paired_tests as ct
from leakstats.core.errors import LeakstatsError
from leakstats.estimate.intervals import arm_intervals
from leakstats.plan import _cp_half_width


def test_result_shape_and_frozen():
    res = leakstats.plan("estimate", k=[1, 8], n_prompts=400, half_width=0.02)
    frame = res.to_frame()
    assert list(frame.columns) == ["goal", "k", "n_prompts", "n_samples", "total_samples",
                                   "target", "achieved", "confidence_level", "assumptions"]
    assert frame["n_samples"].tolist() == [7, 49]
    assert (frame["total_samples"] == frame["n_prompts"] * frame["n_samples"]).all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.goal = "compare"
    assert repr(res).startswith("PlanResult(goal='estimate', confidence_level=0.95)")


# --------------------------------------------------------------------------- estimate


@pytest.mark.parametrize(("k", "leak", "hw"), [(1, 0.5, 0.02), (8, 0.1, 0.01), (32, 0.6, 0.05)])
def test_estimate_is_the_smallest_size_reaching_the_half_width(k, leak, hw):
    P = 100
    n = leakstats.plan("estimate", k=k, n_prompts=P, half_width=hw, leak=leak).to_frame()[
        "n_samples"].item()
    assert _cp_half_width(leak, P * n / k, 0.95) <= hw
    if n > k:
        assert _cp_half_width(leak, P * (n - 1) / k, 0.95) > hw
    # the cp-effective interval leak_at_k reports at that size, at the anticipated leak: the
    # same number; the default (cp-eb) is never wider
    p = -math.expm1(math.log1p(-leak) / k)
    c = np.random.default_rng(0).binomial(n, p, size=P)
    est = arm_intervals(np.full(P, n), c, np.array([k]), ci_method="cp-effective")
    assert (est.ci_high[0] - est.ci_low[0]) / 2 == pytest.approx(
        _cp_half_width(est.estimate[0], P * n / k, 0.95), rel=1e-9)
    sharp = arm_intervals(np.full(P, n), c, np.array([k]))
    assert sharp.ci_high[0] - sharp.ci_low[0] <= est.ci_high[0] - est.ci_low[0] + 1e-12


def test_estimate_fixed_samples_plans_prompts_and_both_given_reports():
    plan = leakstats.plan("estimate", k=4, n_samples=50, half_width=0.03, leak=0.2).to_frame()
    P = plan["n_prompts"].item()
    assert _cp_half_width(0.2, P * 50 / 4, 0.95) <= 0.03 < _cp_half_width(0.2, (P - 1) * 50 / 4,
                                                                          0.95)
    both = leakstats.plan("estimate", k=4, n_prompts=P, n_samples=50, half_width=0.03,
                          leak=0.2).to_frame()
    assert both["achieved"].item() == pytest.approx(plan["achieved"].item())


def test_estimate_superpopulation():
    res = leakstats.plan("estimate", k=1, n_samples=200, half_width=0.02, leak=0.3, spread=0.2,
                         population="superpopulation").to_frame()
    P = res["n_prompts"].item()
    z = 1.959963984540054
    var = (0.2**2 + (0.3 * 0.7 - 0.2**2) / 200) / P
    assert z * math.sqrt(var) <= 0.02 and res["achieved"].item() <= 0.02
    with pytest.raises(LeakstatsError, match=r"spread alone gives a half-width.*at least 386"):
        leakstats.plan("estimate", k=1, n_prompts=100, half_width=0.02, leak=0.3, spread=0.2,
                       population="superpopulation")


# --------------------------------------------------------------------------- compare


def test_compare_power_by_simulation():
    # planned power 0.8 at leak@1 0.3 vs 0.2 on 30 prompts; 300 simulated studies with the
    # permutation test; floor: target - 3 binomial sd
    plan = leakstats.plan("compare", k=1, n_prompts=30, leak_a=0.3, leak_b=0.2).to_frame()
    n = plan["n_samples"].item()
    assert plan["achieved"].item() >= 0.8
    rng = np.random.default_rng(1)
    R, hits, nn = 300, 0, np.full(30, n)
    for _ in range(R):
        ca, cb = rng.binomial(n, 0.3, 30), rng.binomial(n, 0.2, 30)
        hits += ct.permutation_test(nn, ca, nn, cb, np.array([1]), 199, rng)[0] < 0.05
    assert hits / R >= 0.8 - 3 * math.sqrt(0.8 * 0.2 / R)


def test_compare_monotone_and_multiplicity():
    one = leakstats.plan("compare", k=8, n_prompts=200, leak_a=0.4, leak_b=0.35).to_frame()
    many = leakstats.plan("compare", k=8, n_prompts=200, leak_a=0.4, leak_b=0.35,
                          n_comparisons=10).to_frame()
    assert many["n_samples"].item() > one["n_samples"].item()
    higher = leakstats.plan("compare", k=8, n_prompts=200, leak_a=0.4, leak_b=0.35,
                            power=0.95).to_frame()
    assert higher["n_samples"].item() > one["n_samples"].item()
    prompts = leakstats.plan("compare", k=8, n_samples=one["n_samples"].item(), leak_a=0.4,
                             leak_b=0.35).to_frame()
    assert prompts["n_prompts"].item() <= 200


# --------------------------------------------------------------------------- certify


def test_certify_zero_leaks_closed_form():
    res = leakstats.plan("certify", k=[1, 128], n_prompts=400, epsilon=0.01, p=0.0).to_frame()
    # zero leaks: certified iff N >= log(1/alpha') / -log(1 - p_eps), alpha' = alpha at k = 1
    # (pooled route alone) and alpha / 2 at k >= 2 (certify's split)
    for k, n, alpha in zip([1, 128], res["n_samples"], [0.05, 0.025], strict=True):
        p_eps = -math.expm1(math.log1p(-0.01) / k)
        need = math.log(1 / alpha) / -math.log1p(-p_eps)
        assert (n - 1) * 400 < need <= n * 400
    assert (res["achieved"] == 1.0).all()


def test_certify_probability_by_simulation():
    P, k, eps, p = 100, 16, 0.05, 1e-3
    plan = leakstats.plan("certify", k=k, n_prompts=P, epsilon=eps, p=p, power=0.8).to_frame()
    n = plan["n_samples"].item()
    rng = np.random.default_rng(3)
    R = 400
    ok = sum(upper_bounds(np.full(P, n), rng.binomial(n, p, P), np.array([k]))[0][0] <= eps
             for _ in range(R))
    assert ok / R >= 0.8 - 3 * math.sqrt(0.8 * 0.2 / R)
    given = leakstats.plan("certify", k=k, n_samples=n, epsilon=eps, p=p).to_frame()
    assert given["n_prompts"].item() <= P


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("guess",), {"n_prompts": 10}, "goal: 'guess' is not one of 'estimate'"),
        (("estimate",), {"n_prompts": 10, "half_width": 0.1, "epsilon": 0.1},
         r"epsilon: not an option of goal 'estimate' \(its options are"),
        (("estimate",), {"n_prompts": 10}, "half_width: required for this goal"),
        (("estimate",), {"half_width": 0.1}, "n_prompts, n_samples: give at least one"),
        (("estimate",), {"n_samples": 4, "k": 8, "half_width": 0.1}, r"n_samples: 4 < k = 8"),
        (("estimate",), {"n_prompts": 0, "half_width": 0.1}, "n_prompts: 0 is not an integer >= 1"),
        (("estimate",), {"n_prompts": 10, "half_width": 1.5}, r"half_width: 1.5 is not a number "
                                                                r"in \(0, 1\)"),
        (("compare",), {"n_prompts": 10, "leak_a": 0.2, "leak_b": 0.2}, "leak_a and leak_b are "
                                                                        "equal"),
        (("compare",), {"n_prompts": 10, "leak_a": 0.2}, "leak_b: required for this goal"),
        (("compare",), {"n_prompts": 10, "leak_a": 0.2, "leak_b": 0.1, "n_comparisons": 0},
         "n_comparisons: 0 is not an integer >= 1"),
        (("certify",), {"n_prompts": 10, "epsilon": 0.01, "p": 0.5},
         r"p: with a true per-sample leak probability of 0.5, leak@1 is 0.5 >= epsilon"),
        (("certify",), {"n_prompts": 10, "epsilon": 0.01, "p": -0.1}, r"p: -0.1 is not a number"
                                                                     r" in \[0, 1\)"),
        (("certify",), {"n_prompts": 10, "epsilon": 0.01, "p": 0, "k": "8"},
         "k: '8' is not an integer"),
    ],
)
def test_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        leakstats.plan(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 4, 16]), st.floats(0.02, 0.9), st.floats(0.005, 0.1),
       st.integers(20, 500))
def test_estimate_plan_reaches_its_target_and_is_monotone(k, leak, hw, P):
    plan = leakstats.plan("estimate", k=k, n_prompts=P, half_width=hw, leak=leak).to_frame()
    n = plan["n_samples"].item()
    assert n >= k and plan["achieved"].item() <= hw + 1e-12
    wider = leakstats.plan("estimate", k=k, n_prompts=P, half_width=hw * 1.5,
                           leak=leak).to_frame()
    assert wider["n_samples"].item() <= n


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([1, 8, 64]), st.floats(0.005, 0.2), st.floats(0.0, 0.9))
def test_certify_plan_reaches_its_target(k, eps, fraction):
    p = fraction * -math.expm1(math.log1p(-eps) / k)  # a true rate below the certifiable one
    plan = leakstats.plan("certify", k=k, n_prompts=50, epsilon=eps, p=p).to_frame()
    assert plan["achieved"].item() >= 0.8
